#pragma once
// Internal to proxy/: what is forwarded without a credential — blind CONNECT tunnels to
// hosts no rule intercepts, and plain HTTP requests in absolute form (never a credential:
// the proxy cannot inject into what it cannot protect). Each is audited once it ends.
// Client streams are TCP (tcp_stream) or unix socket (unix_stream) connections.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "proxy/context.hpp"
#include "proxy/hosts.hpp"
#include "proxy/http_request.hpp"

namespace airlock::proxy {

// Answers the CONNECT with 200, then relays both ways until both sides close (or stay idle
// for deadlines.tunnel_idle); `buf` holds what the client sent after its CONNECT head.
// Audited with the bytes each way and the duration since `t0` (the CONNECT's arrival).
asio::awaitable<void> tunnel(Context& ctx, const ClientConn& client, tcp_stream stream, beast::flat_buffer& buf,
                             tcp_stream upstream, const HostPort& target, Clock::time_point t0);
asio::awaitable<void> tunnel(Context& ctx, const ClientConn& client, unix_stream stream, beast::flat_buffer& buf,
                             tcp_stream upstream, const HostPort& target, Clock::time_point t0);

// Serves plain HTTP requests (`head` is the first, already authenticated) on one client
// connection: one upstream connection per request, keep-alive towards the client while
// the same client authenticates each next request.
asio::awaitable<void> forward_plain(Context& ctx, const ClientConn& client, tcp_stream& stream,
                                    beast::flat_buffer& buf, RequestHead head);
asio::awaitable<void> forward_plain(Context& ctx, const ClientConn& client, unix_stream& stream,
                                    beast::flat_buffer& buf, RequestHead head);

}  // namespace airlock::proxy
