#include "proxy/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "airlock/home_path.hpp"
#include "ca/ca.hpp"
#include "proxy/audit.hpp"
#include "proxy/client_auth.hpp"
#include "proxy/clients.hpp"
#include "proxy/framing.hpp"
#include "proxy/hosts.hpp"
#include "proxy/http_request.hpp"
#include "proxy/io.hpp"
#include "proxy/policy.hpp"
#include "proxy/proxy_auth.hpp"
#include "proxy/reply.hpp"
#include "proxy/rules.hpp"
#include "proxy/login_broker.hpp"
#include "proxy/login_hook.hpp"
#include "proxy/secrets.hpp"
#include "proxy/upstream.hpp"
#include "proxy/upstream_pool.hpp"

namespace airlock::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using unix_proto = asio::local::stream_protocol;
// A client connection over a unix socket listener; served exactly like a TCP one.
using unix_stream = beast::basic_stream<unix_proto>;
using error_code = boost::system::error_code;
using io::token;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

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

Result<std::shared_ptr<const Runtime>> build_runtime(Config config, const std::filesystem::path& home,
                                                     std::uint64_t generation) {
    auto runtime = std::make_shared<Runtime>();
    runtime->generation = generation;
    auto secrets = load_secrets(config.credentials, home);
    if (!secrets) return secrets.error();
    std::filesystem::path extra_ca;
    if (!config.proxy.upstream_ca.empty()) {
        const char* user_home = std::getenv("HOME");
        auto path = configured_path(config.proxy.upstream_ca, home,
                                    user_home ? std::optional<std::string>(user_home) : std::nullopt,
                                    "[proxy] upstream_ca");
        if (!path) return path.error();
        extra_ca = std::move(*path);
    }
    auto tls = make_upstream_tls_context(extra_ca);
    if (!tls) return tls.error();
    runtime->config = std::move(config);
    runtime->secrets = std::move(*secrets);
    runtime->secret_values = runtime->secrets.values();
    runtime->upstream_tls = std::move(*tls);
    runtime->extra_ca = extra_ca;
    return std::shared_ptr<const Runtime>(std::move(runtime));
}

// Bodies up to this size that arrive together with their head are written with it.
constexpr std::uint64_t coalesce_limit = 16 * 1024;

// Binds and listens on a unix socket at `path` whose file is created with `mode`: the
// umask is narrowed around bind(), so the socket is never reachable with wider permissions
// (runs in create(), before any worker thread exists). A stale socket file is replaced; a
// path holding anything else is an error, never removed.
Status listen_unix(unix_proto::acceptor& acceptor, const std::filesystem::path& path, unsigned mode, int backlog) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return make_error(fmt::format("cannot listen on {}: it exists and is not a socket; remove it or "
                                          "choose another path", path.string()));
        ::unlink(path.c_str());
    }
    error_code ec;
    unix_proto::endpoint ep(path.string());
    acceptor.open(ep.protocol(), ec);
    if (!ec) {
        auto old = ::umask(~static_cast<mode_t>(mode) & 0777);
        acceptor.bind(ep, ec);
        ::umask(old);
    }
    if (!ec) acceptor.listen(backlog, ec);
    if (ec) return make_error(fmt::format("cannot listen on {}: {}", path.string(), ec.message()));
    return {};
}

std::uint64_t ms_since(Clock::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

FailureKind error_kind(const error_code& ec) {
    if (ec == beast::error::timeout) return FailureKind::timeout;
    return FailureKind::reset;
}

}  // namespace


// ---------------------------------------------------------------------------------------

struct Worker {
    asio::io_context ioc{1};
    std::optional<ClientAuth> auth;  // created with the worker; used only on its thread
    // Idle upstream TLS connections after a complete exchange, for the same client's next
    // request to the same host under the same rule and configuration (upstream_pool.hpp).
    UpstreamPool<tls_stream> pool;
    std::thread thread;
};

