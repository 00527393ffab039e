#include "backends/docker/engine_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fcntl.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <utility>

namespace airlock::docker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using error_code = boost::system::error_code;
using Sink = std::function<bool(std::string_view)>;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
using plain_stream = beast::basic_stream<asio::generic::stream_protocol>;
constexpr std::chrono::seconds kConnectTimeout{30};

// What one exchange produced; filled by the coroutine, read after io_context::run().
struct Outcome {
    EngineResponse response;
    std::optional<std::string> error;
    std::exception_ptr exception;
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string unreachable(const EngineEndpoint& ep, error_code ec) {
    if (ec == asio::error::access_denied || ec == asio::error::no_permission)
        return fmt::format("cannot reach the Docker engine at {}: permission denied; add your user to the docker "
                           "group ('sudo usermod -aG docker $USER', then log in again) or set DOCKER_HOST",
                           ep.display());
    std::string why = ec == beast::error::timeout ? fmt::format("no answer within {} s", kConnectTimeout.count())
                                                  : ec.message();
    return fmt::format("cannot reach the Docker engine at {}: {}; start it (e.g. 'sudo systemctl start docker' or "
                       "'scripts/ensure-docker') or set DOCKER_HOST",
                       ep.display(), why);
}

std::string broken(const EngineEndpoint& ep, const std::string& what, const EngineRequest& r, error_code ec) {
    if (ec == beast::error::timeout)
        return fmt::format("the Docker engine at {} did not answer {} within {} s; check that it is healthy "
                           "('docker info')",
                           ep.display(), what, r.idle_timeout ? r.idle_timeout->count() : 0);
    return fmt::format("the connection to the Docker engine at {} failed during {}: {}", ep.display(), what,
                       ec.message());
}

void arm(plain_stream& s, const std::optional<std::chrono::seconds>& timeout) {
    if (timeout) s.expires_after(*timeout);
    else s.expires_never();
}

// Sends the request and reads the response; with a sink, hands a 2xx body over as it arrives.
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, plain_stream& lowest, const EngineEndpoint& ep,
                               const http::request<http::string_body>& req, const EngineRequest& r,
                               const Sink* sink, const std::string& what, Outcome& out) {
    arm(lowest, r.idle_timeout);
    auto [wec, written] = co_await http::async_write(stream, req, token);
    (void)written;
    if (wec) {
        out.error = broken(ep, what, r, wec);
        co_return;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);  // logs --follow may run for days; pieces are cleared below
    if (req.method() == http::verb::head) parser.skip(true);
    arm(lowest, r.idle_timeout);
    auto [hec, head_bytes] = co_await http::async_read_header(stream, buf, parser, token);
    (void)head_bytes;
    if (hec) {
        out.error = broken(ep, what, r, hec);
        co_return;
    }
    out.response.status = parser.get().result_int();
    for (const auto& field : parser.get()) out.response.headers[lower(field.name_string())] = std::string(field.value());
    const bool streaming = sink && out.response.status / 100 == 2;
    while (!parser.is_done()) {
        arm(lowest, r.idle_timeout);
        auto [ec, n] = co_await http::async_read_some(stream, buf, parser, token);
        (void)n;
        if (ec) {
            out.error = broken(ep, what, r, ec);
            co_return;
        }
        auto& body = parser.get().body();
        if (streaming && !body.empty()) {
            bool more = (*sink)(std::string_view(body));
            body.clear();
            if (!more) co_return;
        }
    }
    if (!streaming) out.response.body = std::move(parser.get().body());
}

