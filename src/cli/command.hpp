#pragma once
// The CLI's wiring: each command group registers its subcommands on the app and
// gets the shared Context. A command returns an exit code or throws CommandError;
// main turns errors into one stderr line and an exit code in one place.

#include <optional>
#include <stdexcept>
#include <string>

#include "paths.hpp"

namespace CLI { class App; }

namespace airlock::cli {

// exit_not_running: `proxy status` when no proxy runs (so scripts can tell "down" from "broken").
enum ExitCode : int { exit_ok = 0, exit_failure = 1, exit_usage = 2, exit_not_running = 3 };

// A failure to report as "airlock: error: <message>" with the given exit code.
class CommandError : public std::runtime_error {
public:
    explicit CommandError(const std::string& message, int code = exit_failure)
        : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

// Global options and lazily resolved paths, shared by every command.
class Context {
public:
    std::optional<std::string> home_flag;
    int exit_code = exit_ok;  // set by a command that fails without an error line

    // The data directory layout; throws CommandError when no home can be found.
    const Paths& paths();

private:
    std::optional<Paths> paths_;
};

void add_ca_commands(CLI::App& app, Context& ctx);
void add_config_commands(CLI::App& app, Context& ctx);
void add_credential_commands(CLI::App& app, Context& ctx);  // credential add|list|remove, init
void add_image_commands(CLI::App& app, Context& ctx);       // image build
void add_proxy_commands(CLI::App& app, Context& ctx);
void add_session_commands(CLI::App& app, Context& ctx);
void add_ui_commands(CLI::App& app, Context& ctx);  // ui (the dashboard)

}  // namespace airlock::cli
