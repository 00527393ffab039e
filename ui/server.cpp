#include "ui/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "airlock/settings_text.hpp"
#include "proxy/audit.hpp"
#include "session/container.hpp"
#include "session/branch_sync.hpp"
#include "session/session_json.hpp"
#include "session/session_repo.hpp"
#include "ui/assets.hpp"
#include "ui/audit_index.hpp"
#include "ui/audit_tail.hpp"
#include "ui/gate.hpp"
#include "ui/routes.hpp"
#include "ui/shape.hpp"

namespace airlock::ui {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto tok = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

constexpr std::uint64_t kAuditStartBytes = 32u << 20;  // what is read of the audit at start
constexpr std::size_t kMaxLogStreams = 16;
constexpr std::size_t kMaxSubscriberBacklog = 8u << 20;

struct Reply {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool cache = false;  // assets: revalidate; everything else: no-store
};

Reply json_reply(unsigned status, const json::value& v) {
    Reply r;
    r.status = status;
    r.body = json::serialize(v);
    return r;
}

Reply error_reply(unsigned status, std::string_view message) {
    Reply r;
    r.status = status;
    r.body = error_json(message);
    return r;
}

void add_security_headers(http::fields& f) {
    f.set("Content-Security-Policy", kCsp);
    f.set("X-Content-Type-Options", "nosniff");
    f.set("Referrer-Policy", "no-referrer");
    f.set("X-Frame-Options", "DENY");
    f.set("Cross-Origin-Opener-Policy", "same-origin");
    f.set("Cross-Origin-Resource-Policy", "same-origin");
}

// A connected page's queue of Server-Sent Events.
struct Subscriber {
    explicit Subscriber(const asio::any_io_executor& ex) : wake(ex) {}
    std::deque<std::string> queue;
    std::size_t bytes = 0;
    bool dead = false;
    asio::steady_timer wake;
};

// What a logs thread hands to the I/O thread.
struct LogFeed {
    explicit LogFeed(const asio::any_io_executor& ex) : wake(ex) {}
    std::mutex mutex;
    std::deque<std::string> chunks;  // guarded by mutex
    std::size_t bytes = 0;           // guarded by mutex
    bool done = false;               // guarded by mutex
    std::string end_type, end_message;  // guarded by mutex
    std::atomic<bool> cancelled{false};
    asio::steady_timer wake;  // I/O thread only
};

std::string sse(std::string_view event, std::string_view data) {
    std::string out = "event: ";
    out += event;
    out += "\ndata: ";
    out += data;
    out += "\n\n";
    return out;
}

}  // namespace

struct Server::Impl {
    ServerOptions opt;
    asio::io_context ioc{1};
    asio::thread_pool pool{4};
    tcp::acceptor acceptor{ioc};
    std::optional<asio::local::stream_protocol::acceptor> control;
    asio::signal_set signals{ioc, SIGINT, SIGTERM};
    std::uint16_t port = 0;
    Tokens tokens;
    AuditIndex audit;
    AuditTail tail;

    // Live updates (I/O thread only).
    std::list<std::shared_ptr<Subscriber>> subscribers;
    asio::steady_timer tick_timer{ioc};
    bool ticking = false;
    unsigned ticks = 0;
    std::vector<json::object> views;  // the last list, without activity
    bool engine_ok = true;
    bool have_views = false;
    bool refresh_running = false, refresh_again = false;
    bool proxy_running_check = false;
    std::string sent_sessions, sent_proxy;
    std::map<std::string, Activity> sent_activity;

    // Stats (I/O thread only).
    Clock::time_point stats_at{};
    std::string stats_body;
    std::map<std::string, ContainerStats> stats_prev;
    std::atomic<std::size_t> log_streams{0};

    std::atomic<bool> stopping{false};

    explicit Impl(ServerOptions o) : opt(std::move(o)), tail(opt.audit_log) {}

    void log(const std::string& line) {
        if (opt.log) opt.log(line);
    }

    // ---- running blocking work on the pool ----------------------------------------------

    // Runs f() on the pool; the awaiting coroutine resumes on the I/O thread with its result.
    // g++ 12 copies a lambda bitwise (its strings then freed twice) when the lambda is a
    // temporary inside a co_await expression or itself a coroutine given to co_spawn. So:
    // the callable travels as a std::function into a named coroutine, and callers build the
    // awaitable in a statement of its own (auto job = on_pool(...); co_await std::move(job)).
    template <class T>
    static asio::awaitable<T> call(std::function<T()> fn) {
        co_return fn();
    }
    template <class T, class F>
    asio::awaitable<T> on_pool(F f) {
        return asio::co_spawn(pool, call<T>(std::function<T()>(std::move(f))), asio::use_awaitable);
    }

    // As on_pool, for a handler's reply: an exception becomes a 500 with its message.
    template <class F>
    asio::awaitable<Reply> reply_on_pool(F f) {
        return on_pool<Reply>([f = std::move(f)]() mutable -> Reply {
            try {
                return f();
            } catch (const std::exception& e) {
                return error_reply(500, e.what());
            }
        });
    }

    // ---- the audit ---------------------------------------------------------------------

    // Reads what the proxy appended; true when there were new records.
    bool poll_audit() {
        auto got = tail.poll();
        std::size_t added = audit.feed(got.before);
        if (got.rotated) audit.drop_partial();
        added += audit.feed(got.after);
        return added > 0;
    }

    // ---- sessions ----------------------------------------------------------------------

