#include "proxy/forward.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/core.h>

#include "proxy/exchange.hpp"
#include "proxy/framing.hpp"
#include "proxy/policy.hpp"

namespace airlock::proxy {

using namespace asio::experimental::awaitable_operators;

namespace {

template <class From, class To>
asio::awaitable<error_code> pump(const Deadlines& deadlines, From& from, beast::flat_buffer& buf, To& to,
                                 io::Transfer& t) {
    auto ec = co_await io::relay_to_eof(from, buf, to, deadlines.tunnel_idle, t);
    error_code ignored;
    to.socket().shutdown(asio::socket_base::shutdown_send, ignored);
    co_return ec;
}

template <class Stream>
asio::awaitable<void> tunnel_impl(Context& ctx, const ClientConn& c, Stream client, beast::flat_buffer& buf,
                                  tcp_stream upstream, const HostPort& target, Clock::time_point t0) {
    static const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (auto ec = co_await io::write_all(client, asio::buffer(established), ctx.deadlines.handshake)) co_return;
    io::Transfer up, down;
    beast::flat_buffer upbuf;
    auto [e1, e2] = co_await (pump(ctx.deadlines, client, buf, upstream, up) &&
                              pump(ctx.deadlines, upstream, upbuf, client, down));
    auto r = record_for(c.who.name, "CONNECT", target.host, target.port, Decision::tunnel);
    r.status = 200;
    r.bytes_up = up.bytes;
    r.bytes_down = down.bytes;
    r.duration_ms = ms_since(t0);
    if (e1 || e2) r.error = (e1 ? e1 : e2).message();
    ctx.write_audit(r);
}

template <class Stream>
asio::awaitable<void> forward_plain_impl(Context& ctx, const ClientConn& c, Stream& client,
                                         beast::flat_buffer& buf, RequestHead head) {
    const auto& deadlines = ctx.deadlines;
    for (;;) {
        ++ctx.requests;
        auto t0 = Clock::now();
        auto record = record_for(c.who.name, head.method, "", 0, Decision::tunnel);
        record.path = head.target;
        auto fail = [&](FailureKind kind, const std::string& message, int status = 0) {
            record.status = status ? status : failure_info(kind).status;
            record.error = message;
            record.duration_ms = ms_since(t0);
            ctx.write_audit(record);
            return proxy_reply(kind, message, record.status);
        };
        auto target = parse_http_target(head.target);
        if (!target) {
            co_await send_reply(client, fail(FailureKind::bad_request, target.error().message));
            co_return;
        }
        record.host = target->host;
        record.port = target->port;
        auto rt = ctx.snapshot();
        ProxySettings settings = rt->config.proxy;
        Config plain_cfg = rt->config;
        plain_cfg.credentials.clear();  // plain HTTP never gets a credential
        plain_cfg.proxy.ports.push_back(80);
        Decision d = decide(target->host, target->port, c.who, plain_cfg);
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
            co_await (send_body(deadlines, client, buf, upstream, verdict, x) &&
                      receive_response(deadlines, upstream, ubuf, client, head, x));
        }
        if (!x.body_error.empty() && !x.response_started) {
            x.error_kind = FailureKind::bad_request;
            x.error = x.body_error;
        }
        if (!x.response_started) {
            int status = !x.body_error.empty() ? 400 : x.error_kind == FailureKind::timeout ? 504 : 502;
            // Built before the co_await (g++ 12 and conditional temporaries, see intercept.cpp).
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
        ctx.write_audit(record);
        if (x.close || x.upgraded || wants_close(head) || ctx.stopping) co_return;

        // Next request on this client connection.
        c.conn.idle = true;
        auto [hec, hlen] = co_await io::read_head(client, buf, max_request_head, deadlines.keep_alive);
        c.conn.idle = false;
        if (hec) co_return;
        std::string next_raw(static_cast<const char*>(buf.data().data()), hlen);
        buf.consume(hlen);
        auto next = parse_request_head(next_raw);
        if (!next) {
            co_await send_reply(client, proxy_reply(FailureKind::bad_request, next.error().message,
                                                    head_error_status(next_raw)));
            co_return;
        }
        auto again = c.worker.auth->authenticate(*next);
        if (!again || again->name != c.who.name || next->method == "CONNECT") {
            co_await send_reply(client, proxy_reply(FailureKind::auth, "proxy authentication required"));
            co_return;
        }
        head = std::move(*next);
    }
}

}  // namespace

asio::awaitable<void> tunnel(Context& ctx, const ClientConn& client, tcp_stream stream, beast::flat_buffer& buf,
                             tcp_stream upstream, const HostPort& target, Clock::time_point t0) {
    return tunnel_impl(ctx, client, std::move(stream), buf, std::move(upstream), target, t0);
}
asio::awaitable<void> tunnel(Context& ctx, const ClientConn& client, unix_stream stream, beast::flat_buffer& buf,
                             tcp_stream upstream, const HostPort& target, Clock::time_point t0) {
    return tunnel_impl(ctx, client, std::move(stream), buf, std::move(upstream), target, t0);
}

asio::awaitable<void> forward_plain(Context& ctx, const ClientConn& client, tcp_stream& stream,
                                    beast::flat_buffer& buf, RequestHead head) {
    return forward_plain_impl(ctx, client, stream, buf, std::move(head));
}
asio::awaitable<void> forward_plain(Context& ctx, const ClientConn& client, unix_stream& stream,
                                    beast::flat_buffer& buf, RequestHead head) {
    return forward_plain_impl(ctx, client, stream, buf, std::move(head));
}

}  // namespace airlock::proxy
