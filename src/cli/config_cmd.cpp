// airlock config show | init | path

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>

#include "cli/command.hpp"
#include "config.hpp"

namespace airlock::cli {

void add_config_commands(CLI::App& app, Context& ctx) {
    auto* config_cmd = app.add_subcommand("config", "the configuration file $AIRLOCK_HOME/config.toml");
    config_cmd->require_subcommand(1);

    auto* show = config_cmd->add_subcommand(
        "show", "validate the configuration and print the effective settings (secrets masked)");
    show->callback([&ctx] {
        auto config = load_config(ctx.paths().config());
        if (!config) throw CommandError(config.error().message);
        fmt::print("{}", render_config(*config));
    });

    auto* init = config_cmd->add_subcommand("init", "write a commented starter config.toml");
    auto force = std::make_shared<bool>(false);
    init->add_flag("--force", *force, "overwrite an existing config.toml");
    init->callback([&ctx, force] {
        auto file = ctx.paths().config();
        auto written = write_starter_config(file, *force);
        if (!written) throw CommandError(written.error().message);
        fmt::print("wrote {}\n", file.string());
    });

    auto* path = config_cmd->add_subcommand("path", "print the configuration file's path");
    path->callback([&ctx] { fmt::print("{}\n", ctx.paths().config().string()); });
}

}  // namespace airlock::cli