    struct Listed {
        std::vector<json::object> views;
        bool engine = true;
        std::string error;
    };

    Listed list_sessions() {
        Listed out;
        auto ws = opt.open(false);
        if (!ws) {
            out.error = ws.error().message;
            return out;
        }
        auto listed = (*ws)->manager().list();
        if (!listed) {
            out.error = listed.error().message;
            return out;
        }
        for (const auto& v : *listed) {
            out.views.push_back(session::session_json(v, (*ws)->home_id()));
            if (!v.from_engine) out.engine = false;
        }
        return out;
    }

    json::object sessions_body() {
        json::array a;
        for (auto v : views) {
            auto name = std::string(v["name"].as_string());
            auto it = audit.activity().find(name);
            add_activity(v, it == audit.activity().end() ? nullptr : &it->second);
            a.emplace_back(std::move(v));
        }
        return json::object{{"sessions", std::move(a)}, {"engine", engine_ok}};
    }

    void publish_sessions() {
        if (!have_views) return;
        auto text = json::serialize(sessions_body());
        if (text == sent_sessions) return;
        sent_sessions = text;
        broadcast("sessions", text);
    }

    // A fresh list (engine events, after actions, a new page), coalesced: at most one at a time.
    void refresh_sessions() {
        if (stopping) return;
        if (refresh_running) {
            refresh_again = true;
            return;
        }
        refresh_running = true;
        asio::co_spawn(ioc, refresh_loop(), asio::detached);
    }

    asio::awaitable<void> refresh_loop() {
        do {
            refresh_again = false;
            asio::steady_timer pause(ioc, std::chrono::milliseconds(250));  // gathers a burst of events
            co_await pause.async_wait(tok);
            auto job1 = on_pool<Listed>([this] { return list_sessions(); });
            auto listed = co_await std::move(job1);
            if (listed.error.empty()) {
                views = std::move(listed.views);
                engine_ok = listed.engine;
                have_views = true;
                publish_sessions();
            } else {
                log("list: " + listed.error);
            }
        } while (refresh_again && !stopping);
        refresh_running = false;
    }

    // ---- live updates ------------------------------------------------------------------

    void broadcast(std::string_view event, std::string_view data) {
        auto line = sse(event, data);
        for (auto& s : subscribers) {
            if (s->dead) continue;
            if (s->bytes + line.size() > kMaxSubscriberBacklog) {
                s->dead = true;  // a page that does not read: it reconnects and starts afresh
            } else {
                s->bytes += line.size();
                s->queue.push_back(line);
            }
            s->wake.cancel();
        }
    }

    void start_ticking() {
        if (ticking) return;
        ticking = true;
        asio::co_spawn(ioc, tick_loop(), asio::detached);
    }

    asio::awaitable<void> tick_loop() {
        while (!subscribers.empty() && !stopping) {
            if (poll_audit()) {
                auto fresh = audit.take_new();
                if (!fresh.empty()) {
                    std::vector<const AuditRecord*> ptrs;
                    for (const auto& r : fresh) ptrs.push_back(&r);
                    broadcast("requests", json::serialize(json::object{{"records", records_json(ptrs)}}));
                }
                publish_sessions();
            }
            if (ticks++ % 2 == 0) co_await check_proxy();
            tick_timer.expires_after(std::chrono::seconds(1));
            co_await tick_timer.async_wait(tok);
        }
        ticking = false;
    }

    static json::object proxy_brief(const ProxyStatus& p) {
        json::object o{{"running", p.running}, {"note", p.note}};
        if (p.running) o["pid"] = p.pid;
        else o["pid"] = nullptr;
        error_code ec;
        auto stats = p.stats_json.empty() ? json::value() : json::parse(p.stats_json, ec);
        if (!ec && stats.is_object()) {
            const auto& s = stats.as_object();
            for (const char* k : {"open_connections", "total_connections", "requests", "addresses"})
                if (auto* v = s.if_contains(k)) o[k == std::string_view("requests") ? "requests_total" : k] = *v;
            if (auto* v = s.if_contains("started"); v && v->is_int64())
                o["started"] = proxy::format_time_utc(std::chrono::system_clock::time_point(std::chrono::seconds(v->as_int64())));
        }
        return o;
    }

    asio::awaitable<void> check_proxy() {
        if (!opt.proxy_status || proxy_running_check) co_return;
        proxy_running_check = true;
        auto job2 = on_pool<ProxyStatus>([this] { return opt.proxy_status(); });
        auto status = co_await std::move(job2);
        proxy_running_check = false;
        auto text = json::serialize(proxy_brief(status));
        if (text == sent_proxy) co_return;
        sent_proxy = text;
        broadcast("proxy", text);
    }

    // GET /api/events
    asio::awaitable<void> serve_events(beast::tcp_stream stream) {
        stream.expires_never();
        auto sub = std::make_shared<Subscriber>(ioc.get_executor());
        subscribers.push_back(sub);
        std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\nContent-Security-Policy: " +
            std::string(kCsp) + "\r\nConnection: close\r\n\r\n";
        if (have_views) sub->queue.push_back(sse("sessions", json::serialize(sessions_body())));
        if (!sent_proxy.empty()) sub->queue.push_back(sse("proxy", sent_proxy));
        sub->queue.push_front(std::move(head));
        refresh_sessions();
        start_ticking();
        if (sent_proxy.empty()) asio::co_spawn(ioc, check_proxy(), asio::detached);
        for (;;) {
            if (sub->queue.empty() && !sub->dead) {
                sub->wake.expires_after(std::chrono::seconds(25));
                auto [ec] = co_await sub->wake.async_wait(tok);
                if (!ec && sub->queue.empty()) sub->queue.push_back(": ping\n\n");
            }
            if (sub->dead || stopping) break;
            std::string out;
            for (auto& q : sub->queue) out += q;
            sub->queue.clear();
            sub->bytes = 0;
            auto [ec, n] = co_await asio::async_write(stream.socket(), asio::buffer(out), tok);
            if (ec) break;
        }
        subscribers.remove(sub);
        error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }

