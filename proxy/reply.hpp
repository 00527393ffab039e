#pragma once
// The proxy's own answers: why a request failed (FailureKind), as one table from kind to
// HTTP status and X-Airlock-Error value, and the short reply the client gets. Pure; no
// Asio/Beast. docs/proxy.md ("When something is refused") lists the same table.

#include <string>
#include <string_view>

namespace airlock::proxy {

enum class FailureKind {
    none,            // no failure
    bad_request,     // malformed or ambiguous request (400; the head parser may say 431)
    head_too_large,  // request head over 64 KiB (431)
    auth,            // no, wrong or removed proxy credentials (407, with Proxy-Authenticate)
    forbidden,       // port, host policy or a private destination (403)
    method,          // TRACE/TRACK inside an intercepted tunnel (405)
    misdirected,     // Host/target names another host, or the tunnel's rule changed (421)
    limit,           // connection limits (503)
    dns,             // the upstream name does not resolve (502)
    refused,         // the upstream refused the connection (502)
    timeout,         // connect, TLS handshake or response timed out (504)
    tls,             // no leaf certificate for the host (502)
    tls_verify,      // the upstream certificate failed verification (502)
    reset,           // the upstream closed, reset or sent something unusable (502)
    login_expired,   // a subscription login's refresh token was refused: log in again (401)
};

struct FailureInfo {
    int status;                 // the default HTTP status
    std::string_view header;    // the X-Airlock-Error value
};

// The one table.
FailureInfo failure_info(FailureKind kind);

std::string_view reason_phrase(int status);

// A complete short answer from the proxy itself: one-line body "airlock: <message>", the
// kind in X-Airlock-Error, Proxy-Authenticate for auth, and Connection: close (the
// connection closes after it). `status` 0 = the kind's default.
std::string proxy_reply(FailureKind kind, std::string_view message, int status = 0);

}  // namespace airlock::proxy