// An idle TLS connection the peer has not closed: nothing to read yet (no FIN, no alert).
bool idle_and_open(tls_stream& s) {
    char byte;
    auto n = ::recv(beast::get_lowest_layer(s).socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<tls_stream> take_pooled(Worker& w, const UpstreamKey& key) {
    return w.pool.take(key, Clock::now(), idle_and_open);
}

void put_pooled(Worker& w, const UpstreamKey& key, std::unique_ptr<tls_stream> s) {
    beast::get_lowest_layer(*s).expires_never();
    w.pool.put(key, std::move(s), Clock::now());  // when full, closed here
}

// What stop() needs to know of one connection. Touched only on its worker's thread, except
// through posts to that thread.
constexpr std::size_t max_unauthenticated = 64;

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

// Who is on the other end, for rate-limiting refusals per source: the IP address of a TCP
// peer; every unix socket peer is one source ("unix").
template <class Socket>
std::string peer_text(Socket& socket) {
    if constexpr (std::is_same_v<typename Socket::protocol_type, asio::local::stream_protocol>) {
        return "unix";
    } else {
        error_code ec;
        auto ep = socket.remote_endpoint(ec);
        return ec ? std::string("unknown") : ep.address().to_string();
    }
}

struct Server::Impl {
    ServerOptions opts;
    Deadlines deadlines;
    std::shared_ptr<const ca::Authority> authority;
    std::unique_ptr<ca::LeafCache> leaves;
    std::unique_ptr<AuditLog> audit;
    std::unique_ptr<LoginBroker> logins;  // subscription logins: current tokens, refreshes

    void configure_logins(const Runtime& rt) {
        std::vector<std::pair<std::string, LoginProvider>> in_force;
        for (const auto& rule : rt.config.credentials)
            if (auto p = login_provider(rule.login)) in_force.emplace_back(rule.name, *p);
        logins->configure(std::move(in_force), rt.config.proxy, rt.extra_ca);
    }

    mutable std::mutex runtime_mutex;
    std::shared_ptr<const Runtime> runtime;  // guarded by runtime_mutex

    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<tcp::acceptor> acceptors;  // on workers[0]
    std::vector<unix_proto::acceptor> unix_acceptors;  // on workers[0]
    std::optional<asio::local::stream_protocol::acceptor> control;  // on workers[0]
    std::vector<std::string> addresses;
    std::unique_ptr<asio::signal_set> signals;
    std::atomic<std::size_t> next_worker{0};
    std::atomic<std::uint64_t> generations{1};  // the last configuration generation handed out

    std::atomic<std::uint64_t> authenticated{0};  // open connections past authentication
    std::atomic<std::uint64_t> open{0}, total{0}, requests{0}, reloads{0}, upstream_handshakes{0}, upstream_resumed{0};
    std::atomic<bool> stopping{false};
    std::size_t max_open = 4096, max_per_client = 256;  // [proxy] max_connections(_per_client)
    std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

    // connections_mutex guards connections, per_client and unauthenticated.
    std::mutex connections_mutex;
    std::set<Connection*> connections;
    std::map<std::string, std::size_t> per_client;
    // Connections still waiting for their first head, oldest first. They do not count
    // toward max_connections: at most max_unauthenticated of them are open, and a new one
    // beyond that closes the oldest (an attacker without a token holding many connections
    // open only displaces its own; a real client sends its head at once).
    std::list<Connection*> unauthenticated;

    // Runs reloads (SIGHUP), one at a time, off the accepting thread. Declared after every
    // member a reload touches, so it is destroyed (joined) first.
    asio::thread_pool reloader{1};

    std::shared_ptr<const Runtime> snapshot() const {
        std::lock_guard lock(runtime_mutex);
        return runtime;
    }

    void log(const std::string& line) const {
        if (!opts.log) return;
        auto rt = snapshot();
        opts.log(rt ? redact(line, rt->secret_values) : line);
    }

    void write_audit(const AuditRecord& r) {
        if (!audit) return;
        if (auto st = audit->write(r); !st) log(fmt::format("audit log: {}", st.error().message));
    }

    // ---- accepting ------------------------------------------------------------------

    template <class Acceptor>
    asio::awaitable<void> accept_loop(Acceptor& acceptor) {
        for (;;) {
            auto& w = *workers[next_worker++ % workers.size()];
            auto [ec, socket] = co_await acceptor.async_accept(w.ioc, token);
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping) co_return;
                log(fmt::format("accept: {}", ec.message()));
                if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
                    ec == asio::error::no_memory) {
                    // Out of descriptors: the pending connection stays in the backlog; try
                    // again once some have closed instead of spinning on the same error.
                    asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
                    co_await pause.async_wait(token);
                }
                continue;
            }
            if (stopping) co_return;
            asio::co_spawn(w.ioc, serve(std::move(socket), w), log_failure("connection"));
        }
    }

    // The completion of a spawned coroutine: an exception that escaped it is logged, never
    // dropped (the coroutine's own connection or loop ends; the server goes on).
    auto log_failure(const char* what) {
        return [this, what](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log(fmt::format("{}: unexpected error: {}", what, ex.what()));
            } catch (...) {
                log(fmt::format("{}: unexpected error", what));
            }
        };
    }

    asio::awaitable<void> control_loop() {
        for (;;) {
            auto [ec, socket] = co_await control->async_accept(token);
            if (ec) co_return;
            auto line = stats_json(Server::stats_of(*this)) + "\n";
            co_await asio::async_write(socket, asio::buffer(line), token);
        }
    }

    // ---- one client connection -------------------------------------------------------

    struct ConnectionScope {
        Impl& impl;
        Connection conn;
        std::string client;  // set once authenticated, for the per-client count
        bool counted = false;  // in impl.authenticated
        std::optional<std::list<Connection*>::iterator> waiting;  // in impl.unauthenticated
        template <class Stream>
        ConnectionScope(Impl& i, Stream& s) : impl(i) {
            conn.watch(s);
            conn.executor = s.get_executor();
            ++impl.open;
            ++impl.total;
            std::lock_guard lock(impl.connections_mutex);
            impl.connections.insert(&conn);
            if (impl.unauthenticated.size() >= max_unauthenticated) {
                Connection* oldest = impl.unauthenticated.front();
                impl.unauthenticated.pop_front();
                oldest->evicted = true;
                asio::post(oldest->executor, [&im = impl, oldest] {
                    std::lock_guard inner(im.connections_mutex);
                    if (im.connections.count(oldest) && !oldest->head_seen) oldest->close();
                });
            }
            waiting = impl.unauthenticated.insert(impl.unauthenticated.end(), &conn);
        }
        // The first head has arrived (or the connection gives up waiting for it).
        void head_done() {
            std::lock_guard lock(impl.connections_mutex);
            if (waiting && !conn.evicted) impl.unauthenticated.erase(*waiting);
            waiting.reset();
            conn.head_seen = true;
        }
        enum class Claim { ok, client_full, proxy_full };
        Claim claim(const std::string& name) {
            std::lock_guard lock(impl.connections_mutex);
            auto& n = impl.per_client[name];
            if (n >= impl.max_per_client) return Claim::client_full;
            if (impl.authenticated >= impl.max_open) return Claim::proxy_full;
            ++n;
            ++impl.authenticated;
            counted = true;
            client = name;
            return Claim::ok;
        }
        ~ConnectionScope() {
            std::lock_guard lock(impl.connections_mutex);
            if (waiting && !conn.evicted) impl.unauthenticated.erase(*waiting);
            if (counted) --impl.authenticated;
            impl.connections.erase(&conn);
            if (!client.empty()) {
                auto it = impl.per_client.find(client);
                if (it != impl.per_client.end() && --it->second == 0) impl.per_client.erase(it);
            }
            --impl.open;
        }
    };

    std::optional<ClientScope> authenticate(const RequestHead& head, Worker& w, ProxyCredentials* out = nullptr) {
        return w.auth->authenticate(head, out);
    }
    std::optional<ClientScope> authenticate(const ProxyCredentials& creds, Worker& w) {
        return w.auth->authenticate(creds);
    }

    template <class Stream>
    asio::awaitable<void> send_reply(Stream& s, const std::string& reply) {
        co_await io::write_all(s, asio::buffer(reply), std::chrono::seconds(10));
    }

    AuditRecord record_for(const std::string& client, std::string_view method, const std::string& host,
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

    template <class Socket>
    asio::awaitable<void> serve(Socket socket, Worker& w) {
        beast::basic_stream<typename Socket::protocol_type> client(std::move(socket));
        if constexpr (std::is_same_v<typename Socket::protocol_type, tcp>) set_nodelay(client);
        ConnectionScope scope(*this, client);
        beast::flat_buffer buf;
        auto t0 = Clock::now();

        // The first head has a total deadline, not an inactivity one: a byte every few
        // seconds does not keep a connection without a token open.
        asio::steady_timer watchdog(client.get_executor());
        auto waiting = std::make_shared<bool>(true);
        watchdog.expires_after(deadlines.first_head);
        watchdog.async_wait([waiting, &client](const error_code& e) {
            if (!e && *waiting) client.cancel();
        });
        auto [ec, head_len] = co_await io::read_head(client, buf, max_request_head, deadlines.first_head);
        *waiting = false;
        watchdog.cancel();
        scope.head_done();
        if (ec) {
            if (ec == beast::http::error::header_limit)
                co_await send_reply(client, proxy_reply(FailureKind::head_too_large, "request head larger than 64 KiB"));
            co_return;
        }
        std::string raw(static_cast<const char*>(buf.data().data()), head_len);
        buf.consume(head_len);
        auto head = parse_request_head(raw);
        if (!head) {
            co_await send_reply(client, proxy_reply(FailureKind::bad_request, head.error().message, head_error_status(raw)));
            co_return;
        }

        ProxyCredentials creds;
        auto who = authenticate(*head, w, &creds);
        if (!who) {
            auto r = record_for("", head->method, "", 0, Decision::deny);
            r.path = head->target;
            r.status = 407;
            r.error = "proxy authentication required";
            r.peer = peer_text(client.socket());  // refusals are rate-limited per source (audit.hpp)
            write_audit(r);
            ++requests;
            co_await send_reply(client, proxy_reply(FailureKind::auth, "proxy authentication required: use the proxy URL airlock gave "
                                                    "this session (http://NAME:TOKEN@host:port)"));
            co_return;
        }
        switch (scope.claim(who->name)) {
            case ConnectionScope::Claim::ok: break;
            case ConnectionScope::Claim::client_full:
                co_await send_reply(client, proxy_reply(FailureKind::limit, fmt::format("client {} has {} open connections; close some",
                                                                    who->name, max_per_client)));
                co_return;
            case ConnectionScope::Claim::proxy_full:
                co_await send_reply(client,
                                    proxy_reply(FailureKind::limit, "too many connections to the proxy; try again later"));
                co_return;
        }

        if (head->method == "CONNECT") {
            co_await handle_connect(std::move(client), buf, *head, *who, creds, w, scope.conn, t0);
        } else {
            co_await handle_plain(client, buf, std::move(*head), *who, w, scope.conn);
        }
    }

    // ---- CONNECT ---------------------------------------------------------------------

    template <class Stream>
    asio::awaitable<void> handle_connect(Stream client, beast::flat_buffer& buf, const RequestHead& head,
                                         const ClientScope& who, const ProxyCredentials& creds, Worker& w,
                                         Connection& conn, Clock::time_point t0) {
        ++requests;
        auto target = parse_authority(head.target);
        if (!target) {
            auto r = record_for(who.name, "CONNECT", head.target, 0, Decision::deny);
            r.status = 400;
            r.error = target.error().message;
            write_audit(r);
            co_await send_reply(client, proxy_reply(FailureKind::bad_request, target.error().message));
            co_return;
        }
        const std::string host = target->host;
        const std::uint16_t port = target->port;
        auto rt = snapshot();
        Decision d = decide(host, port, who, rt->config);

        if (d.kind == Decision::deny) {
            auto r = record_for(who.name, "CONNECT", host, port, Decision::deny);
            r.status = d.status;
            r.error = d.reason;
            write_audit(r);
            co_await send_reply(client, proxy_reply(FailureKind::forbidden, d.reason, d.status));
            co_return;
        }

        if (d.kind == Decision::intercept) {
            UpstreamKey key{who.name, host, port, d.rule->name, rt->generation};
            if (auto pooled = take_pooled(w, key)) {
                co_await intercept(std::move(client), buf, std::nullopt, std::move(pooled), rt->generation,
                                   d.rule->name, who, creds, w, conn, host, port);
                co_return;
            }
        }
        bool allowed_private = host_configured(host, rt->config);
        auto [failure, upstream] = co_await connect_upstream(host, port, rt->config.proxy, allowed_private, deadlines);
        if (failure) {
            int status = failure_info(failure.kind).status;
            auto r = record_for(who.name, "CONNECT", host, port, d.kind);
            r.status = status;
            r.error = failure.message;
            r.duration_ms = ms_since(t0);
            write_audit(r);
            co_await send_reply(client, proxy_reply(failure.kind, failure.message));
            co_return;
        }

        if (d.kind == Decision::tunnel) {
            co_await tunnel(std::move(client), buf, std::move(upstream), who, host, port, t0);
        } else {
            co_await intercept(std::move(client), buf, std::move(upstream), nullptr, rt->generation, d.rule->name,
                               who, creds, w, conn, host, port);
        }
    }

    template <class From, class To>
    asio::awaitable<error_code> pump(From& from, beast::flat_buffer& buf, To& to, io::Transfer& t) {
        auto ec = co_await io::relay_to_eof(from, buf, to, deadlines.tunnel_idle, t);
        error_code ignored;
        to.socket().shutdown(asio::socket_base::shutdown_send, ignored);
        co_return ec;
    }

    template <class Stream>
    asio::awaitable<void> tunnel(Stream client, beast::flat_buffer& buf, tcp_stream upstream,
                                 const ClientScope& who, const std::string& host, std::uint16_t port,
                                 Clock::time_point t0) {
        static const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
        if (auto ec = co_await io::write_all(client, asio::buffer(established), deadlines.handshake)) co_return;
        io::Transfer up, down;
        beast::flat_buffer upbuf;
        auto [e1, e2] = co_await (pump(client, buf, upstream, up) && pump(upstream, upbuf, client, down));
        auto r = record_for(who.name, "CONNECT", host, port, Decision::tunnel);
        r.status = 200;
        r.bytes_up = up.bytes;
        r.bytes_down = down.bytes;
        r.duration_ms = ms_since(t0);
        if (e1 || e2) r.error = (e1 ? e1 : e2).message();
        write_audit(r);
    }

    // ---- interception ----------------------------------------------------------------

    struct Exchange {
        int status = 0;
        bool response_started = false;
        bool close = false;
        bool upgraded = false;
        io::Transfer up, down;
        FailureKind error_kind = FailureKind::none;
        std::string error;
        std::string body_error;  // the client's body was malformed: answer 400
    };

    template <class From, class To>
    asio::awaitable<error_code> send_body(From& from, beast::flat_buffer& buf, To& to,
                                          const FramingVerdict& v, Exchange& x) {
        error_code ec;
        if (v.body == FramingVerdict::Body::content_length)
            ec = co_await io::relay_length(from, buf, to, v.content_length, deadlines.body_idle, x.up);
        else if (v.body == FramingVerdict::Body::chunked)
            ec = co_await io::relay_chunked(from, buf, to, deadlines.body_idle, x.up, &x.body_error);
        if (ec) x.close = true;
        // The upstream holds an incomplete request: close it, so its answer is not awaited
        // (whether or not receive_response has started reading) and it is never reused.
        if (!x.body_error.empty()) beast::get_lowest_layer(to).close();
        co_return ec;
    }

    template <class From, class To>
    asio::awaitable<error_code> receive_response(From& from, beast::flat_buffer& buf, To& to,
                                                 const RequestHead& request, Exchange& x) {
        for (;;) {
            auto [ec, len] = co_await io::read_head(from, buf, max_request_head, deadlines.response_head);
            if (ec) {
                x.close = true;
                x.error_kind = ec == beast::http::error::header_limit ? FailureKind::reset : error_kind(ec);
                x.error = fmt::format("upstream {}: {}", request.find("Host").value_or(""),
                                      ec == asio::error::eof ? "closed the connection before a response"
                                                             : ec.message());
                co_return ec;
            }
            std::string_view raw(static_cast<const char*>(buf.data().data()), len);
            auto response = parse_response_head(raw);
            if (!response) {
                x.close = true;
                x.error_kind = FailureKind::reset;
                x.error = fmt::format("upstream sent a malformed response: {}", response.error().message);
                co_return error_code(beast::http::error::bad_value);
            }
            auto f = response_framing(*response, request.method);
            if (!f.ok) {
                x.close = true;
                x.error_kind = FailureKind::reset;
                x.error = fmt::format("upstream sent an ambiguous response: {}", f.reason);
                co_return error_code(beast::http::error::bad_value);
            }
            x.response_started = true;
            x.status = response->status;
            // A small body that arrived with its head leaves in the same TLS record.
            if (response->status >= 200 && f.body == ResponseBody::length && f.length <= coalesce_limit &&
                buf.size() >= len + f.length) {
                auto whole = static_cast<std::size_t>(len + f.length);
                if (auto wec = co_await io::write_all(to, asio::buffer(buf.data().data(), whole), deadlines.body_idle)) {
                    x.close = true;
                    co_return wec;
                }
                buf.consume(whole);
                x.down.bytes += f.length;
                if (f.close) x.close = true;
                co_return error_code{};
            }
            if (auto wec = co_await io::write_all(to, asio::buffer(raw.data(), raw.size()), deadlines.body_idle)) {
                x.close = true;
                co_return wec;
            }
            buf.consume(len);
            if (response->status == 101) {
                x.upgraded = is_websocket_upgrade(request);
                x.close = !x.upgraded;
                co_return error_code{};
            }
            if (response->status >= 100 && response->status < 200) continue;  // 100 Continue, 103
            error_code bec;
            switch (f.body) {
                case ResponseBody::none: break;
                case ResponseBody::length:
                    bec = co_await io::relay_length(from, buf, to, f.length, deadlines.body_idle, x.down);
                    break;
                case ResponseBody::chunked:
                    bec = co_await io::relay_chunked(from, buf, to, deadlines.body_idle, x.down, &x.error);
                    break;
                case ResponseBody::until_close:
                    bec = co_await io::relay_to_eof(from, buf, to, deadlines.body_idle, x.down);
                    break;
            }
            if (f.close || bec) x.close = true;
            co_return bec;
        }
    }

    template <class From, class To>
    asio::awaitable<error_code> pump_tls(From& from, beast::flat_buffer& buf, To& to, io::Transfer& t) {
        auto ec = co_await io::relay_to_eof(from, buf, to, deadlines.tunnel_idle, t);
        co_return ec;
    }

    // `upstream_tcp`: a new connection to the host; or `pooled`: an idle TLS connection to it;
    // either made under configuration `generation` for rule `rule_name`.
    template <class Stream>
    asio::awaitable<void> intercept(Stream client_tcp, beast::flat_buffer& buf,
                                    std::optional<tcp_stream> upstream_tcp, std::unique_ptr<tls_stream> pooled,
                                    std::uint64_t generation, const std::string& rule_name, const ClientScope& who,
                                    const ProxyCredentials& creds, Worker& w, Connection& conn,
                                    const std::string& host, std::uint16_t port) {
        auto leaf = leaves->get(host);
        if (!leaf) {
            co_await send_reply(client_tcp, proxy_reply(FailureKind::tls, leaf.error().message));
            co_return;
        }
        static const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
        if (auto ec = co_await io::write_all(client_tcp, asio::buffer(established), deadlines.handshake)) co_return;

        SSL_CTX_up_ref((*leaf)->server_context);
        asio::ssl::context server_ctx((*leaf)->server_context);  // the stream keeps its own reference
        beast::ssl_stream<Stream> client(std::move(client_tcp), server_ctx);
        conn.watch(beast::get_lowest_layer(client));

        beast::get_lowest_layer(client).expires_after(deadlines.handshake);
        auto [hec, used] = co_await client.async_handshake(asio::ssl::stream_base::server, buf.data(), token);
        if (hec) {
            log(fmt::format("{}: TLS handshake with client for {} failed: {}", who.name, host, hec.message()));
            co_return;
        }
        buf.consume(used);
        const char* sni = SSL_get_servername(client.native_handle(), TLSEXT_NAMETYPE_host_name);
        bool ip_host = host.find(':') != std::string::npos ||
                       host.find_first_not_of("0123456789.") == std::string::npos;
        if ((sni && !server_name_matches(sni, HostPort{host, port})) || (!sni && !ip_host)) {
            auto r = record_for(who.name, "CONNECT", host, port, Decision::intercept);
            r.rule = rule_name;
            r.error = fmt::format("TLS server name '{}' does not match the CONNECT host {}", sni ? sni : "", host);
            write_audit(r);
            log(fmt::format("{}: {}", who.name, r.error));
            beast::get_lowest_layer(client).expires_after(std::chrono::seconds(5));
            co_await client.async_shutdown(token);
            co_return;
        }

        std::unique_ptr<tls_stream> upstream = std::move(pooled);
        std::optional<tcp_stream> fresh(std::move(upstream_tcp));
        std::uint64_t upstream_generation = generation;  // of `upstream` / `fresh`
        bool reusable = false;  // the upstream connection is idle after a complete exchange
        beast::flat_buffer ubuf;
        bool first = true;

        for (;;) {
            conn.idle = !first;
            if (!first && stopping) break;
            // Between requests the buffers hold nothing: give their memory back.
            if (buf.size() == 0) buf.shrink_to_fit();
            if (ubuf.size() == 0) ubuf.shrink_to_fit();
            auto [ec, len] = co_await io::read_head(client, buf, max_request_head,
                                                    first ? deadlines.request_head : deadlines.keep_alive);
            conn.idle = false;
            first = false;
            if (ec) {
                if (ec == beast::http::error::header_limit)
                    co_await send_reply(client, proxy_reply(FailureKind::head_too_large, "request head larger than 64 KiB"));
                break;
            }
            auto t0 = Clock::now();
            std::string raw(static_cast<const char*>(buf.data().data()), len);
            buf.consume(len);
            ++requests;
            auto record = record_for(who.name, "", host, port, Decision::intercept);
            record.rule = rule_name;

            auto head = parse_request_head(raw);
            if (!head) {
                record.status = head_error_status(raw);
                record.error = head.error().message;
                write_audit(record);
                co_await send_reply(client, proxy_reply(FailureKind::bad_request, head.error().message, record.status));
                break;
            }
            record.method = head->method;
            record.path = head->target;
            // An upstream that answers TRACE echoes the request back, the injected credential
            // with it.
            if (iequals(head->method, "TRACE") || iequals(head->method, "TRACK")) {
                record.status = 405;
                record.error = fmt::format("{} is refused on intercepted hosts: the upstream would echo the "
                                           "credential back", head->method);
                write_audit(record);
                co_await send_reply(client, proxy_reply(FailureKind::method, record.error));
                break;
            }
            auto verdict = check_framing(*head, host, port);
            if (!verdict.ok) {
                record.status = verdict.status;
                record.error = verdict.reason;
                write_audit(record);
                co_await send_reply(client, proxy_reply(verdict.status == 421 ? FailureKind::misdirected : FailureKind::bad_request,
                                                        verdict.reason, verdict.status));
                break;
            }
            // The client must still exist: a removed client is refused at its next request.
            auto current = authenticate(creds, w);
            if (!current) {
                record.status = 407;
                record.error = "proxy client removed";
                write_audit(record);
                co_await send_reply(client, proxy_reply(FailureKind::auth, "this proxy client no longer exists"));
                break;
            }

            // Rules and secrets as of now: every request is decided again, so a reload applies
            // from the next request on. A tunnel intercepted for one rule carries only that
            // rule's credential: when the host now has another rule, or none (it would be
            // tunnelled or denied), the client must open a new tunnel (421: clients retry on a
            // new connection).
            auto rt = snapshot();
            Decision now = decide(host, port, *current, rt->config);
            if (now.kind != Decision::intercept || now.rule->name != rule_name) {
                record.status = 421;
                record.error = fmt::format("the credential rules for {} changed since this tunnel opened", host);
                write_audit(record);
                co_await send_reply(client, proxy_reply(FailureKind::misdirected, record.error + "; open a new connection"));
                break;
            }
            // Upstream connections made under an earlier configuration are not used again.
            if (upstream_generation != rt->generation) {
                upstream.reset();
                fresh.reset();
                upstream_generation = rt->generation;
            }
            // A subscription login: the proxy answers the CLI's own refreshes and expired logins
            // itself, else the current access token goes in (login_hook.hpp).
            std::string login_token;
            if (!now.rule->login.empty()) {
                auto step = co_await login_step(*logins, *head, *now.rule, host, record);
                if (!step.reply.empty()) {
                    write_audit(record);
                    co_await send_reply(client, std::move(step.reply));
                    break;
                }
                login_token = std::move(step.token);
            }
            auto secret = rt->secrets.by_rule.find(rule_name);
            auto prepared = prepare_upstream_request(
                *head, *now.rule,
                !login_token.empty() ? login_token : secret == rt->secrets.by_rule.end() ? "" : secret->second, host);
            if (!prepared.credential_error.empty())
                log(fmt::format("credential {}: {}", rule_name, prepared.credential_error));
            const bool close_after = prepared.close_client;
            const UpstreamKey key{who.name, host, port, rule_name, rt->generation};

            std::string out = head->serialize();
            // A small body already received goes out with the head, in one TLS record.
            std::uint64_t coalesced = 0;
            if (verdict.body == FramingVerdict::Body::content_length && verdict.content_length <= coalesce_limit &&
                buf.size() >= verdict.content_length) {
                auto n = static_cast<std::size_t>(verdict.content_length);
                out.append(static_cast<const char*>(buf.data().data()), n);
                buf.consume(n);
                coalesced = n;
                verdict.body = FramingVerdict::Body::none;
            }

            Exchange x;
            bool upstream_failed = false;
            for (int attempt = 0;; ++attempt) {
                // An upstream kept idle (pooled, or from this connection's last exchange) may
                // have been closed by the server meanwhile: when the request is whole in `out`
                // and the connection closed without an answer (not a timeout), it is sent once
                // more on a new connection.
                if (!upstream && !fresh && attempt == 0) upstream = take_pooled(w, key);
                bool was_idle = upstream != nullptr;
                reusable = false;
                if (!upstream) {
                    if (!fresh) {
                        auto [failure, s] = co_await connect_upstream(host, port, rt->config.proxy,
                                                                      host_configured(host, rt->config), deadlines);
                        if (failure) {
                            x.error_kind = failure.kind;
                            x.error = failure.message;
                            upstream_failed = true;
                            break;
                        }
                        fresh.emplace(std::move(s));
                    }
                    upstream = std::make_unique<tls_stream>(std::move(*fresh), *rt->upstream_tls);
                    fresh.reset();
                    ubuf.clear();
                    if (auto failure = co_await handshake_upstream(*upstream, host, deadlines)) {
                        upstream.reset();
                        x.error_kind = failure.kind;
                        x.error = failure.message;
                        upstream_failed = true;
                        break;
                    }
                    ++upstream_handshakes;
                    if (SSL_session_reused(upstream->native_handle())) ++upstream_resumed;
                }
                x = Exchange{};
                x.up.bytes = coalesced;
                if (auto wec = co_await io::write_all(*upstream, asio::buffer(out), deadlines.body_idle)) {
                    x.error_kind = error_kind(wec);
                    x.error = fmt::format("upstream {}: {}", host, wec.message());
                    x.close = true;
                } else {
                    co_await (send_body(client, buf, *upstream, verdict, x) &&
                              receive_response(*upstream, ubuf, client, *head, x));
                }
                if (!x.response_started && was_idle && attempt == 0 && verdict.body == FramingVerdict::Body::none &&
                    x.error_kind != FailureKind::timeout && !stopping) {
                    upstream.reset();
                    continue;
                }
                reusable = x.response_started && !x.close && !x.upgraded && ubuf.size() == 0;
                break;
            }
            if (upstream_failed) {
                record.status = failure_info(x.error_kind).status;
                record.error = x.error;
                write_audit(record);
                co_await send_reply(client, proxy_reply(x.error_kind, x.error));
                break;
            }

            if (!x.body_error.empty() && !x.response_started) {
                x.error_kind = FailureKind::bad_request;
                x.error = x.body_error;
            }
            record.status = x.response_started ? x.status
                            : !x.body_error.empty() ? 400 : (x.error_kind == FailureKind::timeout ? 504 : 502);
            if (!login_token.empty() && x.status == 401) logins->unauthorized(rule_name, login_token);
            record.bytes_up = x.up.bytes;
            record.bytes_down = x.down.bytes;
            record.duration_ms = ms_since(t0);
            record.error = x.error;
            write_audit(record);
            if (!x.response_started) {
                // Built before the co_await: g++ 12 destroys conditional-operator temporaries
                // of a co_await expression twice.
                auto reply = proxy_reply(x.error_kind == FailureKind::none ? FailureKind::reset : x.error_kind,
                                         x.error.empty() ? "upstream failed" : x.error, record.status);
                co_await send_reply(client, std::move(reply));
                break;
            }
            if (x.upgraded) {
                io::Transfer up, down;
                co_await (pump_tls(client, buf, *upstream, up) && pump_tls(*upstream, ubuf, client, down));
                break;
            }
            if (x.close || close_after) break;
            // Until the next request the upstream connection waits in the pool, so that idle
            // client connections do not each hold one (the next request takes it back, or
            // another, or connects anew).
            if (reusable && !stopping) put_pooled(w, key, std::move(upstream));
        }

        // An idle upstream after a complete exchange waits for this client's next connection.
        if (upstream && reusable && !stopping && upstream_generation == snapshot()->generation)
            put_pooled(w, UpstreamKey{who.name, host, port, rule_name, upstream_generation}, std::move(upstream));
        // Close both sides politely; a peer that vanished makes these fail quickly.
        beast::get_lowest_layer(client).expires_after(std::chrono::seconds(2));
        co_await client.async_shutdown(token);
        if (upstream) {
            beast::get_lowest_layer(*upstream).expires_after(std::chrono::seconds(2));
            co_await upstream->async_shutdown(token);
        }
    }

    // ---- plain HTTP (absolute-form, never a credential) ------------------------------

    template <class Stream>
    asio::awaitable<void> handle_plain(Stream& client, beast::flat_buffer& buf, RequestHead head,
                                       const ClientScope& who, Worker& w, Connection& conn) {
        for (;;) {
            ++requests;
            auto t0 = Clock::now();
            auto record = record_for(who.name, head.method, "", 0, Decision::tunnel);
            record.path = head.target;
            auto fail = [&](FailureKind kind, const std::string& message, int status = 0) {
                record.status = status ? status : failure_info(kind).status;
                record.error = message;
                record.duration_ms = ms_since(t0);
                write_audit(record);
                return proxy_reply(kind, message, record.status);
            };
            auto target = parse_http_target(head.target);
            if (!target) {
                co_await send_reply(client, fail(FailureKind::bad_request, target.error().message));
                co_return;
            }
            record.host = target->host;
            record.port = target->port;
            auto rt = snapshot();
            ProxySettings settings = rt->config.proxy;
            Config plain_cfg = rt->config;
            plain_cfg.credentials.clear();  // plain HTTP never gets a credential
            plain_cfg.proxy.ports.push_back(80);
            Decision d = decide(target->host, target->port, who, plain_cfg);
            if (d.kind == Decision::deny) {
                co_await send_reply(client, fail(FailureKind::forbidden, d.reason, d.status));
                co_return;
            }
            if (head.count("Host") > 1) {
                co_await send_reply(client, fail(FailureKind::bad_request, "more than one Host field"));
                co_return;
            }
            auto verdict = check_body_framing(head);
            if (!verdict.ok) {
                co_await send_reply(client, fail(FailureKind::bad_request, verdict.reason, verdict.status));
                co_return;
            }
            auto [failure, upstream] = co_await connect_upstream(target->host, target->port, settings,
                                                                 host_configured(target->host, rt->config), deadlines);
            if (failure) {
                co_await send_reply(client, fail(failure.kind, failure.message));
                co_return;
            }
            head.remove("Proxy-Authorization");
            head.remove("Proxy-Connection");
            head.set("Host", host_field(target->host, target->port, 80));
            head.target = target->path;
            head.set("Connection", "close");  // one upstream connection per request
            std::string out = head.serialize();
            Exchange x;
            if (auto wec = co_await io::write_all(upstream, asio::buffer(out), deadlines.body_idle)) {
                x.error_kind = error_kind(wec);
                x.error = fmt::format("upstream {}: {}", target->host, wec.message());
            } else {
                // The body goes up while the response is awaited: an interim 100 Continue
                // (the client sent Expect: 100-continue) is relayed before the body, and the
                // final response after it.
                beast::flat_buffer ubuf;
                co_await (send_body(client, buf, upstream, verdict, x) &&
                          receive_response(upstream, ubuf, client, head, x));
            }
            if (!x.body_error.empty() && !x.response_started) {
                x.error_kind = FailureKind::bad_request;
                x.error = x.body_error;
            }
            if (!x.response_started) {
                int status = !x.body_error.empty() ? 400 : x.error_kind == FailureKind::timeout ? 504 : 502;
                // Built before the co_await (g++ 12 and conditional temporaries, see intercept).
                auto reply = fail(x.error_kind == FailureKind::none ? FailureKind::reset : x.error_kind,
                                  x.error.empty() ? "upstream failed" : x.error, status);
                co_await send_reply(client, std::move(reply));
                co_return;
            }
            record.status = x.status;
            record.bytes_up = x.up.bytes;
            record.bytes_down = x.down.bytes;
            record.duration_ms = ms_since(t0);
            record.error = x.error;
            write_audit(record);
            if (x.close || x.upgraded || wants_close(head) || stopping) co_return;

            // Next request on this client connection.
            conn.idle = true;
            auto [hec, hlen] = co_await io::read_head(client, buf, max_request_head, deadlines.keep_alive);
            conn.idle = false;
            if (hec) co_return;
            std::string next_raw(static_cast<const char*>(buf.data().data()), hlen);
            buf.consume(hlen);
            auto next = parse_request_head(next_raw);
            if (!next) {
                co_await send_reply(client, proxy_reply(FailureKind::bad_request, next.error().message, head_error_status(next_raw)));
                co_return;
            }
            auto again = authenticate(*next, w);
            if (!again || again->name != who.name || next->method == "CONNECT") {
                co_await send_reply(client, proxy_reply(FailureKind::auth, "proxy authentication required"));
                co_return;
            }
            head = std::move(*next);
        }
    }

    // ---- lifecycle -------------------------------------------------------------------

    void close_idle_connections() {
        std::lock_guard lock(connections_mutex);
        for (auto* c : connections) {
            asio::post(c->executor, [this, c] {
                std::lock_guard inner(connections_mutex);
                if (connections.count(c) && c->idle) c->cancel();
            });
        }
    }

    void close_all_connections() {
        std::lock_guard lock(connections_mutex);
        for (auto* c : connections) {
            asio::post(c->executor, [this, c] {
                std::lock_guard inner(connections_mutex);
                if (connections.count(c)) c->close();
            });
        }
    }
};

