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
#include <optional>
#include <string>
#include <string_view>

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

// Reads one CRLF-terminated line (chunk-size line or trailer line) of at most `limit` bytes;
// returns its length including CRLF, leaving it at the front of `buf`.
template <class Stream>
asio::awaitable<std::pair<error_code, std::size_t>> read_line(
    Stream& s, beast::flat_buffer& buf, std::size_t limit, std::chrono::steady_clock::duration idle) {
    for (;;) {
        std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
        auto pos = have.find("\r\n");
        if (pos != std::string_view::npos) co_return std::pair{error_code{}, pos + 2};
        if (have.size() >= limit) co_return std::pair{error_code(beast::http::error::bad_chunk), 0};
        set_deadline(s, idle);
        auto [ec, n] = co_await s.async_read_some(buf.prepare(4096), token);
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

// Parses a chunk-size line ("1a;ext=x\r\n"); nullopt when malformed.
inline std::optional<std::uint64_t> parse_chunk_size(std::string_view line) {
    if (line.size() < 3 || line.substr(line.size() - 2) != "\r\n") return std::nullopt;
    line.remove_suffix(2);
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < line.size(); ++i) {
        char c = line[i];
        int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (v < 0) break;
        if (size >> 60) return std::nullopt;  // would overflow
        size = size * 16 + static_cast<std::uint64_t>(v);
    }
    if (i == 0) return std::nullopt;
    auto rest = line.substr(i);
    // chunk extensions: BWS ';' ... — visible characters and whitespace only
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() != ';') return std::nullopt;
    for (char c : rest)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return std::nullopt;
    return size;
}

// Relays a chunked body verbatim (the framing is checked, not re-encoded): size lines,
// data, CRLFs, the last chunk and trailers. A malformed chunk is `bad_chunk`.
template <class Src, class Dst>
asio::awaitable<error_code> relay_chunked(Src& src, beast::flat_buffer& buf, Dst& dst,
                                          std::chrono::steady_clock::duration idle, Transfer& t) {
    constexpr std::size_t line_limit = 4096;
    for (;;) {
        auto [ec, len] = co_await read_line(src, buf, line_limit, idle);
        if (ec) co_return ec;
        auto size = parse_chunk_size({static_cast<const char*>(buf.data().data()), len});
        if (!size) co_return error_code(beast::http::error::bad_chunk);
        // A whole chunk already received (a server-sent event, typically) leaves in one
        // write: one TLS record, not three.
        if (*size > 0 && *size <= 64 * 1024 && buf.size() >= len + *size + 2) {
            const char* p = static_cast<const char*>(buf.data().data());
            auto whole = static_cast<std::size_t>(len + *size + 2);
            if (p[whole - 2] != '\r' || p[whole - 1] != '\n') co_return error_code(beast::http::error::bad_chunk);
            if (auto wec = co_await write_all(dst, asio::buffer(p, whole), idle)) co_return wec;
            buf.consume(whole);
            t.bytes += *size;
            continue;
        }
        // Forward the size line, then the data and its CRLF.
        if (auto wec = co_await write_all(dst, asio::buffer(buf.data().data(), len), idle)) co_return wec;
        buf.consume(len);
        if (*size == 0) break;
        Transfer data;
        if (auto rec = co_await relay_length(src, buf, dst, *size, idle, data)) co_return rec;
        t.bytes += data.bytes;
        auto [cec, clen] = co_await read_line(src, buf, 2, idle);
        if (cec || clen != 2) co_return error_code(beast::http::error::bad_chunk);
        if (auto wec = co_await write_all(dst, asio::buffer(buf.data().data(), 2), idle)) co_return wec;
        buf.consume(2);
    }
    // Trailer section: lines until an empty one.
    for (std::size_t total = 0;;) {
        auto [ec, len] = co_await read_line(src, buf, line_limit, idle);
        if (ec) co_return ec;
        total += len;
        if (total > 64 * 1024) co_return error_code(beast::http::error::header_limit);
        if (auto wec = co_await write_all(dst, asio::buffer(buf.data().data(), len), idle)) co_return wec;
        buf.consume(len);
        if (len == 2) break;
    }
    co_return error_code{};
}

}  // namespace airlock::proxy::io