    // ---- the API -----------------------------------------------------------------------

    asio::awaitable<Reply> handle(const Route& r, const http::request<http::string_body>& req) {
        switch (r.kind) {
            case RouteKind::asset: co_return asset(r.asset, req);
            case RouteKind::sessions: {
                (void)poll_audit();
                auto job3 = on_pool<Listed>([this] { return list_sessions(); });
                auto listed = co_await std::move(job3);
                if (!listed.error.empty()) co_return error_reply(500, listed.error);
                views = std::move(listed.views);
                engine_ok = listed.engine;
                have_views = true;
                publish_sessions();
                co_return json_reply(200, sessions_body());
            }
            case RouteKind::create_session: {
                auto options = parse_create_options(req.body());
                if (!options) co_return error_reply(400, options.error().message);
                if (options->repo.empty()) options->repo = opt.repo;
                auto job4 = reply_on_pool([this, o = std::move(*options)]() { return create(o); });
                auto reply = co_await std::move(job4);
                refresh_sessions();
                co_return reply;
            }
            case RouteKind::session: {
                auto job5 = reply_on_pool([this, name = r.name] { return show(name); });
                co_return co_await std::move(job5);
            }
            case RouteKind::session_action: {
                bool force = false;
                if (r.action == "sync" && !req.body().empty()) {
                    error_code ec;
                    auto v = json::parse(req.body(), ec);
                    if (ec || !v.is_object()) co_return error_reply(400, "the request body must be a JSON object");
                    if (auto* f = v.as_object().if_contains("force")) force = f->is_bool() && f->as_bool();
                }
                auto job6 = reply_on_pool([this, name = r.name, action = r.action, force] {
                    return act(name, action, force);
                });
                auto reply = co_await std::move(job6);
                refresh_sessions();
                co_return reply;
            }
            case RouteKind::delete_session: {
                auto job7 = reply_on_pool([this, name = r.name, force = query_flag(r.query, "force"),
                                                     branch = query_flag(r.query, "delete_branch")] {
                    auto ws = opt.open(false);
                    if (!ws) return error_reply(500, ws.error().message);
                    auto removed = (*ws)->manager().remove(name, force, branch);
                    if (!removed) return error_reply(status_for_error(removed.error().message), removed.error().message);
                    return json_reply(200, json::object{{"deleted", name},
                                                        {"branch_deleted", removed->branch_deleted},
                                                        {"branch_commit", removed->branch_commit}});
                });
                auto reply = co_await std::move(job7);
                refresh_sessions();
                co_return reply;
            }
            case RouteKind::diff: {
                auto job8 = reply_on_pool([this, name = r.name, worktree = query_flag(r.query, "worktree")] {
                    auto ws = opt.open(false);
                    if (!ws) return error_reply(500, ws.error().message);
                    auto s = (*ws)->manager().get(name);
                    if (!s) return error_reply(status_for_error(s.error().message), s.error().message);
                    auto patch = session::session_diff((*ws)->manager().repo_paths(*s), s->base_commit, worktree);
                    if (!patch) return error_reply(500, patch.error().message);
                    Reply out;
                    out.content_type = "text/plain; charset=utf-8";
                    out.body = session::terminal_safe(*patch);
                    return out;
                });
                co_return co_await std::move(job8);
            }
            case RouteKind::requests: {
                (void)poll_audit();
                auto limit = static_cast<std::size_t>(query_int(r.query, "limit", 500, 1, 5000));
                auto window = query_int(r.query, "window", 3600, 60, 86400);
                auto sel = select_records(audit.records(), r.name, limit, false);
                auto series = make_series(audit.records(), r.name, std::chrono::system_clock::now(), window);
                co_return json_reply(200, json::object{{"records", records_json(sel.records)},
                                                       {"total", sel.total},
                                                       {"series", series_json(series)}});
            }
            case RouteKind::stats: co_return co_await stats();
            case RouteKind::proxy: co_return co_await proxy(r);
            case RouteKind::config: {
                auto job9 = reply_on_pool([this] { return config(); });
                co_return co_await std::move(job9);
            }
            case RouteKind::not_found: co_return error_reply(404, "no such page or API path: " + std::string(req.target()));
            case RouteKind::bad_method: {
                auto reply = error_reply(405, fmt::format("{} is not allowed here; use {}",
                                                          std::string(req.method_string()), r.allow));
                reply.headers.emplace_back("Allow", r.allow);
                co_return reply;
            }
            case RouteKind::bad_request: co_return error_reply(400, r.message);
            case RouteKind::events:
            case RouteKind::terminal:
            case RouteKind::logs: break;
        }
        co_return error_reply(404, "no such page or API path");
    }

