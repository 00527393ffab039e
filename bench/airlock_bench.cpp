// airlock-bench: the origin server and the measuring clients that bench/run drives.
//
//   airlock-bench origin --port P --cert F --key F --header NAME --secret S
//   airlock-bench latency     [target] --count N [--cold]      TTFB of N requests
//   airlock-bench connections [target] --concurrency C --seconds S [--count N] [--hosts FILE]
//   airlock-bench sse         [target] --events N --interval-ms M
//   airlock-bench idle        [target] --count N               open N, report, hold until stdin closes
//
// [target] = --ca FILE --host NAME --port P (the origin as the client names it) and either
// --direct IP:PORT [--send-header 'X-Bench-Key: S'] or --proxy IP:PORT [--auth NAME:TOKEN]. Results are one JSON line on
// stdout. Times are steady_clock (CLOCK_MONOTONIC), which all processes on the machine share,
// so the origin's event timestamps and the client's receive times compare directly.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto token = asio::as_tuple(asio::use_awaitable);
using tls = ssl::stream<tcp::socket>;

namespace {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

[[noreturn]] void die(const std::string& message) {
    fmt::print(stderr, "airlock-bench: {}\n", message);
    std::exit(2);
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

std::string base64(std::string_view in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
    return out;
}

tcp::endpoint parse_endpoint(const std::string& s) {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) die("expected IP:PORT, got " + s);
    error_code ec;
    auto ip = asio::ip::make_address(s.substr(0, colon), ec);
    if (ec) die("not an IP address: " + s);
    return {ip, static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1)))};
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A parsed HTTP head: status or method/path, lowercase field names.
struct Head {
    std::string method, path;
    int status = 0;
    std::map<std::string, std::string> fields;
};

Head parse_head(std::string_view raw, bool response) {
    Head h;
    auto eol = raw.find("\r\n");
    std::string_view first = raw.substr(0, eol);
    if (response) {
        auto sp = first.find(' ');
        if (sp != std::string_view::npos) h.status = std::atoi(std::string(first.substr(sp + 1, 3)).c_str());
    } else {
        auto sp1 = first.find(' ');
        auto sp2 = first.find(' ', sp1 + 1);
        h.method = std::string(first.substr(0, sp1));
        h.path = std::string(first.substr(sp1 + 1, sp2 - sp1 - 1));
    }
    std::size_t pos = eol + 2;
    while (pos < raw.size()) {
        auto end = raw.find("\r\n", pos);
        if (end == std::string_view::npos || end == pos) break;
        auto line = raw.substr(pos, end - pos);
        auto colon = line.find(':');
        if (colon != std::string_view::npos) {
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            h.fields[lower(std::string(line.substr(0, colon)))] = std::string(value);
        }
        pos = end + 2;
    }
    return h;
}

template <class Stream>
asio::awaitable<std::optional<Head>> read_head(Stream& s, std::string& buf, bool response) {
    auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", token);
    if (ec) co_return std::nullopt;
    auto h = parse_head(std::string_view(buf).substr(0, n), response);
    buf.erase(0, n);
    co_return h;
}

// Reads exactly n body bytes (first from buf) and discards them.
template <class Stream>
asio::awaitable<bool> discard(Stream& s, std::string& buf, std::uint64_t n) {
    auto take = std::min<std::uint64_t>(n, buf.size());
    buf.erase(0, take);
    n -= take;
    static thread_local std::vector<char> scratch(256 * 1024);
    while (n > 0) {
        auto [ec, got] = co_await s.async_read_some(
            asio::buffer(scratch.data(), std::min<std::uint64_t>(n, scratch.size())), token);
        if (ec) co_return false;
        n -= got;
    }
    co_return true;
}

// ---- origin --------------------------------------------------------------------------

struct OriginOptions {
    std::string header = "x-bench-key";
    std::string secret;
};

