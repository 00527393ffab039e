#include "proxy/server.hpp"

// The server: create/run/stop/reload, stats, the accept and control loops, and each client
// connection's first head (authentication, connection limits), after which a CONNECT goes
// to a tunnel or an interception (forward.hpp, intercept.hpp) and a plain HTTP request is
// forwarded (forward.hpp).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <sys/resource.h>
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
#include "proxy/context.hpp"
#include "proxy/forward.hpp"
#include "proxy/hosts.hpp"
#include "proxy/http_request.hpp"
#include "proxy/intercept.hpp"
#include "proxy/policy.hpp"
#include "proxy/reply.hpp"

// g++ 12 inlines Asio's coroutine-frame allocator (aligned_alloc) into handle_connect and
// then reports a false mismatch with the frame's operator delete (which frees it with
// free), as it does anywhere at -O3 (meson.build).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace airlock::proxy {

using asio::ip::tcp;
using unix_proto = asio::local::stream_protocol;
using io::token;

namespace {

// `relative_base`: what relative paths in the configuration are relative to (ServerOptions).
Result<std::shared_ptr<const Runtime>> build_runtime(Config config, const std::filesystem::path& relative_base,
                                                     std::uint64_t generation) {
    auto runtime = std::make_shared<Runtime>();
    runtime->generation = generation;
    auto secrets = load_secrets(config.credentials, relative_base);
    if (!secrets) return secrets.error();
    std::filesystem::path extra_ca;
    if (!config.proxy.upstream_ca.empty()) {
        const char* user_home = std::getenv("HOME");
        auto path = configured_path(config.proxy.upstream_ca, relative_base,
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

}  // namespace

// ---------------------------------------------------------------------------------------

// At most this many connections wait for their first head (Impl::unauthenticated).
constexpr std::size_t max_unauthenticated = 64;

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

// The server: the shared state (Context) and what only the accept side needs.
struct Server::Impl : Context {
    ServerOptions opts;
    std::shared_ptr<const ca::Authority> authority;

    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<tcp::acceptor> acceptors;  // on workers[0]
    std::vector<unix_proto::acceptor> unix_acceptors;  // on workers[0]
    std::optional<asio::local::stream_protocol::acceptor> control;  // on workers[0]
    std::vector<std::string> addresses;
    std::unique_ptr<asio::signal_set> signals;
    std::atomic<std::size_t> next_worker{0};
    std::atomic<std::uint64_t> generations{1};  // the last configuration generation handed out

    std::atomic<std::uint64_t> authenticated{0};  // open connections past authentication
    std::atomic<std::uint64_t> open{0}, total{0}, reloads{0};
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
        auto who = w.auth->authenticate(*head, &creds);
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

        // Named, not temporaries of the co_await expressions: g++ 12 may destroy those twice.
        const ClientConn conn{*who, creds, w, scope.conn};
        if (head->method == "CONNECT") {
            co_await handle_connect(std::move(client), buf, *head, conn, t0);
        } else {
            co_await forward_plain(*this, conn, client, buf, std::move(*head));
        }
    }

    // ---- CONNECT ---------------------------------------------------------------------

    template <class Stream>
    asio::awaitable<void> handle_connect(Stream client, beast::flat_buffer& buf, const RequestHead& head,
                                         const ClientConn& c, Clock::time_point t0) {
        const ClientScope& who = c.who;
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
            if (auto pooled = take_pooled(c.worker, key)) {
                // Named, not a temporary of the co_await expression (g++ 12, see serve).
                InterceptTarget to{host, port, d.rule->name, rt->generation, std::nullopt, std::move(pooled)};
                co_await intercept(*this, c, std::move(client), buf, std::move(to));
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
            const HostPort to{host, port};
            co_await tunnel(*this, c, std::move(client), buf, std::move(upstream), to, t0);
        } else {
            InterceptTarget to{host, port, d.rule->name, rt->generation, std::move(upstream), nullptr};
            co_await intercept(*this, c, std::move(client), buf, std::move(to));
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
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
    auto impl = std::make_unique<Impl>();
    impl->opts = std::move(options);
    auto& opts = impl->opts;
    impl->log_sink = opts.log;

    auto authority = ca::Authority::load(opts.ca_dir);
    if (!authority) return authority.error();
    impl->authority = *authority;
    impl->leaves = std::make_unique<ca::LeafCache>(impl->authority, 1024);

    auto runtime = build_runtime(opts.config, opts.relative_base, 1);
    if (!runtime) return runtime.error();
    impl->runtime = *runtime;

    auto audit = AuditLog::open(opts.audit_log.string(), 50ull * 1024 * 1024, 5);
    if (!audit) return audit.error();
    impl->audit = std::move(*audit);
    impl->audit->set_secrets((*runtime)->secret_values);
    impl->logins = std::make_unique<LoginBroker>(LoginBrokerOptions{opts.logins_home, opts.log, {}});
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
        impl->workers.back()->auth.emplace(opts.client_store,
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
    auto runtime = build_runtime(std::move(config), impl.opts.relative_base, ++impl.generations);
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