    Reply asset(const std::string& path, const http::request<http::string_body>& req) {
        std::string data, etag;
        if (!opt.assets_dir.empty()) {
            std::ifstream in(opt.assets_dir / path, std::ios::binary);
            if (!in) return error_reply(404, "no such file: /" + path);
            data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        } else {
            bool found = false;
            for (const auto& a : embedded_assets())
                if (a.path == path) {
                    data = std::string(a.data);
                    etag = std::string(a.etag);
                    found = true;
                }
            if (!found) return error_reply(404, "no such file: /" + path);
        }
        Reply out;
        out.cache = true;
        out.content_type = std::string(content_type_for(path));
        if (!etag.empty()) {
            out.headers.emplace_back("ETag", etag);
            if (req[http::field::if_none_match] == etag) {
                out.status = 304;
                return out;
            }
        }
        out.body = std::move(data);
        return out;
    }

    // Pool: POST /api/sessions.
    Reply create(const session::CreateOptions& options) {
        auto ws = opt.open(true);
        if (!ws) return error_reply(500, ws.error().message);
        auto request = (*ws)->create_request(options);
        if (!request) return error_reply(400, request.error().message);
        if (auto st = (*ws)->ensure_proxy(); !st) return error_reply(500, st.error().message);
        auto s = (*ws)->manager().create(*request, [this](const std::string& line) { log("create: " + line); });
        if (!s) return error_reply(status_for_error(s.error().message), s.error().message);
        (*ws)->watch(s->name, s->container_id);
        log("created session " + s->name);
        auto v = (*ws)->manager().show(s->name);
        if (!v) return error_reply(500, v.error().message);
        return json_reply(201, json::object{{"session", session::session_json(*v, (*ws)->home_id())}});
    }

    // Pool: GET /api/sessions/NAME.
    Reply show(const std::string& name) {
        auto ws = opt.open(false);
        if (!ws) return error_reply(500, ws.error().message);
        auto v = (*ws)->manager().show(name);
        if (!v) return error_reply(status_for_error(v.error().message), v.error().message);
        auto o = session::session_json(*v, (*ws)->home_id());
        auto log = session::session_log((*ws)->manager().repo_paths(v->session), v->session.base_commit, 50);
        json::object body{{"session", std::move(o)}};
        body["commits"] = log ? session::commits_json(*log) : json::array{};
        body["commit_count"] = log ? log->total : 0;
        if (!log) body["commits_error"] = log.error().message;
        if (opt.proxy_status) body["proxy"] = opt.proxy_status().running ? "running" : "down";
        return json_reply(200, body);
    }

    // Pool: POST /api/sessions/NAME/ACTION.
    Reply act(const std::string& name, const std::string& action, bool force) {
        auto ws = opt.open(action == "refresh");
        if (!ws) return error_reply(500, ws.error().message);
        auto& m = (*ws)->manager();
        auto fail = [](const Error& e) { return error_reply(status_for_error(e.message), e.message); };
        json::object body;
        if (action == "stop") {
            if (auto st = m.stop(name); !st) return fail(st.error());
        } else if (action == "start") {
            if (auto s = m.get(name); !s) return fail(s.error());
            if (auto st = (*ws)->ensure_proxy(); !st) return error_reply(500, st.error().message);
            if (auto st = m.start(name); !st) return fail(st.error());
            if (auto s = m.get(name)) (*ws)->watch(name, s->container_id);
        } else if (action == "refresh") {
            if (auto s = m.get(name); !s) return fail(s.error());
            if (auto st = (*ws)->ensure_proxy(); !st) return error_reply(500, st.error().message);
            auto r = m.refresh(name, [this](const std::string& line) { log("refresh: " + line); });
            if (!r) return fail(r.error());
            (*ws)->watch(name, r->new_container_id);
            body["old_image_id"] = r->old_image_id;
            body["new_image_id"] = r->new_image_id;
            body["old_container_id"] = r->old_container_id;
            body["new_container_id"] = r->new_container_id;
        } else if (action == "sync") {
            auto s = m.get(name);
            if (!s) return fail(s.error());
            auto r = m.sync(name, force);
            if (!r) return fail(r.error());
            auto said = session::sync_message(*r, s->branch, name);
            if (said.refused) return error_reply(409, said.message);
            const char* action_name = r->action == session::SyncAction::create         ? "create"
                                      : r->action == session::SyncAction::fast_forward ? "fast_forward"
                                      : r->action == session::SyncAction::force_update ? "force_update"
                                                                                       : "up_to_date";
            return json_reply(200, json::object{{"action", action_name},
                                                {"old_tip", r->old_tip},
                                                {"new_tip", r->new_tip},
                                                {"message", said.message}});
        }
        auto v = m.show(name);
        if (!v) return fail(v.error());
        body["session"] = session::session_json(*v, (*ws)->home_id());
        return json_reply(200, body);
    }

    // Pool: GET /api/config.
    Reply config() {
        auto ws = opt.open(false);
        if (!ws) return error_reply(500, ws.error().message);
        const auto& c = (*ws)->config();
        json::array agents, creds;
        for (const auto& [name, a] : c.agents) agents.emplace_back(name);
        for (const auto& rule : c.credentials) creds.emplace_back(rule.name);
        return json_reply(200, json::object{{"agents", std::move(agents)},
                                            {"default_agent", "claude"},
                                            {"image", c.docker.image},
                                            {"network", c.docker.network},
                                            {"networks", json::array{"confined", "open", "none"}},
                                            {"cpus", c.docker.cpus},
                                            {"memory", c.docker.memory},
                                            {"pids_limit", c.docker.pids_limit},
                                            {"pull_policy", std::string(to_string(c.docker.pull_policy))},
                                            {"read_only", c.docker.read_only_rootfs},
                                            {"repo", opt.repo},
                                            {"credentials", std::move(creds)},
                                            {"version", opt.version}});
    }