// -----------------------------------------------------------------------------------------

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
    for (auto& w : impl_->workers) {
        w->ioc.stop();
        if (w->thread.joinable()) w->thread.join();
    }
    impl_->logins.reset();  // its thread stops before the rest goes
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
    auto impl = std::make_unique<Impl>();
    impl->opts = std::move(options);
    auto& opts = impl->opts;

    auto authority = ca::Authority::load(opts.home / "ca");
    if (!authority) return authority.error();
    impl->authority = *authority;
    impl->leaves = std::make_unique<ca::LeafCache>(impl->authority, 1024);

    auto runtime = build_runtime(opts.config, opts.home, 1);
    if (!runtime) return runtime.error();
    impl->runtime = *runtime;

    auto audit = AuditLog::open((opts.home / "audit.jsonl").string(), 50ull * 1024 * 1024, 5);
    if (!audit) return audit.error();
    impl->audit = std::move(*audit);
    impl->audit->set_secrets((*runtime)->secret_values);
    impl->logins = std::make_unique<LoginBroker>(LoginBrokerOptions{opts.home, opts.log, {}});
    impl->configure_logins(**runtime);

    // Intercepted hosts get their TLS material ready now, not on the first connection.
    for (const auto& rule : (*runtime)->config.credentials)
        for (const auto& h : rule.hosts)
            if (h.rfind("*.", 0) != 0) (void)impl->leaves->get(h);

    impl->max_open = opts.config.proxy.max_connections;
    impl->max_per_client = opts.config.proxy.max_connections_per_client;
    // Two descriptors per intercepted connection: ask for the hard limit, and say so when
    // even that cannot hold max_connections.
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        if (nofile.rlim_cur < nofile.rlim_max) {
            nofile.rlim_cur = nofile.rlim_max;
            setrlimit(RLIMIT_NOFILE, &nofile);
        }
        if (nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < 2 * impl->max_open + 64)
            impl->log(fmt::format("warning: the open-file limit ({}) is below what {} connections need ({}); "
                                  "raise it (ulimit -n) or lower [proxy] max_connections",
                                  nofile.rlim_cur, impl->max_open, 2 * impl->max_open + 64));
    }

    unsigned threads = opts.config.proxy.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) {
        impl->workers.push_back(std::make_unique<Worker>());
        impl->workers.back()->auth.emplace(opts.home / "sessions.db",
                                           [im = impl.get()](const std::string& line) { im->log(line); });
    }

    std::vector<std::string> listen = opts.listen;
    if (listen.empty()) listen = opts.config.proxy.listen;
    if (listen.empty()) listen.push_back("127.0.0.1");
    std::uint16_t port = opts.port_override ? opts.port_override : opts.config.proxy.port;
    auto& ioc0 = impl->workers[0]->ioc;
    for (const auto& address : listen) {
        error_code ec;
        auto ip = asio::ip::make_address(address, ec);
        if (ec) return make_error(fmt::format("[proxy] listen: '{}' is not an IP address", address));
        tcp::acceptor acceptor(ioc0);
        tcp::endpoint ep(ip, port);
        acceptor.open(ep.protocol(), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(ep, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            if (ec == asio::error::address_in_use)
                return make_error(fmt::format("cannot listen on {}:{}: the port is in use (is the proxy already "
                                              "running? see 'airlock proxy status'; or set [proxy] port)",
                                              address, port));
            return make_error(fmt::format("cannot listen on {}:{}: {}", address, port, ec.message()));
        }
        auto bound = acceptor.local_endpoint();
        impl->addresses.push_back(bound.address().is_v6() ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                                          : fmt::format("{}:{}", bound.address().to_string(), bound.port()));
        if (port == 0) port = bound.port();  // every address gets the same ephemeral port
        impl->acceptors.push_back(std::move(acceptor));
    }
    for (const auto& path : opts.unix_listen) {
        unix_proto::acceptor acceptor(ioc0);
        if (auto st = listen_unix(acceptor, path, opts.unix_listen_mode, asio::socket_base::max_listen_connections); !st)
            return st.error();
        impl->addresses.push_back("unix:" + path.string());
        impl->unix_acceptors.push_back(std::move(acceptor));
    }
    if (!opts.control_socket.empty()) {
        impl->control.emplace(ioc0);
        if (auto st = listen_unix(*impl->control, opts.control_socket, 0600, 16); !st)
            return make_error(fmt::format("cannot create the control socket: {}", st.error().message));
    }
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::run() {
    auto& impl = *impl_;
    auto& ioc0 = impl.workers[0]->ioc;
    for (auto& acceptor : impl.acceptors) asio::co_spawn(ioc0, impl.accept_loop(acceptor), impl.log_failure("accept"));
    for (auto& acceptor : impl.unix_acceptors)
        asio::co_spawn(ioc0, impl.accept_loop(acceptor), impl.log_failure("accept"));
    if (impl.control) asio::co_spawn(ioc0, impl.control_loop(), impl.log_failure("control socket"));

    impl.signals = std::make_unique<asio::signal_set>(ioc0, SIGTERM, SIGINT, SIGHUP);
    std::function<void(const error_code&, int)> on_signal = [this, &on_signal](const error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            // Secret commands may take seconds: never on the thread that accepts connections.
            asio::post(impl_->reloader, [this] {
                auto st = reload();
                impl_->log(st ? "reloaded rules and secrets" : fmt::format("reload failed: {}", st.error().message));
            });
            impl_->signals->async_wait(on_signal);
        } else {
            impl_->log("stopping: finishing open requests");
            stop();
        }
    };
    impl.signals->async_wait(on_signal);

    // Work guards keep every worker running until stop() releases them.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& w : impl.workers) guards.push_back(asio::make_work_guard(w->ioc));
    for (std::size_t i = 1; i < impl.workers.size(); ++i) {
        auto* w = impl.workers[i].get();
        w->thread = std::thread([w] { w->ioc.run(); });
    }
    impl.log(fmt::format("listening on {}", fmt::join(impl.addresses, ", ")));

    // stop() ends with every io_context stopped; worker 0 runs here.
    impl.workers[0]->ioc.run();
    for (auto& g : guards) g.reset();
    for (std::size_t i = 1; i < impl.workers.size(); ++i) {
        impl.workers[i]->ioc.stop();
        if (impl.workers[i]->thread.joinable()) impl.workers[i]->thread.join();
    }
}

