#pragma once
// Internal to proxy/: what the pieces serving a client connection share — the accept side
// (server.cpp), interception (intercept.hpp) and forwarding (forward.hpp): the current
// rules snapshot, the audit and event logs, the leaf certificate cache, deadlines and
// counters (Context); a worker thread's own state (Worker); what stop() needs of one
// connection (Connection); and the authenticated client a piece serves (ClientConn).
// Asio and Beast are fine here; server.hpp, the public header, stays free of them.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <fmt/core.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "airlock/settings.hpp"
#include "ca/ca.hpp"
#include "proxy/audit.hpp"
#include "proxy/client_auth.hpp"
#include "proxy/io.hpp"
#include "proxy/login_broker.hpp"
#include "proxy/policy.hpp"
#include "proxy/proxy_auth.hpp"
#include "proxy/reply.hpp"
#include "proxy/rules.hpp"
#include "proxy/secrets.hpp"
#include "proxy/upstream.hpp"
#include "proxy/upstream_pool.hpp"

namespace airlock::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
// A client connection over a unix socket listener; served exactly like a TCP one
// (tcp_stream, upstream.hpp).
using unix_stream = beast::basic_stream<asio::local::stream_protocol>;

// One snapshot of rules and secrets. Replaced whole on reload, with the next generation;
// every intercepted request is decided against the snapshot current when it arrives.
struct Runtime {
    std::uint64_t generation = 0;
    Config config;
    SecretSet secrets;
    std::vector<std::string> secret_values;
    std::shared_ptr<asio::ssl::context> upstream_tls;
    std::filesystem::path extra_ca;  // [proxy] upstream_ca resolved ("" = none)
};

// Bodies up to this size that arrive together with their head are written with it.
constexpr std::uint64_t coalesce_limit = 16 * 1024;

struct Worker {
    asio::io_context ioc{1};
    std::optional<ClientAuth> auth;  // created with the worker; used only on its thread
    // Idle upstream TLS connections after a complete exchange, for the same client's next
    // request to the same host under the same rule and configuration (upstream_pool.hpp).
    UpstreamPool<tls_stream> pool;
    std::thread thread;
};

// An idle TLS connection the peer has not closed: nothing to read yet (no FIN, no alert).
inline bool idle_and_open(tls_stream& s) {
    char byte;
    auto n = ::recv(beast::get_lowest_layer(s).socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

inline std::unique_ptr<tls_stream> take_pooled(Worker& w, const UpstreamKey& key) {
    return w.pool.take(key, Clock::now(), idle_and_open);
}

inline void put_pooled(Worker& w, const UpstreamKey& key, std::unique_ptr<tls_stream> s) {
    beast::get_lowest_layer(*s).expires_never();
    w.pool.put(key, std::move(s), Clock::now());  // when full, closed here
}

// What stop() needs to know of one connection. Touched only on its worker's thread, except
// through posts to that thread.
struct Connection {
    // The client's lowest layer (TCP or unix socket), for cancel() and close().
    std::function<void()> cancel, close;
    template <class Lowest>
    void watch(Lowest& s) {
        cancel = [&s] { s.cancel(); };
        close = [&s] { s.close(); };
    }
    bool idle = false;  // waiting for the next request on a keep-alive connection
    bool evicted = false;  // taken off Impl::unauthenticated to be closed (connections_mutex)
    bool head_seen = false;  // its first head arrived: never evicted any more (connections_mutex)
    asio::any_io_executor executor;
};

// The authenticated client a piece serves, on its worker.
struct ClientConn {
    const ClientScope& who;
    const ProxyCredentials& creds;  // as given at CONNECT, checked again per request
    Worker& worker;
    Connection& conn;
};

// The shared state of the server (Server::Impl extends it). Thread-safe: the snapshot
// under its mutex, counters atomic, the leaf cache and audit log lock themselves.
struct Context {
    Deadlines deadlines;
    std::unique_ptr<ca::LeafCache> leaves;
    std::unique_ptr<AuditLog> audit;
    std::function<void(const std::string&)> log_sink;  // may be empty

    mutable std::mutex runtime_mutex;
    std::shared_ptr<const Runtime> runtime;  // guarded by runtime_mutex

    std::atomic<std::uint64_t> requests{0}, upstream_handshakes{0}, upstream_resumed{0};
    std::atomic<bool> stopping{false};
    // Subscription logins: current tokens and their refreshes (login_broker.hpp). Declared
    // last, so its thread stops before the rest goes.
    std::unique_ptr<LoginBroker> logins;

    void configure_logins(const Runtime& rt) {
        std::vector<std::pair<std::string, LoginProvider>> in_force;
        for (const auto& rule : rt.config.credentials)
            if (auto p = login_provider(rule.login)) in_force.emplace_back(rule.name, *p);
        logins->configure(std::move(in_force), rt.config.proxy, rt.extra_ca);
    }

    std::shared_ptr<const Runtime> snapshot() const {
        std::lock_guard lock(runtime_mutex);
        return runtime;
    }

    // One line to the event log, every current secret redacted.
    void log(const std::string& line) const {
        if (!log_sink) return;
        auto rt = snapshot();
        log_sink(rt ? redact(line, rt->secret_values) : line);
    }

    void write_audit(const AuditRecord& r) {
        if (!audit) return;
        if (auto st = audit->write(r); !st) log(fmt::format("audit log: {}", st.error().message));
    }
};

inline std::uint64_t ms_since(Clock::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

inline FailureKind error_kind(const error_code& ec) {
    if (ec == beast::error::timeout) return FailureKind::timeout;
    return FailureKind::reset;
}

inline AuditRecord record_for(const std::string& client, std::string_view method, const std::string& host,
                              std::uint16_t port, Decision::Kind decision) {
    AuditRecord r;
    r.time = std::chrono::system_clock::now();
    r.client = client;
    r.method = std::string(method);
    r.host = host;
    r.port = port;
    r.decision = decision;
    return r;
}

template <class Stream>
asio::awaitable<void> send_reply(Stream& s, const std::string& reply) {
    co_await io::write_all(s, asio::buffer(reply), std::chrono::seconds(10));
}

}  // namespace airlock::proxy