    // GET /api/proxy: the proxy's own status, and what the audit says.
    asio::awaitable<Reply> proxy(const Route& r) {
        struct Got {
            ProxyStatus status;
            std::vector<std::tuple<std::string, std::vector<std::string>, std::string, std::string>> rules;
            std::string error;
        };
        auto job10 = on_pool<Got>([this] {
            Got g;
            try {
                if (opt.proxy_status) g.status = opt.proxy_status();
                auto ws = opt.open(false);
                if (!ws) {
                    g.error = ws.error().message;
                    return g;
                }
                for (const auto& rule : (*ws)->config().credentials)
                    g.rules.emplace_back(rule.name, rule.hosts, rule.header, (*ws)->describe_source(rule));
            } catch (const std::exception& e) {
                g.error = e.what();
            }
            return g;
        });
        auto got = co_await std::move(job10);
        if (!got.error.empty()) co_return error_reply(500, got.error);
        (void)poll_audit();
        auto body = proxy_brief(got.status);
        auto window = query_int(r.query, "window", 3600, 60, 86400);
        body["series"] = series_json(make_series(audit.records(), "", std::chrono::system_clock::now(), window));
        body["refusals"] = records_json(select_records(audit.records(), "", 200, true).records);
        json::object counts{{"400", 0}, {"403", 0}, {"407", 0}, {"421", 0}, {"other", 0}};
        for (const auto& [k, n] : audit.refusal_counts()) counts[k] = n;
        body["refusal_counts"] = std::move(counts);
        json::array rules;
        for (const auto& [name, hosts, header, source] : got.rules) {
            json::array h;
            for (const auto& x : hosts) h.emplace_back(x);
            auto it = audit.rule_last_used().find(name);
            rules.emplace_back(json::object{
                {"name", name},
                {"hosts", std::move(h)},
                {"header", header},
                {"source", source},
                {"last_used", it == audit.rule_last_used().end() ? std::string() : proxy::format_time_utc(it->second)}});
        }
        body["rules"] = std::move(rules);
        co_return json_reply(200, body);
    }

    // GET /api/stats: one sample per running session, at most every 5 s.
    asio::awaitable<Reply> stats() {
        if (!stats_body.empty() && Clock::now() - stats_at < std::chrono::seconds(5)) {
            Reply out;
            out.body = stats_body;
            co_return out;
        }
        struct Sampled {
            std::map<std::string, ContainerStats> samples;
            std::string error;
        };
        auto job11 = on_pool<Sampled>([this] {
            Sampled s;
            try {
                auto ws = opt.open(false);
                if (!ws) {
                    s.error = ws.error().message;
                    return s;
                }
                auto& backend = (*ws)->backend();
                auto containers = backend.list({{session::kSessionLabel, ""}, {session::kHomeIdLabel, (*ws)->home_id()}});
                if (!containers) {
                    s.error = containers.error().message;
                    return s;
                }
                for (const auto& c : *containers) {
                    if (c.status != "running") continue;
                    auto label = c.labels.find(session::kSessionLabel);
                    if (label == c.labels.end()) continue;
                    if (auto st = backend.stats(c.id)) s.samples[label->second] = *st;
                }
            } catch (const std::exception& e) {
                s.error = e.what();
            }
            return s;
        });
        auto got = co_await std::move(job11);
        if (!got.error.empty()) co_return error_reply(500, got.error);
        json::object all;
        for (const auto& [name, now] : got.samples) {
            auto prev = stats_prev.find(name);
            double cpu = prev == stats_prev.end() ? -1 : cpu_percent(prev->second, now);
            json::object o{{"memory_bytes", now.memory_bytes}, {"memory_limit_bytes", now.memory_limit_bytes}};
            if (cpu >= 0) o["cpu_percent"] = std::round(cpu * 10) / 10;
            else o["cpu_percent"] = nullptr;
            all[name] = std::move(o);
        }
        stats_prev = std::move(got.samples);
        stats_body = json::serialize(json::object{{"stats", std::move(all)}});
        stats_at = Clock::now();
        Reply out;
        out.body = stats_body;
        co_return out;
    }

    // ---- WebSockets --------------------------------------------------------------------

    using Ws = websocket::stream<beast::tcp_stream>;

    static std::string end_frame(std::string_view type, std::string_view message) {
        return json::serialize(json::object{{"type", type}, {"message", message}});
    }

    asio::awaitable<void> send_end(Ws& ws, std::string_view type, std::string_view message) {
        ws.text(true);
        auto frame = end_frame(type, message);
        (void)co_await ws.async_write(asio::buffer(frame), tok);
        (void)co_await ws.async_close(websocket::close_code::normal, tok);
    }

