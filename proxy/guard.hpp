#pragma once
// SSRF guard, the pure part: classify resolved addresses and keep only those a
// container may reach. The I/O side resolves, calls filter_destinations(), and connects
// only to what it returns (never re-resolves), so DNS rebinding cannot slip a private
// address in between the check and the connect.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"

struct sockaddr;  // <sys/socket.h>, not included here

namespace airlock::proxy {

enum class AddressClass {
    public_,       // globally routable unicast
    loopback,      // 127/8, ::1
    private_,      // 10/8, 172.16/12, 192.168/16, fec0::/10 (old site-local)
    link_local,    // 169.254/16 (cloud metadata 169.254.169.254), fe80::/10
    cgnat,         // 100.64/10
    unique_local,  // fc00::/7
    multicast,     // 224/4, ff00::/8
    unspecified,   // 0/8, ::
    broadcast,     // 255.255.255.255
    reserved,      // 240/4, 192.0.0/24, 198.18/15, documentation ranges, Teredo,
                   // 64:ff9b:1::/48, 100::/64, IPv6 outside 2000::/3
};

// "public", "loopback", "private", "link-local", "carrier-grade NAT", "unique local",
// "multicast", "unspecified", "broadcast", "reserved"
std::string_view to_string(AddressClass c);

// A resolved address. Plain bytes so this header needs neither Asio nor <netinet/in.h>:
// from asio use address_v4::to_bytes() / address_v6::to_bytes().
struct Endpoint {
    enum Family { v4, v6 };
    Family family = v4;
    std::array<std::uint8_t, 16> bytes{};  // v4 uses bytes[0..3]
    std::uint16_t port = 0;

    static Endpoint from_v4(const std::array<std::uint8_t, 4>& a, std::uint16_t port);
    static Endpoint from_v6(const std::array<std::uint8_t, 16>& a, std::uint16_t port);
    // AF_INET / AF_INET6 sockaddr; nullopt for other families or a short length.
    static std::optional<Endpoint> from_sockaddr(const sockaddr* sa, std::size_t len);

    std::string address() const;    // "10.0.0.1", "::1"
    std::string to_string() const;  // "10.0.0.1:443", "[::1]:443"
    bool operator==(const Endpoint&) const = default;
};

// Parses "ip:port" or "[ipv6]:port" (numeric only; no names).
Result<Endpoint> parse_endpoint(std::string_view text);

// IPv6 forms that embed an IPv4 address (::ffff:a.b.c.d mapped, ::a.b.c.d compatible,
// ::ffff:0:a.b.c.d translated, 64:ff9b::/96 NAT64, 2002::/16 6to4) are classified by the
// embedded IPv4 address.
AddressClass classify(const Endpoint& endpoint);
AddressClass classify_v4(const std::array<std::uint8_t, 4>& a);
AddressClass classify_v6(const std::array<std::uint8_t, 16>& a);

// public_ is always allowed. When the user configured the host (host_allowed_by_config,
// see policy.hpp host_configured) loopback, private, link-local, CGNAT, unique-local and
// reserved are allowed too; unspecified, multicast and broadcast never are.
bool destination_allowed(AddressClass c, bool host_allowed_by_config = false);

// Keeps the allowed addresses of `resolved` (order preserved). If none remains the Error
// names the host, the first refused address and its class, e.g.
// "destination internal.example resolves to 10.0.0.1 (private); add it to [proxy] allow
// to permit it".
Result<std::vector<Endpoint>> filter_destinations(std::string_view host,
                                                  const std::vector<Endpoint>& resolved,
                                                  bool host_allowed_by_config);

// [proxy.resolve] lookup: the "ip:port" configured for host:port, if any. Keys are
// compared canonically (case, trailing dot, IPv6 text form). An override is the user's
// explicit choice: connect to it without filter_destinations, but verify the upstream
// certificate against the original host name.
std::optional<std::string> resolve_override(const ProxySettings& settings, std::string_view host,
                                            std::uint16_t port);

}  // namespace airlock::proxy