void Server::stop(std::chrono::milliseconds grace) {
    auto& impl = *impl_;
    if (impl.stopping.exchange(true)) return;
    auto& ioc0 = impl.workers[0]->ioc;
    asio::post(ioc0, [this, grace] {
        auto& im = *impl_;
        for (auto& a : im.acceptors) {
            error_code ignored;
            a.close(ignored);
        }
        for (auto& a : im.unix_acceptors) {
            error_code ignored;
            a.close(ignored);
        }
        for (const auto& path : im.opts.unix_listen) {
            error_code ignored;
            std::filesystem::remove(path, ignored);
        }
        if (im.signals) im.signals->cancel();
        if (im.control) {
            error_code ignored;
            im.control->close(ignored);
            std::filesystem::remove(im.opts.control_socket, ignored);
        }
        im.close_idle_connections();
        auto deadline = Clock::now() + grace;
        auto timer = std::make_shared<asio::steady_timer>(im.workers[0]->ioc);
        auto check = std::make_shared<std::function<void(const error_code&)>>();
        *check = [this, timer, check, deadline](const error_code&) {
            auto& i2 = *impl_;
            if (i2.open == 0 || Clock::now() >= deadline) {
                if (i2.open != 0) i2.close_all_connections();
                for (auto& w : i2.workers) w->ioc.stop();
                *check = nullptr;  // break the cycle
                return;
            }
            i2.close_idle_connections();
            timer->expires_after(std::chrono::milliseconds(50));
            timer->async_wait(*check);
        };
        timer->expires_after(std::chrono::milliseconds(0));
        timer->async_wait(*check);
    });
}