    static void ws_options(Ws& ws) {
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) { add_security_headers(res); }));
        ws.read_message_max(1 << 20);
    }

    asio::awaitable<void> pump_terminal_output(std::shared_ptr<Ws> ws,
                                               std::shared_ptr<asio::posix::stream_descriptor> fd) {
        std::vector<char> buf(16384);
        for (;;) {
            auto [ec, n] = co_await fd->async_read_some(asio::buffer(buf), tok);
            if (ec) {
                if (ec == asio::error::operation_aborted || !fd->is_open()) co_return;
                co_await send_end(*ws, "end", "the terminal closed (the agent exited or was detached)");
                co_return;
            }
            ws->binary(true);
            auto [wec, wn] = co_await ws->async_write(asio::buffer(buf.data(), n), tok);
            if (wec) co_return;
        }
    }

    // Reads from a logs page only to notice that it went away.
    static asio::awaitable<void> watch_log_reader(std::shared_ptr<Ws> ws, std::shared_ptr<LogFeed> feed) {
        beast::flat_buffer b;
        for (;;) {
            b.clear();
            auto [ec, n] = co_await ws->async_read(b, tok);
            if (ec) break;
        }
        feed->cancelled = true;
        feed->wake.cancel();
    }

    // WS /api/sessions/NAME/terminal: the engine's attach stream, both ways.
    asio::awaitable<void> serve_terminal(beast::tcp_stream stream, http::request<http::string_body> req,
                                         std::string name) {
        stream.expires_never();
        auto ws = std::make_shared<Ws>(std::move(stream));
        ws_options(*ws);
        if (auto [ec] = co_await ws->async_accept(req, tok); ec) co_return;

        struct Attached {
            std::unique_ptr<Workspace> workspace;
            std::string container;
            AttachedStream stream;
            std::string error;
        };
        auto job12 = on_pool<std::shared_ptr<Attached>>([this, name] {
            auto a = std::make_shared<Attached>();
            try {
                auto w = opt.open(false);
                if (!w) {
                    a->error = w.error().message;
                    return a;
                }
                a->workspace = std::move(*w);
                auto id = a->workspace->manager().container_of(name);
                if (!id) {
                    a->error = id.error().message;
                    return a;
                }
                a->container = *id;
                auto s = a->workspace->backend().attach(*id);
                if (!s) {
                    a->error = s.error().message;
                    return a;
                }
                a->stream = std::move(*s);
                if (!a->stream.tty) a->error = "the session's container has no terminal (TTY)";
            } catch (const std::exception& e) {
                a->error = e.what();
            }
            return a;
        });
        auto attached = co_await std::move(job12);
        if (!attached->error.empty()) {
            co_await send_end(*ws, "error", attached->error);
            co_return;
        }
        log("terminal attached: " + name);
        auto fd = std::make_shared<asio::posix::stream_descriptor>(ioc, attached->stream.release());
        ws->binary(true);
        if (!attached->stream.initial.empty()) {
            auto [ec, n] = co_await ws->async_write(asio::buffer(attached->stream.initial), tok);
            if (ec) co_return;
        }
        // Output: container -> page. Ends at EOF (the agent exited or was detached) or when
        // the page side closed the descriptor.
        asio::co_spawn(ioc, pump_terminal_output(ws, fd), asio::detached);
        // Input: page -> container; resize messages to the engine.
        beast::flat_buffer in;
        for (;;) {
            in.clear();
            auto [ec, n] = co_await ws->async_read(in, tok);
            if (ec) break;
            auto data = beast::buffers_to_string(in.data());
            if (ws->got_text()) {
                error_code jec;
                auto v = json::parse(data, jec);
                if (jec || !v.is_object()) continue;
                const auto& o = v.as_object();
                auto* type = o.if_contains("type");
                if (!type || !type->is_string() || type->as_string() != "resize") continue;
                auto num = [&](const char* k) -> int {
                    auto* f = o.if_contains(k);
                    return f && f->is_int64() ? static_cast<int>(std::clamp<std::int64_t>(f->as_int64(), 1, 1000)) : 0;
                };
                int cols = num("cols"), rows = num("rows");
                if (!cols || !rows) continue;
                auto job13 = on_pool<std::string>([attached, rows, cols] {
                    auto r = attached->workspace->backend().resize_tty(attached->container, rows, cols);
                    return r ? std::string() : r.error().message;
                });
                auto st = co_await std::move(job13);
                if (!st.empty()) log("terminal resize: " + st);
                continue;
            }
            auto [wec, wn] = co_await asio::async_write(*fd, asio::buffer(data), tok);
            if (wec) break;
        }
        error_code ignored;
        fd->close(ignored);  // detaches; the agent keeps running
        log("terminal detached: " + name);
    }

    // WS /api/sessions/NAME/logs: the container's output, the last `tail` lines, then following.
    asio::awaitable<void> serve_logs(beast::tcp_stream stream, http::request<http::string_body> req, std::string name,
                                     int tail_lines) {
        stream.expires_never();
        auto ws = std::make_shared<Ws>(std::move(stream));
        ws_options(*ws);
        if (auto [ec] = co_await ws->async_accept(req, tok); ec) co_return;
        if (log_streams >= kMaxLogStreams) {
            co_await send_end(*ws, "error", "too many log streams open; close some of the dashboard's tabs");
            co_return;
        }
        ++log_streams;
        auto feed = std::make_shared<LogFeed>(ioc.get_executor());
        auto executor = ioc.get_executor();
        std::thread([this, feed, executor, name, tail_lines] {
            auto wake = [&] { asio::post(executor, [feed] { feed->wake.cancel(); }); };
            std::string type = "end", message = "the container stopped; logs end here";
            try {
                auto w = opt.open(false);
                if (!w) throw std::runtime_error(w.error().message);
                auto id = (*w)->manager().container_of(name);
                if (!id) throw std::runtime_error(id.error().message);
                auto st = (*w)->backend().logs_tail(*id, true, tail_lines, [&](OutputStream, std::string_view data) {
                    if (feed->cancelled) return false;
                    for (;;) {  // the page reads slower than the agent writes: wait, do not pile up
                        std::lock_guard lock(feed->mutex);
                        if (feed->bytes < (1u << 20) || feed->cancelled) {
                            feed->chunks.emplace_back(data);
                            feed->bytes += data.size();
                            break;
                        }
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    }
                    wake();
                    return !feed->cancelled;
                });
                if (!st) {
                    type = "error";
                    message = st.error().message;
                }
            } catch (const std::exception& e) {
                type = "error";
                message = e.what();
            }
            {
                std::lock_guard lock(feed->mutex);
                feed->done = true;
                feed->end_type = type;
                feed->end_message = message;
            }
            wake();
        }).detach();

        asio::co_spawn(ioc, watch_log_reader(ws, feed), asio::detached);

        for (;;) {
            std::string out;
            bool done = false;
            std::string type, message;
            {
                std::lock_guard lock(feed->mutex);
                for (auto& c : feed->chunks) out += c;
                feed->chunks.clear();
                feed->bytes = 0;
                done = feed->done;
                type = feed->end_type;
                message = feed->end_message;
            }
            if (feed->cancelled) break;
            if (!out.empty()) {
                ws->binary(true);
                auto [ec, n] = co_await ws->async_write(asio::buffer(out), tok);
                if (ec) break;
                continue;
            }
            if (done) {
                co_await send_end(*ws, type, message);
                break;
            }
            feed->wake.expires_after(std::chrono::seconds(30));
            (void)co_await feed->wake.async_wait(tok);
        }
        feed->cancelled = true;
        --log_streams;
    }

    // ---- HTTP --------------------------------------------------------------------------

    template <class Body>
    asio::awaitable<bool> write(beast::tcp_stream& stream, http::response<Body>& res) {
        auto [ec, n] = co_await http::async_write(stream, res, tok);
        co_return !ec;
    }

    asio::awaitable<void> serve(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(16 * 1024);
            parser.body_limit(1024 * 1024);
            stream.expires_after(std::chrono::minutes(5));
            auto [ec, n] = co_await http::async_read(stream, buf, parser, tok);
            if (ec) {
                if (ec == http::error::body_limit || ec == http::error::header_limit) {
                    http::response<http::string_body> res{http::status::payload_too_large, 11};
                    res.set(http::field::content_type, "application/json");
                    add_security_headers(res);
                    res.body() = error_json("the request is too large");
                    res.keep_alive(false);
                    res.prepare_payload();
                    (void)co_await write(stream, res);
                }
                co_return;
            }
            auto req = parser.release();
            const bool upgrade = websocket::is_upgrade(req);
            auto route_of = route(std::string(req.method_string()), std::string(req.target()), upgrade);

            RequestFacts facts;
            facts.method = std::string(req.method_string());
            auto target = std::string(req.target());
            facts.path = target.substr(0, target.find('?'));
            if (auto t = route_of.query.find("token"); t != route_of.query.end()) facts.token = t->second;
            facts.host = std::string(req[http::field::host]);
            facts.origin = std::string(req[http::field::origin]);
            facts.cookie = std::string(req[http::field::cookie]);
            facts.content_type = std::string(req[http::field::content_type]);
            facts.has_body = !req.body().empty();
            facts.websocket = upgrade;
            auto verdict = check_request(facts, port, tokens, Clock::now());

            Reply reply;
            if (verdict.kind == GateVerdict::refuse) {
                if (verdict.status != 401) log(fmt::format("refused {} {}: {}", facts.method, facts.path, verdict.message));
                const bool page = facts.path.rfind("/api/", 0) != 0 && facts.method == "GET" && !upgrade;
                reply.status = static_cast<unsigned>(verdict.status);
                if (page) {
                    reply.content_type = "text/html; charset=utf-8";
                    reply.body = "<!doctype html><meta charset=\"utf-8\"><title>airlock</title><p>" +
                                 std::string(verdict.message.find("Host") != std::string::npos
                                                 ? "This address is not the dashboard's."
                                                 : "Not signed in. Run <code>airlock ui</code> and open the link it "
                                                   "prints (each link works once).") +
                                 "</p>";
                } else {
                    reply.body = error_json(verdict.message);
                }
            } else if (verdict.kind == GateVerdict::sign_in) {
                reply.status = 303;
                reply.content_type = "text/plain; charset=utf-8";
                reply.headers.emplace_back("Location", "/");
                reply.headers.emplace_back("Set-Cookie", set_cookie_header(verdict.cookie));
            } else if (upgrade && route_of.kind == RouteKind::terminal) {
                co_await serve_terminal(std::move(stream), std::move(req), route_of.name);
                co_return;
            } else if (upgrade && route_of.kind == RouteKind::logs) {
                int tail_lines = static_cast<int>(query_int(route_of.query, "tail", 500, 0, 100000));
                co_await serve_logs(std::move(stream), std::move(req), route_of.name, tail_lines);
                co_return;
            } else if (route_of.kind == RouteKind::events) {
                co_await serve_events(std::move(stream));
                co_return;
            } else {
                try {
                    reply = co_await handle(route_of, req);
                } catch (const std::exception& e) {
                    reply = error_reply(500, e.what());
                }
            }

            http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
            res.set(http::field::server, "airlock");
            res.set(http::field::content_type, reply.content_type);
            add_security_headers(res);
            res.set(http::field::cache_control, reply.cache ? "no-cache" : "no-store");
            for (const auto& [k, v] : reply.headers) res.set(k, v);
            res.keep_alive(req.keep_alive() && verdict.kind != GateVerdict::refuse);
            res.body() = std::move(reply.body);
            res.prepare_payload();
            if (req.method() == http::verb::head) res.body().clear();
            if (!co_await write(stream, res)) co_return;
            if (!res.keep_alive()) {
                error_code ignored;
                stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
                co_return;
            }
        }
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(tok);
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping) co_return;
                asio::steady_timer pause(ioc, std::chrono::milliseconds(100));
                co_await pause.async_wait(tok);
                continue;
            }
            asio::co_spawn(ioc, serve(std::move(socket)), [this](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log(fmt::format("connection: unexpected error: {}", ex.what()));
                } catch (...) {
                }
            });
        }
    }

    asio::awaitable<void> control_loop() {
        for (;;) {
            auto [ec, socket] = co_await control->async_accept(tok);
            if (ec) co_return;
            auto line = fmt::format("http://127.0.0.1:{}/?token={}\n", port, tokens.issue(Clock::now()));
            (void)co_await asio::async_write(socket, asio::buffer(line), tok);
        }
    }

    // Follows the engine's container events of this home; each one refreshes the table.
    void follow_engine_events() {
        std::thread([this] {
            while (!stopping) {
                try {
                    auto w = opt.open(false);
                    if (w) {
                        auto home = (*w)->home_id();
                        auto st = (*w)->backend().events({{session::kHomeIdLabel, home}}, [this](const EngineEvent& e) {
                            if (stopping) return false;
                            if (e.action.rfind("exec_", 0) == 0) return true;  // not a state change
                            asio::post(ioc, [this] { refresh_sessions(); });
                            return true;
                        });
                        if (!st && !stopping) log("engine events: " + st.error().message + " (trying again in 5 s)");
                    }
                } catch (const std::exception& e) {
                    log(std::string("engine events: ") + e.what());
                }
                for (int i = 0; i < 50 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }).detach();
    }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
    if (!impl_) return;
    impl_->stopping = true;
    impl_->pool.join();
    if (!impl_->opt.control_socket.empty()) ::unlink(impl_->opt.control_socket.c_str());
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
    auto impl = std::make_unique<Impl>(std::move(options));
    auto& i = *impl;
    error_code ec;
    tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), i.opt.port);
    i.acceptor.open(ep.protocol(), ec);
    if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) i.acceptor.bind(ep, ec);
    if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_error(fmt::format("cannot listen on 127.0.0.1:{}: {}{}", i.opt.port, ec.message(),
                                      ec == asio::error::address_in_use ? " (choose another with --port)" : ""));
    i.port = i.acceptor.local_endpoint().port();
    if (!i.opt.control_socket.empty()) {
        ::unlink(i.opt.control_socket.c_str());
        auto old = ::umask(077);
        i.control.emplace(i.ioc);
        asio::local::stream_protocol::endpoint cep(i.opt.control_socket.string());
        i.control->open(cep.protocol(), ec);
        if (!ec) i.control->bind(cep, ec);
        if (!ec) i.control->listen(16, ec);
        ::umask(old);
        if (ec) return make_error(fmt::format("cannot listen on {}: {}", i.opt.control_socket.string(), ec.message()));
        ::chmod(i.opt.control_socket.c_str(), 0600);
    }
    (void)i.audit.feed(i.tail.start(kAuditStartBytes));
    (void)i.audit.take_new();
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::uint16_t Server::port() const { return impl_->port; }

