#pragma once
// Internal to proxy/: the streaming primitives of the connection coroutine. Bodies are
// relayed as they arrive (no buffering beyond one read), so server-sent events reach the
// client event by event and a 1 GiB body passes in constant memory. Every read has a
// deadline: the caller's stream is a beast::tcp_stream (or TLS over one) whose expiry is
// reset before each read, so deadlines are for inactivity, not totals.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/chunked.hpp"

namespace airlock::proxy::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
inline constexpr auto token = asio::as_tuple(asio::use_awaitable);

// Counts what crossed, for the audit log.
struct Transfer {
    std::uint64_t bytes = 0;
};

template <class Stream>
void set_deadline(Stream& s, std::chrono::steady_clock::duration d) {
    beast::get_lowest_layer(s).expires_after(d);
}

// Reads until the buffer holds a full head (through CRLFCRLF) and returns its length;
// bytes after it stay in `buf`. Errors: eof before any byte (clean close), a timeout, or
// `message_size` when `limit` bytes arrive without the end of a head.
template <class Stream>
asio::awaitable<std::pair<error_code, std::size_t>> read_head(
    Stream& s, beast::flat_buffer& buf, std::size_t limit, std::chrono::steady_clock::duration idle) {
    std::size_t scanned = 0;
    for (;;) {
        std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
        auto from = scanned >= 3 ? scanned - 3 : 0;
        auto pos = have.find("\r\n\r\n", from);
        if (pos != std::string_view::npos) co_return std::pair{error_code{}, pos + 4};
        // A bare LF can never become a valid head: hand over what we have now so the
        // strict parser refuses it (400) instead of waiting for a CRLFCRLF that never comes.
        for (auto i = from; i < have.size(); ++i)
            if (have[i] == '\n' && (i == 0 || have[i - 1] != '\r')) co_return std::pair{error_code{}, have.size()};
        scanned = have.size();
        if (have.size() >= limit) co_return std::pair{error_code(beast::http::error::header_limit), 0};
        set_deadline(s, idle);
        // An empty buffer is a connection waiting for its next head: keep it small while it
        // waits (idle keep-alive connections are many); a head that needs more grows it.
        auto want = std::min<std::size_t>(have.empty() ? 2048 : 16 * 1024, limit + 1 - have.size());
        auto [ec, n] = co_await s.async_read_some(buf.prepare(want), token);
        if (ec) co_return std::pair{ec, 0};
        buf.commit(n);
    }
}

// Writes everything; the deadline covers the whole write (a stalled reader).
template <class Stream, class Buffers>
asio::awaitable<error_code> write_all(Stream& s, const Buffers& b, std::chrono::steady_clock::duration idle) {
    set_deadline(s, idle);
    auto [ec, n] = co_await asio::async_write(s, b, token);
    (void)n;
    co_return ec;
}

// Relays exactly `n` bytes from src (first what `buf` already holds) to dst.
template <class Src, class Dst>
asio::awaitable<error_code> relay_length(Src& src, beast::flat_buffer& buf, Dst& dst, std::uint64_t n,
                                         std::chrono::steady_clock::duration idle, Transfer& t) {
    constexpr std::size_t chunk = 64 * 1024;
    while (n > 0) {
        if (buf.size() == 0) {
            set_deadline(src, idle);
            auto [ec, got] = co_await src.async_read_some(
                buf.prepare(static_cast<std::size_t>(std::min<std::uint64_t>(n, chunk))), token);
            if (ec) co_return ec;
            buf.commit(got);
        }
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
        if (auto ec = co_await write_all(dst, asio::buffer(buf.data().data(), take), idle)) co_return ec;
        buf.consume(take);
        n -= take;
        t.bytes += take;
    }
    co_return error_code{};
}

// Relays until src closes (a response without length, or a tunnel direction). Returns no
// error for a clean EOF.
template <class Src, class Dst>
asio::awaitable<error_code> relay_to_eof(Src& src, beast::flat_buffer& buf, Dst& dst,
                                         std::chrono::steady_clock::duration idle, Transfer& t) {
    constexpr std::size_t chunk = 64 * 1024;
    for (;;) {
        if (buf.size() > 0) {
            if (auto ec = co_await write_all(dst, buf.data(), idle)) co_return ec;
            t.bytes += buf.size();
            buf.consume(buf.size());
        }
        set_deadline(src, idle);
        auto [ec, got] = co_await src.async_read_some(buf.prepare(chunk), token);
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) co_return error_code{};
        if (ec) co_return ec;
        buf.commit(got);
    }
}

// Relays a chunked body verbatim (the framing is checked, not re-encoded), one validated
// piece at a time: ChunkedDecoder (chunked.hpp) says what the bytes that have arrived are,
// and nothing it has not accepted is written. Validated pieces already received leave
// together (a whole server-sent event in one write: one TLS record, not three); nothing
// waits for a read while it could be written. A malformed body is `bad_chunk`, with the
// decoder's reason in `*reason` when given: the caller refuses the message and closes both
// connections (the peer has an incomplete body).
template <class Src, class Dst>
asio::awaitable<error_code> relay_chunked(Src& src, beast::flat_buffer& buf, Dst& dst,
                                          std::chrono::steady_clock::duration idle, Transfer& t,
                                          std::string* reason = nullptr) {
    constexpr std::uint64_t coalesce = 64 * 1024;
    ChunkedDecoder decoder;
    std::size_t ready = 0;  // validated bytes at the front of `buf`, not yet written
    for (;;) {
        const char* p = static_cast<const char*>(buf.data().data());
        auto step = decoder.step(std::string_view(p + ready, buf.size() - ready));
        if (step.kind == ChunkedStep::Kind::framing) {
            ready += static_cast<std::size_t>(step.length);
            continue;
        }
        if (step.kind == ChunkedStep::Kind::data && step.length <= coalesce && step.length <= buf.size() - ready) {
            ready += static_cast<std::size_t>(step.length);
            t.bytes += step.length;
            continue;
        }
        if (step.kind == ChunkedStep::Kind::bad) {
            if (reason) *reason = step.reason;
            co_return error_code(beast::http::error::bad_chunk);
        }
        if (ready > 0) {
            if (auto ec = co_await write_all(dst, asio::buffer(p, ready), idle)) co_return ec;
            buf.consume(ready);
            ready = 0;
        }
        if (step.kind == ChunkedStep::Kind::end) co_return error_code{};
        if (step.kind == ChunkedStep::Kind::data) {
            Transfer data;
            if (auto ec = co_await relay_length(src, buf, dst, step.length, idle, data)) co_return ec;
            t.bytes += data.bytes;
            continue;
        }
        // more
        set_deadline(src, idle);
        auto [ec, n] = co_await src.async_read_some(buf.prepare(4096), token);
        if (ec) co_return ec;
        buf.commit(n);
    }
}

}  // namespace airlock::proxy::io