asio::awaitable<void> origin_session(tls s, const OriginOptions& o) {
    auto [hec] = co_await s.async_handshake(ssl::stream_base::server, token);
    if (hec) co_return;
    static const std::vector<char> pattern = [] {
        std::vector<char> v(256 * 1024);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + i % 26);
        return v;
    }();
    std::string buf;
    for (;;) {
        auto h = co_await read_head(s, buf, false);
        if (!h) break;
        bool close = lower(h->fields["connection"]) == "close";
        auto reply = [&](int status, std::string_view body) {
            return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{}", status,
                               status == 200 ? "OK" : status == 401 ? "Unauthorized" : "Error", body.size(),
                               close ? "Connection: close\r\n" : "", body);
        };
        std::uint64_t body_len = 0;
        if (auto it = h->fields.find("content-length"); it != h->fields.end()) body_len = std::stoull(it->second);
        if (h->fields.count("transfer-encoding")) {
            auto r = reply(411, "chunked bodies are not supported by this origin\n");
            co_await asio::async_write(s, asio::buffer(r), token);
            break;
        }
        auto key = h->fields.find(o.header);
        if (key == h->fields.end() || key->second != o.secret) {
            if (!co_await discard(s, buf, body_len)) break;
            auto r = reply(401, "missing or wrong credential header\n");
            auto [ec, n] = co_await asio::async_write(s, asio::buffer(r), token);
            if (ec || close) break;
            continue;
        }
        std::string path = h->path, query;
        if (auto q = path.find('?'); q != std::string::npos) {
            query = path.substr(q + 1);
            path.resize(q);
        }
        auto param = [&](const std::string& name, std::uint64_t fallback) {
            auto p = query.find(name + "=");
            return p == std::string::npos ? fallback : std::stoull(query.substr(p + name.size() + 1));
        };
        error_code ec;
        if (path == "/small") {
            if (!co_await discard(s, buf, body_len)) break;
            auto r = reply(200, "ok\n");
            std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(r), token);
        } else if (path.rfind("/bytes/", 0) == 0) {
            if (!co_await discard(s, buf, body_len)) break;
            std::uint64_t n = std::stoull(path.substr(7));
            auto head = fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n{}\r\n",
                                    n, close ? "Connection: close\r\n" : "");
            std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(head), token);
            while (!ec && n > 0) {
                auto take = std::min<std::uint64_t>(n, pattern.size());
                std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(pattern.data(), take), token);
                n -= take;
            }
        } else if (path == "/upload") {
            if (!co_await discard(s, buf, body_len)) break;
            auto r = reply(200, fmt::format("{}\n", body_len));
            std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(r), token);
        } else if (path == "/sse") {
            auto events = param("n", 100);
            auto interval = std::chrono::milliseconds(param("ms", 20));
            static const std::string head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                "Transfer-Encoding: chunked\r\n\r\n";
            std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(head), token);
            asio::steady_timer timer(s.get_executor());
            auto next = Clock::now();
            for (std::uint64_t i = 0; !ec && i < events; ++i) {
                next += interval;
                timer.expires_at(next);
                co_await timer.async_wait(token);
                auto data = fmt::format("data: {}\n\n", now_ns());
                auto chunk = fmt::format("{:x}\r\n{}\r\n", data.size(), data);
                std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(chunk), token);
            }
            if (!ec) std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer("0\r\n\r\n", 5), token);
        } else {
            auto r = reply(404, "not found\n");
            std::tie(ec, std::ignore) = co_await asio::async_write(s, asio::buffer(r), token);
        }
        if (ec || close) break;
    }
    error_code ignored;
    s.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
}

int run_origin(std::uint16_t port, const std::string& cert, const std::string& key, OriginOptions o) {
    asio::io_context ioc(1);
    ssl::context ctx(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    ctx.use_certificate_chain_file(cert);
    ctx.use_private_key_file(key, ssl::context::pem);
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), port});
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(token);
            if (ec) continue;
            sock.set_option(tcp::no_delay(true));
            asio::co_spawn(ioc, origin_session(tls(std::move(sock), ctx), o), asio::detached);
        }
    }, asio::detached);
    fmt::print("listening 127.0.0.1:{}\n", acceptor.local_endpoint().port());
    std::fflush(stdout);
    ioc.run();
    return 0;
}

