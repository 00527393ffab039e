#pragma once
// Internal to proxy/: one request/response exchange with an upstream, shared by
// interception (intercept.cpp) and plain HTTP forwarding (forward.cpp): the client's body
// goes up (send_body) while the response comes down (receive_response), so interim
// responses (100 Continue) reach the client before it sends its body.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/core.h>

#include <string>
#include <string_view>

#include "proxy/context.hpp"
#include "proxy/framing.hpp"
#include "proxy/http_request.hpp"
#include "proxy/io.hpp"
#include "proxy/reply.hpp"

namespace airlock::proxy {

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
asio::awaitable<error_code> send_body(const Deadlines& deadlines, From& from, beast::flat_buffer& buf, To& to,
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
asio::awaitable<error_code> receive_response(const Deadlines& deadlines, From& from, beast::flat_buffer& buf,
                                             To& to, const RequestHead& request, Exchange& x) {
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

}  // namespace airlock::proxy