Status Server::reload() {
    auto& impl = *impl_;
    Config config;
    if (impl.opts.reload_config) {
        auto loaded = impl.opts.reload_config();
        if (!loaded) return loaded.error();
        config = std::move(*loaded);
    } else {
        config = impl.snapshot()->config;
    }
    auto runtime = build_runtime(std::move(config), impl.opts.home, ++impl.generations);
    if (!runtime) return runtime.error();
    for (const auto& rule : (*runtime)->config.credentials)
        for (const auto& h : rule.hosts)
            if (h.rfind("*.", 0) != 0) (void)impl.leaves->get(h);
    impl.audit->set_secrets((*runtime)->secret_values);
    impl.configure_logins(**runtime);
    {
        std::lock_guard lock(impl.runtime_mutex);
        impl.runtime = *runtime;
    }
    ++impl.reloads;
    return {};
}

ServerStats Server::stats_of(const Impl& impl) {
    ServerStats s;
    s.addresses = impl.addresses;
    s.started = impl.started;
    s.open_connections = impl.open;
    s.total_connections = impl.total;
    s.requests = impl.requests;
    s.reloads = impl.reloads;
    s.upstream_handshakes = impl.upstream_handshakes;
    s.upstream_resumed = impl.upstream_resumed;
    return s;
}

ServerStats Server::stats() const { return stats_of(*impl_); }

std::string stats_json(const ServerStats& stats) {
    boost::json::object o;
    o["pid"] = static_cast<std::int64_t>(::getpid());
    boost::json::array addrs;
    for (const auto& a : stats.addresses) addrs.emplace_back(a);
    o["addresses"] = std::move(addrs);
    o["started"] = std::chrono::duration_cast<std::chrono::seconds>(stats.started.time_since_epoch()).count();
    o["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now() - stats.started).count();
    o["open_connections"] = stats.open_connections;
    o["total_connections"] = stats.total_connections;
    o["requests"] = stats.requests;
    o["reloads"] = stats.reloads;
    o["upstream_handshakes"] = stats.upstream_handshakes;
    o["upstream_resumed"] = stats.upstream_resumed;
    return boost::json::serialize(o);
}

std::vector<std::string> Server::addresses() const { return impl_->addresses; }

}  // namespace airlock::proxy
