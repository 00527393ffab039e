#pragma once
// Host names and CONNECT authorities: canonical form and pattern matching.
// Pure functions over strings; no I/O, no allocation beyond the returned values.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"

namespace airlock::proxy {

// A CONNECT target. `host` is canonical: lowercase, no trailing dot, IPv6 literals
// without brackets ("::1").
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
};

// Lowercase ASCII, one trailing dot removed. Does not validate.
std::string canonical_host(std::string_view host);

// `pattern` is either an exact host name ("api.example.com", compared
// case-insensitively, trailing dots ignored on both sides) or "*.suffix", which
// matches any name with at least one more label ("a.suffix", "a.b.suffix") but not
// "suffix" itself. Any other use of '*' matches nothing. An empty host matches nothing.
bool host_matches(std::string_view pattern, std::string_view host);

// True when `host` matches any of `patterns`.
bool host_matches_any(const std::vector<std::string>& patterns, std::string_view host);

// Parses a CONNECT request-target: "host:port" or "[v6]:port". The port is required
// (decimal, 1..65535); the host is a non-empty reg-name of [A-Za-z0-9._-] or a
// bracketed IPv6 literal (no zone id). Userinfo, paths, spaces and control characters
// are errors. The error message names the bad authority.
Result<HostPort> parse_authority(std::string_view authority);

// Like parse_authority, but the ":port" part is optional (Host header values,
// absolute-form request targets). A missing port is returned as 0.
Result<HostPort> parse_host_header(std::string_view value);

// Whether the TLS server name a client sent names the CONNECT target. SNI is a bare host
// name, but some clients (Go's net/http before 1.x fixes, e.g. `hey`) send "host:port":
// that form is accepted when the port is the CONNECT port, since it still names the same
// origin. Anything else (another host, another port, an empty name) does not match.
bool server_name_matches(std::string_view sni, const HostPort& target);

// "host:port", with brackets around IPv6 literals.
std::string format_authority(std::string_view host, std::uint16_t port);

// A Host field value for `host`:`port`: the port is left out when it is the scheme's
// `default_port` (80 for http), so plain.test:80 is "plain.test", never "plain.test:0".
std::string host_field(std::string_view host, std::uint16_t port, std::uint16_t default_port);

}  // namespace airlock::proxy
