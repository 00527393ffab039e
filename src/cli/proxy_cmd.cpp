// airlock proxy run | start | stop | status | reload, and proxy client add | list | remove

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cli/command.hpp"
#include "config.hpp"
#include "proxy/clients.hpp"
#include "proxy/server.hpp"
#include "proxy_log.hpp"
#include "proxy_process.hpp"
#include "bridge_addresses.hpp"
#include "proxy_reload.hpp"
#include "proxy_supervisor.hpp"

namespace airlock::cli {
namespace {

Config load_or_throw(const Paths& paths) {
    auto config = load_config(paths.config());
    if (!config) throw CommandError(config.error().message);
    return std::move(*config);
}

// airlock proxy run: the server in the foreground. With --ready-fd, writes "ready\n" to that
// descriptor once listening (how the supervisor knows it may report success). With
// --log-file, logs there (rotated) instead of to stderr; either way one line per message,
// control characters escaped.
void run_proxy(Context& ctx, int ready_fd, std::uint16_t port, const std::string& log_file,
               const std::vector<std::string>& unix_listen) {
    const auto& paths = ctx.paths();
    std::shared_ptr<ProxyLog> file;
    if (!log_file.empty()) {
        // A test hook: a small limit shows the rotation without writing 10 MiB.
        std::uint64_t max_bytes = kProxyLogMaxBytes;
        if (const char* v = std::getenv("AIRLOCK_PROXY_LOG_MAX_BYTES"); v && *v) max_bytes = std::strtoull(v, nullptr, 10);
        auto opened = ProxyLog::open(log_file, std::max<std::uint64_t>(max_bytes, 1024), kProxyLogKeep, true);
        if (!opened) throw CommandError(opened.error().message);
        file = std::move(*opened);
    }
    auto log = [file](const std::string& line) {
        if (file) file->write("proxy", line);
        else fmt::print(stderr, "{}", format_log_line(std::chrono::system_clock::now(), "proxy", line));
    };
    auto config = load_config(paths.config());
    if (!config) {
        log(config.error().message);  // the supervisor's starter shows the log's last line
        throw CommandError(config.error().message);
    }
    proxy::ServerOptions options;
    options.ca_dir = paths.ca_dir();
    options.client_store = paths.store();
    options.audit_log = paths.audit_log();
    options.relative_base = paths.home;
    options.logins_home = paths.home;
    options.config = *config;
    options.port_override = port;
    // Default addresses: loopback and the Docker bridge gateway(s), where containers on
    // Docker's bridge network reach the host.
    options.listen = config->proxy.listen;
    if (options.listen.empty()) {
        options.listen.push_back("127.0.0.1");
        for (auto& a : docker_bridge_addresses()) options.listen.push_back(a);
    }
    for (const auto& p : unix_listen) options.unix_listen.emplace_back(p);
    // Confined sessions reach the proxy only here (their containers mount run/, 0700).
    if (auto fits = check_socket_path(paths.proxy_socket()); !fits) {
        log("confined sessions cannot reach this proxy: " + fits.error().message);
    } else {
        if (auto st = ensure_run_dir(paths); !st) throw CommandError(st.error().message);
        options.unix_listen.push_back(paths.proxy_socket());
    }
    options.control_socket = paths.control_socket();
    options.reload_config = [file = paths.config()] { return load_config(file); };
    options.log = log;

    auto server = proxy::Server::create(std::move(options));
    if (!server) {
        log(server.error().message);
        throw CommandError(server.error().message);
    }

    auto pid_written = write_pid_file(paths.proxy_pid());
    if (!pid_written) throw CommandError(pid_written.error().message);
    if (ready_fd >= 0) {
        auto addresses = (*server)->addresses();
        std::string line = fmt::format("ready {}\n", fmt::join(addresses, " "));
        (void)!::write(ready_fd, line.data(), line.size());
        ::close(ready_fd);
    }
    (*server)->run();
    remove_pid_file(paths.proxy_pid());
    log("stopped");
}

// False when the proxy is not running.
bool print_status(const Paths& paths) {
    auto running = running_proxy(paths);
    auto supervisor = running_supervisor(paths);
    if (!running) {
        fmt::print("{}\n", proxy_down_note(paths));
        return false;
    }
    auto stats = query_status(paths.control_socket());
    fmt::print("proxy: running, pid {}{}\n", *running,
               supervisor ? fmt::format(" (supervisor pid {})", *supervisor)
                          : std::string(" (no supervisor: it will not come back by itself if it dies)"));
    if (!stats) {
        fmt::print("status: {}\n", stats.error().message);
        return true;
    }
    fmt::print("{}", *stats);
    return true;
}

}  // namespace

void add_proxy_commands(CLI::App& app, Context& ctx) {
    auto* proxy_cmd = app.add_subcommand("proxy", "the credential proxy (runs on the host)");
    proxy_cmd->require_subcommand(1);

    auto* run = proxy_cmd->add_subcommand("run", "run the proxy in the foreground, logging to stderr");
    auto ready_fd = std::make_shared<int>(-1);
    auto port = std::make_shared<std::uint16_t>(0);
    auto log_file = std::make_shared<std::string>();
    run->add_option("--ready-fd", *ready_fd, "write 'ready' to this descriptor once listening")->group("");
    run->add_option("--log-file", *log_file, "log to this file (rotated) instead of stderr")->group("");
    run->add_option("--port", *port, "listen on this port instead of [proxy] port");
    auto unix_listen = std::make_shared<std::vector<std::string>>();
    run->add_option("--listen-unix", *unix_listen,
                    "also listen on this unix socket (mode 0660; a stale socket file is replaced); repeatable");
    run->callback([&ctx, ready_fd, port, log_file, unix_listen] {
        if (auto pid = running_proxy(ctx.paths()))
            throw CommandError(fmt::format("the proxy is already running (pid {}); stop it with 'airlock proxy stop'", *pid));
        run_proxy(ctx, *ready_fd, *port, *log_file, *unix_listen);
    });

    // What `proxy start` runs in the background: keeps `proxy run` going (proxy_supervisor.hpp).
    auto* supervise = proxy_cmd->add_subcommand("supervise", "")->group("");
    auto sup_ready_fd = std::make_shared<int>(-1);
    auto sup_port = std::make_shared<std::uint16_t>(0);
    supervise->add_option("--ready-fd", *sup_ready_fd, "write 'ready' to this descriptor once the proxy listens");
    supervise->add_option("--port", *sup_port, "listen on this port instead of [proxy] port");
    supervise->callback([&ctx, sup_ready_fd, sup_port] {
        ctx.exit_code = run_supervisor(ctx.paths(), *sup_ready_fd, *sup_port);
    });

    auto* start = proxy_cmd->add_subcommand("start", "start the proxy in the background; returns once it listens");
    auto start_port = std::make_shared<std::uint16_t>(0);
    start->add_option("--port", *start_port, "listen on this port instead of [proxy] port");
    start->callback([&ctx, start_port] {
        auto started = start_proxy(ctx.paths(), *start_port);
        if (!started) throw CommandError(started.error().message);
        fmt::print("{}\n", *started);
    });

    auto* stop = proxy_cmd->add_subcommand("stop", "stop the proxy; open requests get time to finish");
    auto grace = std::make_shared<int>(10);
    stop->add_option("--grace", *grace, "seconds open requests get to finish (default 10)");
    stop->callback([&ctx, grace] {
        auto stopped = stop_proxy(ctx.paths(), std::chrono::seconds(*grace));
        if (!stopped) throw CommandError(stopped.error().message);
        fmt::print("{}\n", *stopped);
    });

    auto* status = proxy_cmd->add_subcommand("status", "pid, addresses, uptime, connections, requests");
    status->callback([&ctx] {
        if (!print_status(ctx.paths())) ctx.exit_code = exit_not_running;
    });

    auto* reload = proxy_cmd->add_subcommand("reload", "re-read credential rules and secrets (same as SIGHUP)");
    reload->callback([&ctx] {
        auto pid = running_proxy(ctx.paths());
        if (!pid) throw CommandError("the proxy is not running; start it with 'airlock proxy start'");
        // Validate first so a broken config is reported here, not only in proxy.log; then wait
        // for the proxy's answer (a secret it cannot load names the rule and the fix).
        (void)load_or_throw(ctx.paths());
        auto reloaded = reload_running_proxy(ctx.paths());
        if (!reloaded) throw CommandError(reloaded.error().message);
        if (*reloaded == ReloadOutcome::not_running)
            throw CommandError("the proxy is not running; start it with 'airlock proxy start'");
        fmt::print("the proxy (pid {}) reloaded its rules and secrets\n", *pid);
    });

    auto* client = proxy_cmd->add_subcommand("client", "who may use the proxy (sessions get their own)");
    client->require_subcommand(1);

    auto* add = client->add_subcommand("add", "add a client and print its proxy URL (shown once)");
    auto name = std::make_shared<std::string>();
    auto creds = std::make_shared<std::vector<std::string>>();
    auto host = std::make_shared<std::string>("127.0.0.1");
    add->add_option("name", *name, "client name ([a-z0-9._-])")->required();
    add->add_option("--credentials", *creds, "credential rules it may use (default: all)")->delimiter(',');
    add->add_option("--host", *host, "host part of the printed URL (default 127.0.0.1; "
                                     "containers use host.docker.internal)");
    add->callback([&ctx, name, creds, host] {
        const auto& paths = ctx.paths();
        auto config = load_or_throw(paths);
        for (const auto& c : *creds) {
            bool known = false;
            for (const auto& rule : config.credentials) known = known || rule.name == c;
            if (!known)
                throw CommandError(fmt::format("--credentials: no [[credential]] named '{}' in {}", c,
                                               paths.config().string()),
                                   exit_usage);
        }
        auto store = proxy::ClientStore::open(paths.store(), proxy::ClientStore::Mode::read_write);
        if (!store) throw CommandError(store.error().message);
        auto token = store->add(*name, *creds);
        if (!token) throw CommandError(token.error().message);
        fmt::print("http://{}:{}@{}:{}\n", *name, *token, *host, config.proxy.port);
        fmt::print(stderr, "the token is shown only this once; remove the client with 'airlock proxy client remove {}'\n",
                   *name);
    });

    auto* list = client->add_subcommand("list", "list clients (never their tokens)");
    list->callback([&ctx] {
        auto store = proxy::ClientStore::open(ctx.paths().store(), proxy::ClientStore::Mode::read_write);
        if (!store) throw CommandError(store.error().message);
        auto clients = store->list();
        if (!clients) throw CommandError(clients.error().message);
        fmt::print("{:<24} {:<24} {:<20} {}\n", "NAME", "CREDENTIALS", "CREATED", "SESSION");
        for (const auto& c : *clients)
            fmt::print("{:<24} {:<24} {:<20} {}\n", c.name,
                       c.credentials.empty() ? std::string("(all)") : fmt::format("{}", fmt::join(c.credentials, ",")),
                       c.created_at, c.session.value_or("-"));
    });

    auto* remove = client->add_subcommand("remove", "remove a client; its next request is refused");
    auto remove_name = std::make_shared<std::string>();
    remove->add_option("name", *remove_name, "client name")->required();
    remove->callback([&ctx, remove_name] {
        auto store = proxy::ClientStore::open(ctx.paths().store(), proxy::ClientStore::Mode::read_write);
        if (!store) throw CommandError(store.error().message);
        if (auto st = store->remove(*remove_name); !st) throw CommandError(st.error().message);
        fmt::print("removed proxy client {}\n", *remove_name);
    });
}

}  // namespace airlock::cli
