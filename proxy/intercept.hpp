#pragma once
// Internal to proxy/: an intercepted CONNECT tunnel. The proxy terminates the client's TLS
// with a leaf for the host (ca/), then serves requests one at a time: each is parsed,
// checked (framing, TRACE, the client still exists, the rules still intercept the host
// for the same rule), gets its credential (prepare_upstream_request, rules.hpp) and goes
// to the host over a verified TLS connection, new or taken from the worker's pool
// (upstream_pool.hpp: only ever one made for the same client, host, port, rule and
// configuration generation). Every request is audited. A WebSocket upgrade is relayed
// both ways until either side closes.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/context.hpp"

namespace airlock::proxy {

// Where an intercepted tunnel goes and under which rule, with the upstream connection it
// starts with: `fresh` (connected, no TLS yet) or `pooled` (an idle TLS connection), both
// made under configuration `generation` for rule `rule`; or neither (connected on the
// first request).
struct InterceptTarget {
    std::string host;
    std::uint16_t port = 0;
    std::string rule;
    std::uint64_t generation = 0;
    std::optional<tcp_stream> fresh;
    std::unique_ptr<tls_stream> pooled;
};

// Answers the CONNECT with 200 and serves the tunnel until the client or the upstream
// closes, the keep-alive deadline passes, a request is refused, or the server stops.
// `buf` holds what the client sent after its CONNECT head.
asio::awaitable<void> intercept(Context& ctx, const ClientConn& client, tcp_stream stream,
                                beast::flat_buffer& buf, InterceptTarget target);
asio::awaitable<void> intercept(Context& ctx, const ClientConn& client, unix_stream stream,
                                beast::flat_buffer& buf, InterceptTarget target);

}  // namespace airlock::proxy
