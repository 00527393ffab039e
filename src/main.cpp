// airlock: run AI coding agents in containers while a host-side proxy holds the keys.
// main is wiring only: parse, dispatch, turn errors into exit codes.

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "cli/command.hpp"

#ifndef AIRLOCK_VERSION
#define AIRLOCK_VERSION "unknown"
#endif

namespace airlock::cli {

const Paths& Context::paths() {
    if (!paths_) {
        auto resolved = resolve_paths(home_flag);
        if (!resolved) throw CommandError(resolved.error().message);
        paths_ = std::move(resolved.value());
    }
    return *paths_;
}

namespace {

// The first word that is not an option or an option's value, when it names no command.
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--home") {
            ++i;
            continue;
        }
        if (arg.empty() || arg.front() == '-') continue;
        for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
            if (sub->get_name() == arg) return std::nullopt;
        return std::string(arg);
    }
    return std::nullopt;
}

}  // namespace
}  // namespace airlock::cli

int main(int argc, char** argv) {
    using namespace airlock::cli;
    Context ctx;

    CLI::App app{"airlock: run AI coding agents in Docker containers, one git worktree per\n"
                 "session, while a proxy on the host injects the real API credentials.",
                 "airlock"};
    app.set_version_flag("--version", "airlock " AIRLOCK_VERSION);
    app.add_option("--home", ctx.home_flag,
                   "data directory (default: $AIRLOCK_HOME, else ~/.airlock)");
    app.require_subcommand(1);
    app.footer("Run 'airlock <command> --help' for a command's options.");

    add_session_commands(app, ctx);
    add_ca_commands(app, ctx);
    add_config_commands(app, ctx);
    add_credential_commands(app, ctx);
    add_image_commands(app, ctx);
    add_proxy_commands(app, ctx);
    add_ui_commands(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (auto unknown = unknown_command(app, argc, argv)) {
            fmt::print(stderr, "airlock: error: unknown command '{}' (see 'airlock --help')\n", *unknown);
            return exit_usage;
        }
        fmt::print(stderr, "airlock: error: {} (see 'airlock --help')\n", e.what());
        return exit_usage;
    } catch (const CommandError& e) {
        fmt::print(stderr, "airlock: error: {}\n", e.what());
        return e.code();
    } catch (const std::exception& e) {
        fmt::print(stderr, "airlock: error: {}\n", e.what());
        return exit_failure;
    }
    return ctx.exit_code;
}
