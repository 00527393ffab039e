#pragma once
// Who may talk to the dashboard: pure decisions over a request's facts, so every rule is
// unit-tested without a socket.
//
// - The Host header must name the loopback listener exactly (127.0.0.1:PORT, localhost:PORT,
//   [::1]:PORT): a page on another site that rebinds its DNS name to 127.0.0.1 sends its own
//   name and is refused (DNS rebinding).
// - A one-time token (printed by `airlock ui`) is exchanged once for a cookie (HttpOnly,
//   SameSite=Strict); every request needs that cookie.
// - Anything that changes state (POST, DELETE, WebSocket upgrades) needs an Origin naming the
//   dashboard itself (cross-site requests and cross-site WebSockets are refused), and a POST
//   body must be application/json (no form can send it without CORS).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace airlock::ui {

inline constexpr std::string_view kCookieName = "airlock_ui";

// `bytes` random bytes (OpenSSL's CSPRNG) as lower-case hex.
std::string random_hex(std::size_t bytes);

// Is `host` (the Host header) one of the loopback names with this port?
bool host_allowed(std::string_view host, std::uint16_t port);
// Is `origin` (the Origin header) http:// + an allowed host?
bool origin_allowed(std::string_view origin, std::uint16_t port);
// The value of cookie `name` in a Cookie header ("a=1; b=2"); nullopt when absent.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);
// Equal, in time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b);

// Tokens waiting to be exchanged and the cookies given for them. Not thread-safe (the
// server's one I/O thread owns it). Time comes in, so expiry is tested without sleeping.
class Tokens {
public:
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr std::size_t kMaxPending = 16, kMaxCookies = 64;
    static constexpr std::chrono::minutes kTokenLife{15};

    // A new one-time token (64 hex characters); the oldest pending one is dropped beyond kMaxPending.
    std::string issue(time_point now);
    // Spends `token`: the new cookie value, or nullopt when the token is unknown, spent or expired.
    std::optional<std::string> redeem(std::string_view token, time_point now);
    bool cookie_valid(std::string_view cookie) const;
    std::size_t pending() const { return pending_.size(); }

private:
    std::map<std::string, time_point> pending_;  // token -> issued
    std::map<std::string, time_point> cookies_;  // cookie -> given
};

// "airlock_ui=<value>; HttpOnly; SameSite=Strict; Path=/"
std::string set_cookie_header(std::string_view value);

// What the gate needs to know about a request.
struct RequestFacts {
    std::string method;        // "GET", "POST", ...
    std::string path;          // without the query
    std::string token;         // the "token" query parameter of GET / ("" = none)
    std::string host;          // Host header
    std::string origin;        // Origin header ("" = none)
    std::string cookie;        // Cookie header
    std::string content_type;  // Content-Type header
    bool has_body = false;
    bool websocket = false;  // an upgrade request
};

struct GateVerdict {
    enum Kind { pass, refuse, sign_in } kind = refuse;
    int status = 0;             // refuse: 401, 403, 415
    std::string message;        // refuse: one line for the JSON error
    std::string cookie;         // sign_in: the cookie value to set (then 303 to "/")
};

// The decision for one request. Order: Host, then the token exchange (GET /?token=...),
// then the cookie, then Origin and Content-Type for state changes.
GateVerdict check_request(const RequestFacts& facts, std::uint16_t port, Tokens& tokens,
                          Tokens::time_point now);

}  // namespace airlock::ui
