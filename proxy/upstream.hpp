#pragma once
// Internal to proxy/: connecting to where a request goes. Resolve (or take the resolve
// override), refuse unsafe destinations (guard.hpp) and connect to exactly the address
// that was checked; for intercepted hosts, TLS with SNI, verify_peer and host-name
// verification against the original name. Failures are classified for the
// X-Airlock-Error header: dns | refused | timeout | tls-verify | reset | forbidden.

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "proxy/io.hpp"

namespace airlock::proxy {

using tcp_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<tcp_stream>;

struct UpstreamFailure {
    std::string kind;     // "" = none; dns | refused | timeout | tls-verify | reset | forbidden
    std::string message;  // one line, no secrets
    explicit operator bool() const { return !kind.empty(); }
};

struct Deadlines {
    std::chrono::seconds connect{10};
    std::chrono::seconds handshake{10};
    std::chrono::seconds first_head{10};        // a new client connection's first head, in total
    std::chrono::seconds request_head{30};      // first request on an intercepted tunnel
    std::chrono::seconds keep_alive{120};       // idle between requests
    std::chrono::seconds response_head{600};    // model APIs may think for minutes
    std::chrono::seconds body_idle{300};        // inactivity while a body streams
    std::chrono::seconds tunnel_idle{3600};     // blind tunnels and websockets
};

// The client TLS context for upstreams: system trust store plus the configured extra CA,
// verify_peer, TLS 1.2+, ALPN http/1.1. Error when the extra CA file cannot be loaded.
Result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_tls_context(
    const std::filesystem::path& extra_ca_file);

// Resolves (or overrides), filters and connects. `allowed_private`: the user configured
// this host, so private destinations are permitted.
boost::asio::awaitable<std::pair<UpstreamFailure, tcp_stream>> connect_upstream(
    std::string host, std::uint16_t port, const ProxySettings& settings, bool allowed_private,
    const Deadlines& deadlines);

// TLS client handshake over an open connection, verifying `host`.
boost::asio::awaitable<UpstreamFailure> handshake_upstream(tls_stream& stream, const std::string& host,
                                                           const Deadlines& deadlines);

// Sets TCP_NODELAY (server-sent events must not wait for Nagle).
void set_nodelay(tcp_stream& s);

}  // namespace airlock::proxy