// Connects `lowest` to the engine; the error message when that fails.
asio::awaitable<std::optional<std::string>> connect_engine(const EngineEndpoint& ep, plain_stream& lowest) {
    auto ex = co_await asio::this_coro::executor;
    if (ep.kind == EngineEndpoint::unix_socket) {
        if (ep.path.size() >= sizeof(sockaddr_un::sun_path))
            co_return fmt::format("cannot reach the Docker engine at {}: the socket path is too long", ep.display());
        asio::local::stream_protocol::endpoint local(ep.path);
        lowest.expires_after(kConnectTimeout);
        auto [ec] = co_await lowest.async_connect(asio::generic::stream_protocol::endpoint(local), token);
        if (ec) co_return unreachable(ep, ec);
    } else {
        asio::ip::tcp::resolver resolver(ex);
        auto [rec, results] = co_await resolver.async_resolve(ep.host, std::to_string(ep.port), token);
        if (rec) co_return unreachable(ep, rec);
        error_code last = asio::error::host_not_found;
        bool connected = false;
        for (const auto& entry : results) {
            lowest.expires_after(kConnectTimeout);
            auto [cec] = co_await lowest.async_connect(asio::generic::stream_protocol::endpoint(entry.endpoint()), token);
            if (!cec) {
                connected = true;
                break;
            }
            last = cec;
            error_code ignored;
            lowest.socket().close(ignored);
        }
        if (!connected) co_return unreachable(ep, last);
        int one = 1;
        ::setsockopt(lowest.socket().native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    co_return std::nullopt;
}

asio::awaitable<void> run(const EngineEndpoint& ep, asio::ssl::context* tls,
                          const http::request<http::string_body>& req, const EngineRequest& r, const Sink* sink,
                          const std::string& what, Outcome& out) {
    auto ex = co_await asio::this_coro::executor;
    plain_stream lowest(ex);
    if (auto failed = co_await connect_engine(ep, lowest)) {
        out.error = std::move(*failed);
        co_return;
    }
    if (!tls) {
        co_await exchange(lowest, lowest, ep, req, r, sink, what, out);
        co_return;
    }
    asio::ssl::stream<plain_stream&> secure(lowest, *tls);
    error_code not_ip;
    asio::ip::make_address(ep.host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(secure.native_handle(), ep.host.c_str());
    secure.set_verify_callback(asio::ssl::host_name_verification(ep.host));
    lowest.expires_after(kConnectTimeout);
    auto [hec] = co_await secure.async_handshake(asio::ssl::stream_base::client, token);
    if (hec) {
        out.error = fmt::format("the TLS handshake with the Docker engine at {} failed: {}; check DOCKER_CERT_PATH "
                                "({}: ca.pem, cert.pem, key.pem)",
                                ep.display(), hec.message(), ep.cert_path);
        co_return;
    }
    co_await exchange(secure, lowest, ep, req, r, sink, what, out);
}

}  // namespace

std::string EngineEndpoint::display() const {
    if (kind == unix_socket) return "unix://" + path;
    bool v6 = host.find(':') != std::string::npos;
    return fmt::format("tcp://{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

std::string engine_message(std::string_view body) {
    std::string text(body);
    error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object()) {
        if (const auto* m = v.as_object().if_contains("message"); m && m->is_string()) text = m->as_string().c_str();
    }
    for (char& c : text)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    auto first = text.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

struct EngineClient::Impl {
    EngineEndpoint endpoint;
    asio::io_context ioc{1};
    std::unique_ptr<asio::ssl::context> tls;  // built on first use
    std::optional<std::string> version;       // negotiated on first use

    Result<asio::ssl::context*> tls_context() {
        if (!endpoint.tls) return static_cast<asio::ssl::context*>(nullptr);
        if (tls) return tls.get();
        auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        const auto fail = [&](const std::string& file, const error_code& ec) {
            return make_error(fmt::format("cannot load {}/{} for TLS to the Docker engine at {}: {}; set "
                                          "DOCKER_CERT_PATH to a directory with ca.pem, cert.pem and key.pem",
                                          endpoint.cert_path, file, endpoint.display(), ec.message()));
        };
        error_code ec;
        ctx->load_verify_file(endpoint.cert_path + "/ca.pem", ec);
        if (ec) return fail("ca.pem", ec);
        ctx->use_certificate_chain_file(endpoint.cert_path + "/cert.pem", ec);
        if (ec) return fail("cert.pem", ec);
        ctx->use_private_key_file(endpoint.cert_path + "/key.pem", asio::ssl::context::pem, ec);
        if (ec) return fail("key.pem", ec);
        ctx->set_verify_mode(asio::ssl::verify_peer);
        SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
        tls = std::move(ctx);
        return tls.get();
    }

    Result<EngineResponse> perform(const EngineRequest& r, const Sink* sink, bool versioned) {
        std::string prefix;
        if (versioned) {
            auto v = negotiate();
            if (!v) return v.error();
            prefix = "/v" + *v;
        }
        auto verb = http::string_to_verb(r.method);
        if (verb == http::verb::unknown) return make_error(fmt::format("unknown HTTP method '{}'", r.method));
        auto tls_ctx = tls_context();
        if (!tls_ctx) return tls_ctx.error();

        http::request<http::string_body> req{verb, prefix + r.target, 11};
        req.set(http::field::host, endpoint.kind == EngineEndpoint::tcp ? endpoint.host : std::string("docker"));
        req.set(http::field::user_agent, "airlock");
        for (const auto& [name, value] : r.headers) req.set(name, value);
        if (!r.body.empty()) {
            if (!r.headers.count("Content-Type")) req.set(http::field::content_type, "application/json");
            req.body() = r.body;
        }
        req.prepare_payload();
        std::string what = r.method + " " + r.target.substr(0, r.target.find('?'));

        Outcome out;
        asio::co_spawn(ioc, run(endpoint, *tls_ctx, req, r, sink, what, out),
                       [&out](std::exception_ptr e) { out.exception = e; });
        ioc.restart();
        ioc.run();
        if (out.exception) std::rethrow_exception(out.exception);
        if (out.error) return make_error(*out.error);
        return std::move(out.response);
    }

    Result<std::string> negotiate() {
        if (version) return *version;
        EngineRequest ping;
        ping.target = "/_ping";
        ping.idle_timeout = std::chrono::seconds(30);
        auto pong = perform(ping, nullptr, false);
        if (!pong) return pong.error();
        std::string reported;
        if (auto it = pong->headers.find("api-version"); it != pong->headers.end()) reported = it->second;
        if (reported.empty()) {
            EngineRequest ask = ping;
            ask.target = "/version";
            auto v = perform(ask, nullptr, false);
            if (!v) return v.error();
            error_code ec;
            json::value doc = json::parse(v->body, ec);
            if (!ec && doc.is_object())
                if (const auto* a = doc.as_object().if_contains("ApiVersion"); a && a->is_string())
                    reported = a->as_string().c_str();
        }
        unsigned major = 0, minor = 0;
        char tail = 0;
        if (reported.empty() || std::sscanf(reported.c_str(), "%u.%u%c", &major, &minor, &tail) != 2)
            return make_error(fmt::format("the Docker engine at {} did not report a usable API version ('{}'); is "
                                          "it a Docker engine?",
                                          endpoint.display(), reported));
        if (major != 1 || minor < 40)
            return make_error(fmt::format("the Docker engine at {} speaks API {}; airlock needs 1.40 or newer "
                                          "(Docker 19.03+); upgrade the engine",
                                          endpoint.display(), reported));
        version = fmt::format("1.{}", std::min(minor, 41u));
        return *version;
    }
};

EngineClient::EngineClient(EngineEndpoint endpoint) : impl_(std::make_unique<Impl>()) {
    impl_->endpoint = std::move(endpoint);
}

EngineClient::~EngineClient() = default;

const EngineEndpoint& EngineClient::endpoint() const { return impl_->endpoint; }

Result<std::string> EngineClient::api_version() { return impl_->negotiate(); }

Result<EngineResponse> EngineClient::request(const EngineRequest& request) {
    return impl_->perform(request, nullptr, true);
}

Result<EngineResponse> EngineClient::stream(const EngineRequest& request,
                                            const std::function<bool(std::string_view)>& on_body) {
    return impl_->perform(request, &on_body, true);
}

// ---- attach --------------------------------------------------------------------------------

HijackedConnection::HijackedConnection(HijackedConnection&& other) noexcept
    : status(other.status), body(std::move(other.body)), fd(std::exchange(other.fd, -1)),
      initial(std::move(other.initial)) {}

HijackedConnection& HijackedConnection::operator=(HijackedConnection&& other) noexcept {
    if (this != &other) {
        if (fd >= 0) ::close(fd);
        status = other.status;
        body = std::move(other.body);
        fd = std::exchange(other.fd, -1);
        initial = std::move(other.initial);
    }
    return *this;
}

HijackedConnection::~HijackedConnection() {
    if (fd >= 0) ::close(fd);
}

int HijackedConnection::release() { return std::exchange(fd, -1); }

namespace {

struct HijackOutcome {
    HijackedConnection connection;
    std::optional<std::string> error;
};

// Sends the upgrade request; on 101 (or 200) takes the socket out of Asio's hands.
asio::awaitable<void> hijack(const EngineEndpoint& ep, const http::request<http::string_body>& req,
                             const std::string& what, HijackOutcome& out) {
    auto ex = co_await asio::this_coro::executor;
    plain_stream lowest(ex);
    if (auto failed = co_await connect_engine(ep, lowest)) {
        out.error = std::move(*failed);
        co_return;
    }
    EngineRequest timing;  // the default idle timeout, for the request and the response head
    arm(lowest, timing.idle_timeout);
    auto [wec, written] = co_await http::async_write(lowest, req, token);
    (void)written;
    if (wec) {
        out.error = broken(ep, what, timing, wec);
        co_return;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    arm(lowest, timing.idle_timeout);
    auto [hec, head_bytes] = co_await http::async_read_header(lowest, buf, parser, token);
    (void)head_bytes;
    if (hec) {
        out.error = broken(ep, what, timing, hec);
        co_return;
    }
    out.connection.status = parser.get().result_int();
    if (out.connection.status == 101 || out.connection.status == 200) {
        // From here on the bytes are the container's, not HTTP: whatever the parser's buffer
        // holds past the head goes first.
        out.connection.initial = beast::buffers_to_string(buf.data());
        lowest.expires_never();
        error_code ec;
        int fd = lowest.socket().release(ec);
        if (ec) {
            out.error = broken(ep, what, timing, ec);
            co_return;
        }
        int flags = ::fcntl(fd, F_GETFL);
        if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        out.connection.fd = fd;
        co_return;
    }
    while (!parser.is_done()) {
        arm(lowest, timing.idle_timeout);
        auto [ec, n] = co_await http::async_read_some(lowest, buf, parser, token);
        (void)n;
        if (ec) {
            out.error = broken(ep, what, timing, ec);
            co_return;
        }
    }
    out.connection.body = std::move(parser.get().body());
}

// Percent-encodes all but unreserved characters (container ids and names need none).
std::string query_encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out;
}

}  // namespace

Result<HijackedConnection> EngineClient::attach(const std::string& container_id, bool stdin_,
                                                std::string detach_keys) {
    if (impl_->endpoint.tls)
        return make_error(fmt::format("cannot attach to container '{}' through the Docker engine at {}: attach "
                                      "over TLS is not supported yet; use a unix:// or plain tcp:// DOCKER_HOST",
                                      container_id, impl_->endpoint.display()));
    auto v = impl_->negotiate();
    if (!v) return v.error();
    std::string target = fmt::format("/containers/{}/attach?stream=1&stdin={}&stdout=1&stderr=1",
                                     query_encode(container_id), stdin_ ? 1 : 0);
    if (!detach_keys.empty()) target += "&detachKeys=" + query_encode(detach_keys);
    http::request<http::string_body> req{http::verb::post, "/v" + *v + target, 11};
    req.set(http::field::host,
            impl_->endpoint.kind == EngineEndpoint::tcp ? impl_->endpoint.host : std::string("docker"));
    req.set(http::field::user_agent, "airlock");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "tcp");
    req.prepare_payload();

    HijackOutcome out;
    std::exception_ptr failure;
    asio::co_spawn(impl_->ioc, hijack(impl_->endpoint, req, "POST /containers/{id}/attach", out),
                   [&failure](std::exception_ptr e) { failure = e; });
    impl_->ioc.restart();
    impl_->ioc.run();
    if (failure) std::rethrow_exception(failure);
    if (out.error) return make_error(*out.error);
    return std::move(out.connection);
}

Status EngineClient::resize(const std::string& container_id, int rows, int cols) {
    EngineRequest req;
    req.method = "POST";
    req.target = fmt::format("/containers/{}/resize?h={}&w={}", query_encode(container_id), rows, cols);
    auto r = request(req);
    if (!r) return r.error();
    if (r->status == 200) return {};
    auto message = engine_message(r->body);
    if (message.empty()) message = fmt::format("HTTP {}", r->status);
    return make_error(fmt::format("cannot resize the terminal of container '{}': {}", container_id, message));
}

}  // namespace airlock::docker
