#pragma once
// Request framing and routing checks for an intercepted request, before anything is sent
// upstream. Ambiguity is refused (400), never repaired: the origin must read exactly the
// message boundaries we read. Requests aimed at another host than the CONNECT host are
// refused with 421 (Misdirected Request), so a credential for one host can never be sent
// to another through a tunnel.

#include <cstdint>
#include <string>
#include <string_view>

#include "airlock/result.hpp"
#include "proxy/http_request.hpp"

namespace airlock::proxy {

struct FramingVerdict {
    enum class Body { none, content_length, chunked };
    bool ok = false;
    int status = 0;      // when !ok: 400 or 421
    std::string reason;  // when !ok: one line for the client and the audit log
    Body body = Body::none;
    std::uint64_t content_length = 0;  // when body == Body::content_length
};

// Checks, in order:
//  - method CONNECT inside the tunnel -> 400;
//  - exactly one Host field (missing or repeated -> 400), a valid host[:port];
//  - Host names the CONNECT host (case-insensitive, trailing dot ignored), with no port or
//    the CONNECT port -> else 421;
//  - request-target: origin-form "/..." or absolute-form "https://host[:port]/..." whose
//    authority (no userinfo) also names the CONNECT host (else 421); anything else
//    (asterisk-form, authority-form, http://) -> 400;
//  - the body framing of check_body_framing.
// The result's body says how the body is delimited: chunked, content_length (possibly 0),
// or none (a request without either has no body). On success the framing fields of `head`
// are normalised (see check_body_framing): forward `head`, not the bytes received.
FramingVerdict check_framing(RequestHead& head, std::string_view connect_host, std::uint16_t connect_port);

// Only the body framing rules (RFC 9112 section 6), for plain-HTTP requests too:
//  - Transfer-Encoding (all fields combined as one list): refused on HTTP/1.0, refused
//    together with Content-Length, each coding a token, "chunked" the final coding and
//    applied once, the others among gzip, x-gzip, deflate, compress, x-compress
//    ("identity" and unknown codings are refused) -> else 400. Normalised to one field,
//    codings lowercased ("Transfer-Encoding: gzip, chunked");
//  - Content-Length (all fields, comma lists with empty elements ignored): each element
//    1*DIGIT fitting in 64 bits, all equal -> else 400 (",5", "5, 5" and two identical
//    fields pass as 5). Normalised to one field "Content-Length: N" in plain decimal, so
//    the upstream reads exactly the length the proxy relays.
FramingVerdict check_body_framing(RequestHead& head);

// What an upstream response head says about its body (RFC 9112 section 6.3).
enum class ResponseBody { none, length, chunked, until_close };

struct ResponseFraming {
    bool ok = true;            // false: ambiguous framing; answer 502, never forward it
    std::string reason;        // when !ok
    ResponseBody body = ResponseBody::none;
    std::uint64_t length = 0;  // when body == length
    bool close = false;        // the upstream connection cannot be reused after it
};

// Response framing, in RFC 9112's order (section 6.3): HEAD, 1xx, 204 and 304 have no body
// (their framing fields are not read); then Transfer-Encoding: refused in an HTTP/1.0
// response or together with Content-Length, codings checked as for requests (chunked at
// most once and last when present, no unknown codings alongside it); chunked last -> chunked,
// no chunked -> read until close; then Content-Length: every field exactly 1*DIGIT and all
// equal (identical duplicates pass unchanged, since every reader gets the same number), else
// refused (comma lists too: the response head is forwarded as received, so a value the
// client could read differently is not forwarded); neither -> read until close.
// `close` is set by "Connection: close", by HTTP/1.0 without "keep-alive", when the body
// runs until close, and on refusal.
ResponseFraming response_framing(const ResponseHead& r, std::string_view request_method);

// Does the client want the connection closed after this request? HTTP/1.0 unless it says
// keep-alive; "Connection: close" always.
bool wants_close(const RequestHead& head);

// An absolute-form plain-HTTP target ("http://host[:port]/path?q"), as sent to a proxy.
struct HttpTarget {
    std::string host;         // canonical
    std::uint16_t port = 80;
    std::string path;         // origin-form, to send upstream
};
Result<HttpTarget> parse_http_target(std::string_view target);

// GET, HTTP/1.1, Connection lists "upgrade" and Upgrade lists "websocket"
// (case-insensitive, all fields combined).
bool is_websocket_upgrade(const RequestHead& head);

// The request target in origin-form ("/path?query"): absolute-form targets lose their
// scheme and authority ("https://h/p?q" -> "/p?q", "https://h" -> "/"). Send this upstream.
std::string origin_form(std::string_view target);

// The path for logs: origin_form without query or fragment ("/v1/messages").
std::string path_for_log(std::string_view target);

}  // namespace airlock::proxy
