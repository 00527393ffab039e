#include "proxy/hosts.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "airlock/text.hpp"

namespace airlock::proxy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view strip_dot(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    return s;
}

bool reg_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

bool valid_reg_name(std::string_view host) {
    if (host.empty()) return false;
    for (char c : host)
        if (!reg_name_char(c)) return false;
    // After removing one trailing dot there must be something left, and no empty labels.
    std::string_view h = strip_dot(host);
    if (h.empty() || h.front() == '.' || h.back() == '.' || h.find("..") != std::string_view::npos) return false;
    return true;
}

// Returns the canonical (inet_ntop) text of an IPv6 literal, or "" when invalid.
std::string canonical_ipv6(std::string_view literal) {
    if (literal.empty() || literal.size() > 45) return {};
    for (char c : literal) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.';
        if (!ok) return {};
    }
    std::string s(literal);
    unsigned char buf[16];
    if (inet_pton(AF_INET6, s.c_str(), buf) != 1) return {};
    char text[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(AF_INET6, buf, text, sizeof text)) return {};
    return text;
}

Result<HostPort> parse(std::string_view authority, bool port_required) {
    auto bad = [&](std::string_view why) {
        return make_error(fmt::format("invalid authority '{}': {}", printable(authority, 200), why));
    };
    if (authority.empty()) return bad("empty");
    for (char c : authority) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) return bad("contains a space or control character");
        if (c == '@') return bad("userinfo is not allowed");
        if (c == '/' || c == '?' || c == '#') return bad("a path is not allowed");
    }
    std::string_view host, port;
    bool has_port = false;
    std::string v6;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated '['");
        host = authority.substr(1, close - 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return bad("expected ':' after ']'");
            port = rest.substr(1);
            has_port = true;
        }
        v6 = canonical_ipv6(host);
        if (v6.empty()) return bad("not an IPv6 address");
    } else {
        auto colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
            has_port = true;
            if (host.find(':') != std::string_view::npos)
                return bad("IPv6 addresses must be in brackets");
        } else {
            host = authority;
        }
        if (!valid_reg_name(host)) return bad("not a valid host name");
    }
    HostPort out;
    out.host = v6.empty() ? canonical_host(host) : v6;
    if (!has_port) {
        if (port_required) return bad("a port is required (host:port)");
        return out;
    }
    if (port.empty() || port.size() > 5) return bad("the port must be a number 1..65535");
    unsigned value = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return bad("the port must be a number 1..65535");
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return bad("the port must be a number 1..65535");
    out.port = static_cast<std::uint16_t>(value);
    return out;
}

}  // namespace

std::string canonical_host(std::string_view host) {
    host = strip_dot(host);
    std::string out(host);
    for (char& c : out) c = lower(c);
    return out;
}

bool host_matches(std::string_view pattern, std::string_view host) {
    host = strip_dot(host);
    pattern = strip_dot(pattern);
    if (host.empty() || pattern.empty()) return false;
    if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
        std::string_view suffix = pattern.substr(1);  // ".example.com"
        if (suffix.size() < 2 || suffix.find('*') != std::string_view::npos) return false;
        if (host.size() <= suffix.size()) return false;
        std::string_view tail = host.substr(host.size() - suffix.size());
        // At least one non-empty label before the suffix.
        return iequals(tail, suffix) && host[host.size() - suffix.size() - 1] != '.';
    }
    if (pattern.find('*') != std::string_view::npos) return false;
    return iequals(pattern, host);
}

bool host_matches_any(const std::vector<std::string>& patterns, std::string_view host) {
    for (const auto& p : patterns)
        if (host_matches(p, host)) return true;
    return false;
}

Result<HostPort> parse_authority(std::string_view authority) { return parse(authority, true); }

Result<HostPort> parse_host_header(std::string_view value) { return parse(value, false); }

std::string format_authority(std::string_view host, std::uint16_t port) {
    if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::string host_field(std::string_view host, std::uint16_t port, std::uint16_t default_port) {
    if (port != default_port) return format_authority(host, port);
    if (host.find(':') != std::string_view::npos) return fmt::format("[{}]", host);
    return std::string(host);
}

bool server_name_matches(std::string_view sni, const HostPort& target) {
    if (sni.empty()) return false;
    if (auto colon = sni.rfind(':'); colon != std::string_view::npos) {
        auto port = sni.substr(colon + 1);
        if (port != std::to_string(target.port)) return false;
        sni = sni.substr(0, colon);
    }
    return canonical_host(sni) == target.host;
}

}  // namespace airlock::proxy
