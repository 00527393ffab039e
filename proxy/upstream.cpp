#include "proxy/upstream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/error.hpp>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <map>
#include <mutex>

#include "proxy/guard.hpp"
#include "proxy/policy.hpp"

namespace airlock::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using io::token;

namespace {

tcp::endpoint to_asio(const Endpoint& e) {
    if (e.family == Endpoint::v4) {
        asio::ip::address_v4::bytes_type b{e.bytes[0], e.bytes[1], e.bytes[2], e.bytes[3]};
        return {asio::ip::address_v4(b), e.port};
    }
    asio::ip::address_v6::bytes_type b;
    std::copy(e.bytes.begin(), e.bytes.end(), b.begin());
    return {asio::ip::address_v6(b), e.port};
}

Endpoint from_asio(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v4()) return Endpoint::from_v4(a.to_v4().to_bytes(), ep.port());
    std::array<std::uint8_t, 16> b{};
    auto v6 = a.to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), b.begin());
    return Endpoint::from_v6(b, ep.port());
}

FailureKind classify_connect_error(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout || ec == asio::error::timed_out) return FailureKind::timeout;
    if (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
        ec == asio::error::network_unreachable)
        return FailureKind::refused;
    return FailureKind::reset;
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

namespace {

// The last resumable session per upstream host name (the SNI it was made with), shared
// by all workers through the context.
class SessionCache {
public:
    ~SessionCache() {
        for (auto& [host, session] : by_host_) SSL_SESSION_free(session);
    }
    void put(const std::string& host, SSL_SESSION* session) {
        std::lock_guard lock(mutex_);
        if (by_host_.size() >= 4096 && !by_host_.count(host)) {
            for (auto& [h, s] : by_host_) SSL_SESSION_free(s);
            by_host_.clear();
        }
        auto& slot = by_host_[host];
        if (slot) SSL_SESSION_free(slot);
        slot = session;
    }
    // Sets the cached session (if any) on `ssl`; SSL_set_session takes its own reference.
    void apply(const std::string& host, SSL* ssl) {
        std::lock_guard lock(mutex_);
        auto it = by_host_.find(host);
        if (it != by_host_.end()) SSL_set_session(ssl, it->second);
    }

private:
    std::mutex mutex_;
    std::map<std::string, SSL_SESSION*> by_host_;
};

int session_cache_index() {
    static const int index = SSL_CTX_get_ex_new_index(
        0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
            delete static_cast<SessionCache*>(ptr);
        });
    return index;
}

}  // namespace

void set_nodelay(tcp_stream& s) {
    boost::system::error_code ignored;
    s.socket().set_option(tcp::no_delay(true), ignored);
}

Result<std::shared_ptr<asio::ssl::context>> make_upstream_tls_context(const std::filesystem::path& extra_ca_file) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_default_verify_paths(ec);
    if (ec) return make_error(fmt::format("cannot load the system trust store: {}", ec.message()));
    if (!extra_ca_file.empty()) {
        ctx->load_verify_file(extra_ca_file.string(), ec);
        if (ec)
            return make_error(fmt::format("[proxy] upstream_ca {}: cannot load it as a PEM bundle ({}); "
                                          "fix the path or the file",
                                          extra_ca_file.string(), ec.message()));
    }
    ctx->set_verify_mode(asio::ssl::verify_peer);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx->native_handle(), alpn, sizeof alpn);
    SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    // Resume sessions with upstreams we reconnect to: a new client connection to the same
    // host then skips the certificate chain (parsing and verifying it is most of a full
    // handshake's cost with OpenSSL 3.0). OpenSSL keeps no client sessions by itself.
    SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_ex_data(ctx->native_handle(), session_cache_index(), new SessionCache);
    SSL_CTX_sess_set_new_cb(ctx->native_handle(), [](SSL* ssl, SSL_SESSION* session) -> int {
        auto* cache = static_cast<SessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), session_cache_index()));
        const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        if (!cache || !host || !SSL_SESSION_is_resumable(session)) return 0;
        cache->put(host, session);
        return 1;  // the cache holds the reference
    });
    return ctx;
}

asio::awaitable<std::pair<UpstreamFailure, tcp_stream>> connect_upstream(
    std::string host, std::uint16_t port, const ProxySettings& settings, bool allowed_private,
    const Deadlines& deadlines) {
    auto executor = co_await asio::this_coro::executor;
    tcp_stream stream(executor);
    std::vector<Endpoint> targets;

    if (auto over = resolve_override(settings, host, port)) {
        auto ep = parse_endpoint(*over);
        if (!ep) co_return std::pair{UpstreamFailure{FailureKind::dns, ep.error().message}, std::move(stream)};
        targets.push_back(*ep);  // the user's explicit choice: not filtered
    } else {
        std::vector<Endpoint> resolved;
        if (is_ip_literal(host)) {
            resolved.push_back(from_asio({asio::ip::make_address(host), port}));
        } else {
            tcp::resolver resolver(executor);
            auto [ec, results] = co_await resolver.async_resolve(host, std::to_string(port), token);
            if (ec || results.empty())
                co_return std::pair{UpstreamFailure{FailureKind::dns, fmt::format("cannot resolve {}: {}", host,
                                                                       ec ? ec.message() : "no address")},
                                    std::move(stream)};
            for (const auto& r : results) resolved.push_back(from_asio(r.endpoint()));
        }
        auto allowed = filter_destinations(host, resolved, allowed_private);
        if (!allowed) co_return std::pair{UpstreamFailure{FailureKind::forbidden, allowed.error().message}, std::move(stream)};
        targets = std::move(*allowed);
    }

    boost::system::error_code last;
    for (const auto& target : targets) {
        stream.expires_after(deadlines.connect);
        auto [ec] = co_await stream.async_connect(to_asio(target), token);
        if (!ec) {
            stream.expires_never();
            set_nodelay(stream);
            co_return std::pair{UpstreamFailure{}, std::move(stream)};
        }
        last = ec;
        stream.close();
    }
    co_return std::pair{UpstreamFailure{classify_connect_error(last),
                                        fmt::format("cannot connect to {}:{}: {}", host, port, last.message())},
                        std::move(stream)};
}

asio::awaitable<UpstreamFailure> handshake_upstream(tls_stream& stream, const std::string& host,
                                                    const Deadlines& deadlines) {
    SSL* ssl = stream.native_handle();
    if (!is_ip_literal(host)) {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        if (auto* cache = static_cast<SessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), session_cache_index())))
            cache->apply(host, ssl);
    }
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.set_verify_callback(asio::ssl::host_name_verification(host));
    beast::get_lowest_layer(stream).expires_after(deadlines.handshake);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, token);
    beast::get_lowest_layer(stream).expires_never();
    if (!ec) co_return UpstreamFailure{};
    long verify = SSL_get_verify_result(ssl);
    bool verify_failed = (ec.category() == asio::error::get_ssl_category() &&
                          ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
    if (verify_failed || verify != X509_V_OK) {
        const char* why = verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                              : "certificate does not match the host name";
        co_return UpstreamFailure{FailureKind::tls_verify, fmt::format("upstream {} failed TLS verification: {}", host, why)};
    }
    if (ec == beast::error::timeout) co_return UpstreamFailure{FailureKind::timeout, fmt::format("TLS handshake with {} timed out", host)};
    co_return UpstreamFailure{FailureKind::reset, fmt::format("TLS handshake with {} failed: {}", host, ec.message())};
}

}  // namespace airlock::proxy
