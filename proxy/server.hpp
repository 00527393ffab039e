#pragma once
// The credential proxy server: listeners, CONNECT handling, interception and tunnelling.
// Asio and Beast stay behind this header (pimpl) so that src/ compiles quickly.
//
// Lifetime: create() binds the listeners (errors: address in use, no CA, a secret that
// cannot be loaded); run() serves on `threads` worker threads, one io_context each, and
// returns after stop(). stop(), reload() and stats() may be called from any thread,
// including a signal-handling one.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"

namespace airlock::proxy {

// Re-reads the configuration (for reload); the proxy never parses TOML itself.
using ConfigLoader = std::function<Result<Config>()>;

struct ServerOptions {
    // Where the proxy's state lives; src/ fills these from Paths (the proxy derives no path
    // of the data directory's layout itself).
    std::filesystem::path ca_dir;        // the CA (ca.pem, ca-key.pem), read-only
    std::filesystem::path client_store;  // sessions.db: the proxy clients, read-only
    std::filesystem::path audit_log;     // audit.jsonl, rotated beside itself
    // The directory relative paths in the configuration (secret files, [proxy] upstream_ca)
    // are relative to: the data directory, as docs/configuration.md says.
    std::filesystem::path relative_base;
    // The data directory whose logins/ holds the imported subscription logins
    // (login_store.hpp); the proxy's broker refreshes them there.
    std::filesystem::path logins_home;
    Config config;                     // initial configuration
    ConfigLoader reload_config;        // may be empty: reload then only re-reads secrets
    std::vector<std::string> listen;   // IP addresses; empty = config.proxy.listen, else 127.0.0.1
    std::uint16_t port_override = 0;   // 0 = config.proxy.port; tests pass a free port
    // Unix socket listeners, served exactly like TCP connections (CONNECT, plain HTTP, the
    // same authentication). Each socket file is created with `unix_listen_mode` (set at
    // creation, never widened afterwards); a stale socket file at the path is replaced, any
    // other file there is an error. Removed again by stop().
    std::vector<std::filesystem::path> unix_listen;
    unsigned unix_listen_mode = 0660;
    std::function<void(const std::string&)> log;  // one line per event; secrets never appear
    // A unix socket answering every connection with the stats as one JSON line (for
    // `airlock proxy status`); empty = none.
    std::filesystem::path control_socket;
};

struct ServerStats {
    std::vector<std::string> addresses;  // "127.0.0.1:3030", "unix:/path/to/socket"
    std::chrono::system_clock::time_point started;
    std::uint64_t open_connections = 0;
    std::uint64_t total_connections = 0;
    std::uint64_t requests = 0;  // intercepted requests + tunnels + plain-HTTP requests
    std::uint64_t reloads = 0;
    std::uint64_t upstream_handshakes = 0;  // TLS handshakes with upstreams (intercepted hosts)
    std::uint64_t upstream_resumed = 0;     // of which resumed a cached session
};

class Server {
public:
    static Result<std::unique_ptr<Server>> create(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves until stop(); handles SIGTERM/SIGINT (stop) and SIGHUP (reload) itself.
    void run();

    // Stops accepting, closes idle keep-alive connections, lets requests in flight finish
    // within `grace`, then closes whatever remains.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

    // Re-reads rules and secrets; open connections keep theirs until their next CONNECT.
    // On error the previous rules stay in force.
    Status reload();

    ServerStats stats() const;
    std::vector<std::string> addresses() const;

private:
    struct Impl;
    static ServerStats stats_of(const Impl& impl);
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The stats as one JSON object on one line.
std::string stats_json(const ServerStats& stats);

}  // namespace airlock::proxy
