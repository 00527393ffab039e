#include "proxy/intercept.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/core.h>
#include <openssl/ssl.h>

#include <variant>

#include "proxy/exchange.hpp"
#include "proxy/framing.hpp"
#include "proxy/hosts.hpp"
#include "proxy/http_request.hpp"
#include "proxy/login_hook.hpp"
#include "proxy/policy.hpp"
#include "proxy/rules.hpp"

namespace airlock::proxy {

using namespace asio::experimental::awaitable_operators;
using io::token;

namespace {

// The upstream side of an intercepted tunnel, kept from one request to the next.
struct UpstreamSide {
    UpstreamKey key;                  // what `tls` carries requests for; its generation is
                                      // the configuration `tls` / `fresh` were made under
    std::unique_ptr<tls_stream> tls;  // pooled, or kept from this tunnel's last exchange
    std::optional<tcp_stream> fresh;  // connected, TLS not started yet
    bool reusable = false;            // `tls` is idle after a complete exchange
    beast::flat_buffer buf;           // what was read from `tls` and not yet relayed
};

// One request as it goes upstream: the head (credential already set) and, in `bytes`, its
// serialisation plus `coalesced` body bytes that arrived with it; the rest of the body
// (per `verdict`) still comes from the client.
struct Outgoing {
    const RequestHead& head;
    std::string bytes;
    std::uint64_t coalesced = 0;
    FramingVerdict verdict;
};

// Sends one request and relays its response, over `up.tls` (or a connection from the
// pool, or a new one). An upstream kept idle (pooled, or from this tunnel's last exchange)
// may have been closed by the server meanwhile: when the request is whole in `req.bytes`
// and the connection closed without an answer (not a timeout), it is sent once more on a
// new connection. False when no upstream connection could be made (`x` says why).
template <class Client>
asio::awaitable<bool> exchange_with_retry(Context& ctx, const ClientConn& c, Client& client, beast::flat_buffer& buf,
                                          UpstreamSide& up, const Runtime& rt, const Outgoing& req, Exchange& x) {
    const auto& deadlines = ctx.deadlines;
    const std::string& host = up.key.host;
    for (int attempt = 0;; ++attempt) {
        if (!up.tls && !up.fresh && attempt == 0) up.tls = take_pooled(c.worker, up.key);
        bool was_idle = up.tls != nullptr;
        up.reusable = false;
        if (!up.tls) {
            if (!up.fresh) {
                auto [failure, s] = co_await connect_upstream(host, up.key.port, rt.config.proxy,
                                                              host_configured(host, rt.config), deadlines);
                if (failure) {
                    x.error_kind = failure.kind;
                    x.error = failure.message;
                    co_return false;
                }
                up.fresh.emplace(std::move(s));
            }
            up.tls = std::make_unique<tls_stream>(std::move(*up.fresh), *rt.upstream_tls);
            up.fresh.reset();
            up.buf.clear();
            if (auto failure = co_await handshake_upstream(*up.tls, host, deadlines)) {
                up.tls.reset();
                x.error_kind = failure.kind;
                x.error = failure.message;
                co_return false;
            }
            ++ctx.upstream_handshakes;
            if (SSL_session_reused(up.tls->native_handle())) ++ctx.upstream_resumed;
        }
        x = Exchange{};
        x.up.bytes = req.coalesced;
        if (auto wec = co_await io::write_all(*up.tls, asio::buffer(req.bytes), deadlines.body_idle)) {
            x.error_kind = error_kind(wec);
            x.error = fmt::format("upstream {}: {}", host, wec.message());
            x.close = true;
        } else {
            co_await (send_body(deadlines, client, buf, *up.tls, req.verdict, x) &&
                      receive_response(deadlines, *up.tls, up.buf, client, req.head, x));
        }
        if (!x.response_started && was_idle && attempt == 0 && req.verdict.body == FramingVerdict::Body::none &&
            x.error_kind != FailureKind::timeout && !ctx.stopping) {
            up.tls.reset();
            continue;
        }
        up.reusable = x.response_started && !x.close && !x.upgraded && up.buf.size() == 0;
        co_return true;
    }
}

// A WebSocket after its 101: frames are relayed both ways as they come until either side
// closes (or both stay idle for deadlines.tunnel_idle); then the tunnel ends and both are
// closed. Counts the bytes each way (what `buf` and `up.buf` already hold included) into
// `record`, and the first error.
template <class Client>
asio::awaitable<void> relay_websocket(const Deadlines& deadlines, Client& client, beast::flat_buffer& buf,
                                      UpstreamSide& up, AuditRecord& record) {
    io::Transfer sent, received;
    auto ended = co_await (io::relay_to_eof(client, buf, *up.tls, deadlines.tunnel_idle, sent) ||
                           io::relay_to_eof(*up.tls, up.buf, client, deadlines.tunnel_idle, received));
    record.bytes_up += sent.bytes;
    record.bytes_down += received.bytes;
    auto ec = std::visit([](const error_code& e) { return e; }, ended);
    if (ec && record.error.empty()) record.error = fmt::format("websocket: {}", ec.message());
}

template <class Stream>
asio::awaitable<void> intercept_impl(Context& ctx, const ClientConn& c, Stream client_tcp, beast::flat_buffer& buf,
                                     InterceptTarget target) {
    const auto& deadlines = ctx.deadlines;
    const std::string& host = target.host;
    const std::uint16_t port = target.port;
    const std::string& rule_name = target.rule;
    auto leaf = ctx.leaves->get(host);
    if (!leaf) {
        co_await send_reply(client_tcp, proxy_reply(FailureKind::tls, leaf.error().message));
        co_return;
    }
    static const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (auto ec = co_await io::write_all(client_tcp, asio::buffer(established), deadlines.handshake)) co_return;

    SSL_CTX_up_ref((*leaf)->server_context);
    asio::ssl::context server_ctx((*leaf)->server_context);  // the stream keeps its own reference
    beast::ssl_stream<Stream> client(std::move(client_tcp), server_ctx);
    c.conn.watch(beast::get_lowest_layer(client));

    beast::get_lowest_layer(client).expires_after(deadlines.handshake);
    auto [hec, used] = co_await client.async_handshake(asio::ssl::stream_base::server, buf.data(), token);
    if (hec) {
        ctx.log(fmt::format("{}: TLS handshake with client for {} failed: {}", c.who.name, host, hec.message()));
        co_return;
    }
    buf.consume(used);
    const char* sni = SSL_get_servername(client.native_handle(), TLSEXT_NAMETYPE_host_name);
    bool ip_host = host.find(':') != std::string::npos ||
                   host.find_first_not_of("0123456789.") == std::string::npos;
    if ((sni && !server_name_matches(sni, HostPort{host, port})) || (!sni && !ip_host)) {
        auto r = record_for(c.who.name, "CONNECT", host, port, Decision::intercept);
        r.rule = rule_name;
        r.error = fmt::format("TLS server name '{}' does not match the CONNECT host {}", sni ? sni : "", host);
        ctx.write_audit(r);
        ctx.log(fmt::format("{}: {}", c.who.name, r.error));
        beast::get_lowest_layer(client).expires_after(std::chrono::seconds(5));
        co_await client.async_shutdown(token);
        co_return;
    }

    UpstreamSide up;
    up.key = UpstreamKey{c.who.name, host, port, rule_name, target.generation};
    up.tls = std::move(target.pooled);
    if (target.fresh) up.fresh.emplace(std::move(*target.fresh));
    bool first = true;

    for (;;) {
        c.conn.idle = !first;
        if (!first && ctx.stopping) break;
        // Between requests the buffers hold nothing: give their memory back.
        if (buf.size() == 0) buf.shrink_to_fit();
        if (up.buf.size() == 0) up.buf.shrink_to_fit();
        auto [ec, len] = co_await io::read_head(client, buf, max_request_head,
                                                first ? deadlines.request_head : deadlines.keep_alive);
        c.conn.idle = false;
        first = false;
        if (ec) {
            if (ec == beast::http::error::header_limit)
                co_await send_reply(client, proxy_reply(FailureKind::head_too_large, "request head larger than 64 KiB"));
            break;
        }
        auto t0 = Clock::now();
        std::string raw(static_cast<const char*>(buf.data().data()), len);
        buf.consume(len);
        ++ctx.requests;
        auto record = record_for(c.who.name, "", host, port, Decision::intercept);
        record.rule = rule_name;

        auto head = parse_request_head(raw);
        if (!head) {
            record.status = head_error_status(raw);
            record.error = head.error().message;
            ctx.write_audit(record);
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
            ctx.write_audit(record);
            co_await send_reply(client, proxy_reply(FailureKind::method, record.error));
            break;
        }
        auto verdict = check_framing(*head, host, port);
        if (!verdict.ok) {
            record.status = verdict.status;
            record.error = verdict.reason;
            ctx.write_audit(record);
            co_await send_reply(client, proxy_reply(verdict.status == 421 ? FailureKind::misdirected : FailureKind::bad_request,
                                                    verdict.reason, verdict.status));
            break;
        }
        // The client must still exist: a removed client is refused at its next request.
        auto current = c.worker.auth->authenticate(c.creds);
        if (!current) {
            record.status = 407;
            record.error = "proxy client removed";
            ctx.write_audit(record);
            co_await send_reply(client, proxy_reply(FailureKind::auth, "this proxy client no longer exists"));
            break;
        }

        // Rules and secrets as of now: every request is decided again, so a reload applies
        // from the next request on. A tunnel intercepted for one rule carries only that
        // rule's credential: when the host now has another rule, or none (it would be
        // tunnelled or denied), the client must open a new tunnel (421: clients retry on a
        // new connection).
        auto rt = ctx.snapshot();
        Decision now = decide(host, port, *current, rt->config);
        if (now.kind != Decision::intercept || now.rule->name != rule_name) {
            record.status = 421;
            record.error = fmt::format("the credential rules for {} changed since this tunnel opened", host);
            ctx.write_audit(record);
            co_await send_reply(client, proxy_reply(FailureKind::misdirected, record.error + "; open a new connection"));
            break;
        }
        // Upstream connections made under an earlier configuration are not used again.
        if (up.key.generation != rt->generation) {
            up.tls.reset();
            up.fresh.reset();
            up.key.generation = rt->generation;
        }
        // A subscription login: the proxy answers the CLI's own refreshes and expired logins
        // itself, else the current access token goes in (login_hook.hpp).
        std::string login_token;
        if (!now.rule->login.empty()) {
            auto step = co_await login_step(*ctx.logins, *head, *now.rule, host, record);
            if (!step.reply.empty()) {
                ctx.write_audit(record);
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
            ctx.log(fmt::format("credential {}: {}", rule_name, prepared.credential_error));
        const bool close_after = prepared.close_client;

        Outgoing req{*head, head->serialize(), 0, verdict};
        // A small body already received goes out with the head, in one TLS record.
        if (req.verdict.body == FramingVerdict::Body::content_length && req.verdict.content_length <= coalesce_limit &&
            buf.size() >= req.verdict.content_length) {
            auto n = static_cast<std::size_t>(req.verdict.content_length);
            req.bytes.append(static_cast<const char*>(buf.data().data()), n);
            buf.consume(n);
            req.coalesced = n;
            req.verdict.body = FramingVerdict::Body::none;
        }

        Exchange x;
        if (!co_await exchange_with_retry(ctx, c, client, buf, up, *rt, req, x)) {
            record.status = failure_info(x.error_kind).status;
            record.error = x.error;
            ctx.write_audit(record);
            co_await send_reply(client, proxy_reply(x.error_kind, x.error));
            break;
        }

        if (!x.body_error.empty() && !x.response_started) {
            x.error_kind = FailureKind::bad_request;
            x.error = x.body_error;
        }
        record.status = x.response_started ? x.status
                        : !x.body_error.empty() ? 400 : (x.error_kind == FailureKind::timeout ? 504 : 502);
        if (!login_token.empty() && x.status == 401) ctx.logins->unauthorized(rule_name, login_token);
        record.bytes_up = x.up.bytes;
        record.bytes_down = x.down.bytes;
        record.duration_ms = ms_since(t0);
        record.error = x.error;
        if (!x.upgraded) ctx.write_audit(record);  // a WebSocket's record waits for its end
        if (!x.response_started) {
            // Built before the co_await: g++ 12 destroys conditional-operator temporaries
            // of a co_await expression twice.
            auto reply = proxy_reply(x.error_kind == FailureKind::none ? FailureKind::reset : x.error_kind,
                                     x.error.empty() ? "upstream failed" : x.error, record.status);
            co_await send_reply(client, std::move(reply));
            break;
        }
        if (x.upgraded) {
            co_await relay_websocket(deadlines, client, buf, up, record);
            record.duration_ms = ms_since(t0);
            ctx.write_audit(record);
            break;
        }
        if (x.close || close_after) break;
        // Until the next request the upstream connection waits in the pool, so that idle
        // client connections do not each hold one (the next request takes it back, or
        // another, or connects anew).
        if (up.reusable && !ctx.stopping) put_pooled(c.worker, up.key, std::move(up.tls));
    }

    // An idle upstream after a complete exchange waits for this client's next connection.
    if (up.tls && up.reusable && !ctx.stopping && up.key.generation == ctx.snapshot()->generation)
        put_pooled(c.worker, up.key, std::move(up.tls));
    // Close both sides politely; a peer that vanished makes these fail quickly.
    beast::get_lowest_layer(client).expires_after(std::chrono::seconds(2));
    co_await client.async_shutdown(token);
    if (up.tls) {
        beast::get_lowest_layer(*up.tls).expires_after(std::chrono::seconds(2));
        co_await up.tls->async_shutdown(token);
    }
}

}  // namespace

asio::awaitable<void> intercept(Context& ctx, const ClientConn& client, tcp_stream stream, beast::flat_buffer& buf,
                                InterceptTarget target) {
    return intercept_impl(ctx, client, std::move(stream), buf, std::move(target));
}
asio::awaitable<void> intercept(Context& ctx, const ClientConn& client, unix_stream stream, beast::flat_buffer& buf,
                                InterceptTarget target) {
    return intercept_impl(ctx, client, std::move(stream), buf, std::move(target));
}

}  // namespace airlock::proxy