std::string Server::issue_token() { return impl_->tokens.issue(Clock::now()); }

std::string Server::sign_in_url(const std::string& token) const {
    return fmt::format("http://127.0.0.1:{}/?token={}", impl_->port, token);
}

void Server::run() {
    auto& i = *impl_;
    i.signals.async_wait([this](const error_code& ec, int) {
        if (!ec) stop();
    });
    asio::co_spawn(i.ioc, i.accept_loop(), asio::detached);
    if (i.control) asio::co_spawn(i.ioc, i.control_loop(), asio::detached);
    i.follow_engine_events();
    i.ioc.run();
}

void Server::stop() {
    auto& i = *impl_;
    i.stopping = true;
    asio::post(i.ioc, [&i] {
        error_code ignored;
        i.acceptor.close(ignored);
        if (i.control) i.control->close(ignored);
        i.ioc.stop();
    });
}

Result<std::string> request_sign_in_url(const std::filesystem::path& control_socket) {
    asio::io_context ioc;
    asio::local::stream_protocol::socket s(ioc);
    error_code ec;
    s.connect(asio::local::stream_protocol::endpoint(control_socket.string()), ec);
    if (ec) return make_error(fmt::format("cannot reach the dashboard at {}: {}", control_socket.string(), ec.message()));
    std::string line;
    char buf[256];
    for (;;) {
        auto n = s.read_some(asio::buffer(buf), ec);
        line.append(buf, n);
        if (ec || line.find('\n') != std::string::npos) break;
    }
    auto nl = line.find('\n');
    if (nl == std::string::npos || line.rfind("http://127.0.0.1:", 0) != 0)
        return make_error("the dashboard's control socket gave no sign-in link");
    return line.substr(0, nl);
}

}  // namespace airlock::ui
