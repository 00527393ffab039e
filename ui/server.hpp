#pragma once
// The dashboard's server (airlock ui): HTTP and WebSocket on 127.0.0.1 (Beast), the page's
// files, the JSON API, live updates as Server-Sent Events, the agent's terminal and logs
// over WebSockets. Asio and Beast stay behind this header.
//
// Threads: one I/O thread owns the sockets, the gate (tokens, cookies), the audit index and
// the live-update hub; engine and store work (list, create, stop, diff, stats, attach) runs
// on a small pool, each call with a Workspace of its own (the same World the CLI opens), so
// a slow create never stalls the page. One thread follows the engine's container events
// (state changes reach the page without polling); the audit file is looked at once a second
// (an fstat) and the proxy's status every 2 s, only while a page is connected.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "backends/backend.hpp"
#include "session/create_options.hpp"
#include "session/manager.hpp"

namespace airlock::ui {

// What the dashboard asks of the rest of airlock for one operation, on one pool thread
// (src/ implements it over the CLI's World, so every action is the CLI's code).
class Workspace {
public:
    virtual ~Workspace() = default;
    virtual session::SessionManager& manager() = 0;
    virtual Backend& backend() = 0;
    virtual const Config& config() const = 0;
    virtual const std::string& home_id() const = 0;
    // The options checked and completed exactly as `airlock create` does (error: bad input).
    virtual Result<session::CreateRequest> create_request(const session::CreateOptions& options) = 0;
    // The proxy up before an agent starts (create, start, refresh), as the CLI does.
    virtual Status ensure_proxy() = 0;
    // After create, start and refresh: what brings the branch across when the agent exits.
    virtual void watch(const std::string& session, const std::string& container_id) = 0;
    // Where a rule's secret comes from ("env ANTHROPIC_API_KEY"); never the value.
    virtual std::string describe_source(const CredentialRule& rule) const = 0;
};

// Opens a Workspace; `for_create`: one that can build containers (CA, git identity).
using OpenWorkspace = std::function<Result<std::unique_ptr<Workspace>>(bool for_create)>;

struct ProxyStatus {
    bool running = false;
    long pid = 0;
    std::string note;        // "" or why it is down and what to do
    std::string stats_json;  // the proxy's control-socket answer (one JSON object), "" if none
};

struct ServerOptions {
    std::uint16_t port = 7070;              // 0 = any free port (tests)
    std::filesystem::path audit_log;        // $AIRLOCK_HOME/audit.jsonl
    std::filesystem::path control_socket;   // answers each connection with a new sign-in link; "" = none
    std::filesystem::path assets_dir;       // serve the page from here; "" = the embedded copies
    std::string repo;                       // where sessions are created unless a request names one
    std::string version;
    OpenWorkspace open;
    std::function<ProxyStatus()> proxy_status;
    std::function<void(const std::string&)> log;  // one line per event
};

class Server {
public:
    // Binds 127.0.0.1:port and the control socket (mode 0600); reads the audit log.
    static Result<std::unique_ptr<Server>> create(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const;
    // A new one-time sign-in token. Call before run() (or from the I/O thread).
    std::string issue_token();
    // "http://127.0.0.1:PORT/?token=..."
    std::string sign_in_url(const std::string& token) const;
    // Serves until stop() or SIGTERM/SIGINT.
    void run();
    void stop();

private:
    struct Impl;
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Asks the server behind `control_socket` for a new sign-in link (airlock ui, run again):
// "http://127.0.0.1:PORT/?token=...".
Result<std::string> request_sign_in_url(const std::filesystem::path& control_socket);

}  // namespace airlock::ui