// ---- clients -------------------------------------------------------------------------

struct Target {
    std::optional<tcp::endpoint> proxy, direct;
    std::string auth;  // base64 of NAME:TOKEN, or empty
    std::string host = "origin.bench.test";
    std::uint16_t port = 443;
    std::vector<std::string> hosts;  // for connections: cycle through these instead of host
};

enum class OpenResult { ok, refused, failed };

// Connects (through the proxy with CONNECT, or directly) and completes the TLS handshake.
asio::awaitable<OpenResult> open(tls& s, const Target& t, const std::string& host) {
    auto [cec] = co_await s.lowest_layer().async_connect(t.proxy ? *t.proxy : *t.direct, token);
    if (cec) co_return OpenResult::failed;
    s.lowest_layer().set_option(tcp::no_delay(true));
    if (t.proxy) {
        auto req = fmt::format("CONNECT {0}:{1} HTTP/1.1\r\nHost: {0}:{1}\r\n{2}\r\n", host, t.port,
                               t.auth.empty() ? "" : "Proxy-Authorization: Basic " + t.auth + "\r\n");
        auto [wec, wn] = co_await asio::async_write(s.next_layer(), asio::buffer(req), token);
        if (wec) co_return OpenResult::failed;
        std::string buf;
        auto h = co_await read_head(s.next_layer(), buf, true);
        if (!h) co_return OpenResult::failed;
        if (h->status == 503) co_return OpenResult::refused;
        if (h->status != 200 || !buf.empty()) co_return OpenResult::failed;
    }
    SSL_set_tlsext_host_name(s.native_handle(), host.c_str());
    s.set_verify_callback(ssl::host_name_verification(host));
    auto [hec] = co_await s.async_handshake(ssl::stream_base::client, token);
    co_return hec ? OpenResult::failed : OpenResult::ok;
}

std::string request_extra;  // --send-header lines, added to every request

std::string request(const std::string& host, std::uint16_t port, const std::string& path, bool close) {
    return fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: airlock-bench\r\n{}{}\r\n", path, host, port,
                       request_extra, close ? "Connection: close\r\n" : "");
}

// Sends a GET and reads the whole response; returns the status (0 on failure) and sets
// ttfb_ns to the time from `start` to the first response byte.
asio::awaitable<int> get(tls& s, std::string& buf, const std::string& req, std::int64_t start, std::int64_t* ttfb_ns) {
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), token);
    if (wec) co_return 0;
    if (buf.empty()) {
        buf.resize(4096);
        auto [rec, got] = co_await s.async_read_some(asio::buffer(buf), token);
        if (rec) co_return 0;
        buf.resize(got);
    }
    if (ttfb_ns) *ttfb_ns = now_ns() - start;
    auto h = co_await read_head(s, buf, true);
    if (!h) co_return 0;
    std::uint64_t len = 0;
    if (auto it = h->fields.find("content-length"); it != h->fields.end()) len = std::stoull(it->second);
    if (!co_await discard(s, buf, len)) co_return 0;
    co_return h->status;
}

struct Percentiles {
    static std::string of(std::vector<std::int64_t> v, const char* prefix) {
        if (v.empty()) return fmt::format("\"{0}_n\":0", prefix);
        std::sort(v.begin(), v.end());
        auto at = [&](double q) {
            auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
            return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1000.0;
        };
        return fmt::format("\"{0}_n\":{1},\"{0}_p50_us\":{2:.1f},\"{0}_p99_us\":{3:.1f},\"{0}_max_us\":{4:.1f}",
                           prefix, v.size(), at(0.5), at(0.99), static_cast<double>(v.back()) / 1000.0);
    }
};

ssl::context client_context(const std::string& ca) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(ca);
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

