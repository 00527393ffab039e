#include "ui/gate.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace airlock::ui {

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("the system's random number generator failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

bool host_allowed(std::string_view host, std::uint16_t port) {
    const auto p = ":" + std::to_string(port);
    for (std::string_view name : {"127.0.0.1", "localhost", "[::1]"})
        if (host.size() == name.size() + p.size() && host.substr(0, name.size()) == name &&
            host.substr(name.size()) == p)
            return true;
    return false;
}

bool origin_allowed(std::string_view origin, std::uint16_t port) {
    constexpr std::string_view scheme = "http://";
    if (origin.substr(0, scheme.size()) != scheme) return false;
    return host_allowed(origin.substr(scheme.size()), port);
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        auto semi = header.find(';');
        auto part = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
        while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
        auto eq = part.find('=');
        if (eq == std::string_view::npos) continue;
        if (part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
    }
    return std::nullopt;
}

bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::string Tokens::issue(time_point now) {
    while (pending_.size() >= kMaxPending) {
        auto oldest = std::min_element(pending_.begin(), pending_.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
        pending_.erase(oldest);
    }
    auto token = random_hex(32);
    pending_[token] = now;
    return token;
}

std::optional<std::string> Tokens::redeem(std::string_view token, time_point now) {
    if (token.size() != 64) return std::nullopt;
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (!same_secret(it->first, token)) continue;
        const bool fresh = now - it->second <= kTokenLife;
        pending_.erase(it);  // spent, fresh or not
        if (!fresh) return std::nullopt;
        while (cookies_.size() >= kMaxCookies) {
            auto oldest = std::min_element(cookies_.begin(), cookies_.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; });
            cookies_.erase(oldest);
        }
        auto cookie = random_hex(32);
        cookies_[cookie] = now;
        return cookie;
    }
    return std::nullopt;
}

bool Tokens::cookie_valid(std::string_view cookie) const {
    if (cookie.size() != 64) return false;
    bool found = false;
    for (const auto& [c, t] : cookies_) found = same_secret(c, cookie) || found;
    return found;
}

std::string set_cookie_header(std::string_view value) {
    return std::string(kCookieName) + "=" + std::string(value) + "; HttpOnly; SameSite=Strict; Path=/";
}

GateVerdict check_request(const RequestFacts& f, std::uint16_t port, Tokens& tokens, Tokens::time_point now) {
    auto refuse = [](int status, std::string message) {
        GateVerdict v;
        v.kind = GateVerdict::refuse;
        v.status = status;
        v.message = std::move(message);
        return v;
    };
    if (!host_allowed(f.host, port))
        return refuse(403, "forbidden Host header: open the dashboard as http://127.0.0.1:" + std::to_string(port) + "/");
    if (f.method == "GET" && f.path == "/" && !f.token.empty() && !f.websocket) {
        auto cookie = tokens.redeem(f.token, now);
        if (!cookie)
            return refuse(401, "this sign-in link is spent, expired or unknown: run 'airlock ui' for a new one");
        GateVerdict v;
        v.kind = GateVerdict::sign_in;
        v.cookie = std::move(*cookie);
        return v;
    }
    auto cookie = cookie_value(f.cookie, kCookieName);
    if (!cookie || !tokens.cookie_valid(*cookie))
        return refuse(401, "not signed in: open the link 'airlock ui' prints (run it again for a new one)");
    const bool changes_state = f.websocket || (f.method != "GET" && f.method != "HEAD");
    if (changes_state && !origin_allowed(f.origin, port))
        return refuse(403, f.origin.empty() ? "missing Origin header: state changes come from the dashboard's page only"
                                            : "forbidden Origin: state changes come from the dashboard's page only");
    if (f.method == "POST" && f.has_body) {
        auto ct = std::string_view(f.content_type);
        ct = ct.substr(0, ct.find(';'));
        while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
        if (ct != "application/json") return refuse(415, "the request body must be application/json");
    }
    GateVerdict v;
    v.kind = GateVerdict::pass;
    return v;
}

}  // namespace airlock::ui