int run_latency(const Target& t, ssl::context& ctx, int count, bool cold) {
    asio::io_context ioc(1);
    std::vector<std::int64_t> ttfb;
    int failures = 0;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        if (cold) {
            for (int i = 0; i < count + 10; ++i) {
                tls s(ioc, ctx);
                auto start = now_ns();
                std::int64_t t1 = 0;
                std::string buf;
                if (co_await open(s, t, t.host) != OpenResult::ok ||
                    co_await get(s, buf, request(t.host, t.port, "/small", true), start, &t1) != 200) {
                    ++failures;
                    continue;
                }
                if (i >= 10) ttfb.push_back(t1);  // the first ten warm the caches
            }
        } else {
            tls s(ioc, ctx);
            if (co_await open(s, t, t.host) != OpenResult::ok) {
                failures = count;
                co_return;
            }
            auto req = request(t.host, t.port, "/small", false);
            std::string buf;
            for (int i = 0; i < count + 100; ++i) {
                std::int64_t t1 = 0;
                if (co_await get(s, buf, req, now_ns(), &t1) != 200) {
                    ++failures;
                    break;
                }
                if (i >= 100) ttfb.push_back(t1);
            }
        }
    }, asio::detached);
    ioc.run();
    fmt::print("{{\"failures\":{},{}}}\n", failures, Percentiles::of(ttfb, "ttfb"));
    return failures ? 1 : 0;
}

int run_connections(const Target& t, ssl::context& ctx, int concurrency, double seconds, std::uint64_t count) {
    asio::io_context ioc(1);
    std::uint64_t ok = 0, failed = 0, refused = 0, next_host = 0, started_n = 0;
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::int64_t> ttfb;
    auto started = Clock::now();
    for (int w = 0; w < concurrency; ++w) {
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
            while (Clock::now() < end && (count == 0 || started_n < count)) {
                ++started_n;
                const std::string& host = t.hosts.empty() ? t.host : t.hosts[next_host++ % t.hosts.size()];
                tls s(ioc, ctx);
                auto start = now_ns();
                std::int64_t t1 = 0;
                std::string buf;
                auto r = co_await open(s, t, host);
                if (r == OpenResult::ok && co_await get(s, buf, request(host, t.port, "/small", true), start, &t1) == 200) {
                    ++ok;
                    ttfb.push_back(t1);
                } else {
                    ++(r == OpenResult::refused ? refused : failed);
                }
            }
        }, asio::detached);
    }
    ioc.run();
    double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    fmt::print("{{\"ok\":{},\"failed\":{},\"refused\":{},\"seconds\":{:.3f},\"rate\":{:.1f},{}}}\n", ok, failed,
               refused, elapsed, static_cast<double>(ok) / elapsed, Percentiles::of(ttfb, "ttfb"));
    return failed ? 1 : 0;
}

int run_sse(const Target& t, ssl::context& ctx, int events, int interval_ms) {
    asio::io_context ioc(1);
    std::vector<std::int64_t> delays;
    bool failed = false;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        tls s(ioc, ctx);
        if (co_await open(s, t, t.host) != OpenResult::ok) {
            failed = true;
            co_return;
        }
        auto req = request(t.host, t.port, fmt::format("/sse?n={}&ms={}", events, interval_ms), false);
        co_await asio::async_write(s, asio::buffer(req), token);
        std::string buf;
        auto h = co_await read_head(s, buf, true);
        if (!h || h->status != 200) {
            failed = true;
            co_return;
        }
        // Every "data: <ns>\n\n" is timed when the bytes that complete it arrive.
        std::string pending = buf;
        std::size_t scan = 0;
        for (;;) {
            for (;;) {
                auto p = pending.find("data: ", scan);
                if (p == std::string::npos) break;
                auto e = pending.find("\n\n", p);
                if (e == std::string::npos) break;
                delays.push_back(now_ns() - std::stoll(pending.substr(p + 6, e - p - 6)));
                scan = e + 2;
            }
            if (static_cast<int>(delays.size()) >= events) break;
            char tmp[4096];
            auto [ec, n] = co_await s.async_read_some(asio::buffer(tmp), token);
            if (ec) break;
            pending.append(tmp, n);
        }
        if (static_cast<int>(delays.size()) < events) failed = true;
    }, asio::detached);
    ioc.run();
    fmt::print("{{\"failed\":{},{}}}\n", failed, Percentiles::of(delays, "delay"));
    return failed ? 1 : 0;
}

int run_idle(const Target& t, ssl::context& ctx, int count) {
    asio::io_context ioc(1);
    std::vector<std::unique_ptr<tls>> streams;
    std::uint64_t ok = 0, refused = 0, failed = 0;
    int next = 0;
    const int parallel = 32;
    for (int w = 0; w < parallel; ++w) {
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
            while (next < count) {
                ++next;
                auto s = std::make_unique<tls>(ioc, ctx);
                std::string buf;
                auto r = co_await open(*s, t, t.host);
                if (r == OpenResult::ok && co_await get(*s, buf, request(t.host, t.port, "/small", false), now_ns(), nullptr) == 200) {
                    ++ok;
                    streams.push_back(std::move(s));
                } else {
                    ++(r == OpenResult::refused ? refused : failed);
                }
            }
        }, asio::detached);
    }
    ioc.run();
    fmt::print("{{\"open\":{},\"refused\":{},\"failed\":{}}}\n", ok, refused, failed);
    std::fflush(stdout);
    // Hold the connections open until the caller has measured and closes our stdin.
    std::string line;
    std::getline(std::cin, line);
    return 0;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) die("cannot read " + path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(l);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) die("usage: airlock-bench origin|latency|connections|sse|idle [options]");
    raise_fd_limit();
    std::string mode = argv[1];
    std::map<std::string, std::string> opt;
    std::vector<std::string> flags;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0) die("unexpected argument " + a);
        if (a == "--cold") {
            flags.push_back(a);
            continue;
        }
        if (i + 1 >= argc) die("missing value for " + a);
        opt[a.substr(2)] = argv[++i];
    }
    auto get_opt = [&](const std::string& k, const std::string& fallback = {}) {
        auto it = opt.find(k);
        if (it != opt.end()) return it->second;
        if (fallback.empty()) die("missing --" + k);
        return fallback;
    };
    try {
        if (mode == "origin") {
            OriginOptions o;
            o.header = lower(get_opt("header", "X-Bench-Key"));
            o.secret = get_opt("secret");
            return run_origin(static_cast<std::uint16_t>(std::stoi(get_opt("port", "0"))), get_opt("cert"),
                              get_opt("key"), o);
        }
        Target t;
        if (opt.count("proxy")) t.proxy = parse_endpoint(opt["proxy"]);
        else t.direct = parse_endpoint(get_opt("direct"));
        if (opt.count("auth")) t.auth = base64(opt["auth"]);
        t.host = get_opt("host", "origin.bench.test");
        t.port = static_cast<std::uint16_t>(std::stoi(get_opt("port")));
        if (opt.count("hosts")) t.hosts = read_lines(opt["hosts"]);
        if (opt.count("send-header")) request_extra = opt["send-header"] + "\r\n";
        auto ctx = client_context(get_opt("ca"));
        if (mode == "latency")
            return run_latency(t, ctx, std::stoi(get_opt("count", "1000")),
                               std::find(flags.begin(), flags.end(), "--cold") != flags.end());
        if (mode == "connections")
            return run_connections(t, ctx, std::stoi(get_opt("concurrency", "8")), std::stod(get_opt("seconds", "5")),
                                   std::stoull(get_opt("count", "0")));
        if (mode == "sse") return run_sse(t, ctx, std::stoi(get_opt("events", "250")), std::stoi(get_opt("interval-ms", "20")));
        if (mode == "idle") return run_idle(t, ctx, std::stoi(get_opt("count", "1000")));
        die("unknown mode " + mode);
    } catch (const std::exception& e) {
        die(e.what());
    }
}
