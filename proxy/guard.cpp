#include "proxy/guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "proxy/hosts.hpp"

namespace airlock::proxy {

std::string_view to_string(AddressClass c) {
    switch (c) {
        case AddressClass::public_: return "public";
        case AddressClass::loopback: return "loopback";
        case AddressClass::private_: return "private";
        case AddressClass::link_local: return "link-local";
        case AddressClass::cgnat: return "carrier-grade NAT";
        case AddressClass::unique_local: return "unique local";
        case AddressClass::multicast: return "multicast";
        case AddressClass::unspecified: return "unspecified";
        case AddressClass::broadcast: return "broadcast";
        case AddressClass::reserved: return "reserved";
    }
    return "reserved";
}

Endpoint Endpoint::from_v4(const std::array<std::uint8_t, 4>& a, std::uint16_t port) {
    Endpoint e;
    e.family = v4;
    std::memcpy(e.bytes.data(), a.data(), 4);
    e.port = port;
    return e;
}

Endpoint Endpoint::from_v6(const std::array<std::uint8_t, 16>& a, std::uint16_t port) {
    Endpoint e;
    e.family = v6;
    e.bytes = a;
    e.port = port;
    return e;
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, std::size_t len) {
    if (!sa) return std::nullopt;
    if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
        sockaddr_in in;
        std::memcpy(&in, sa, sizeof in);
        std::array<std::uint8_t, 4> a;
        std::memcpy(a.data(), &in.sin_addr, 4);
        return from_v4(a, ntohs(in.sin_port));
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        sockaddr_in6 in6;
        std::memcpy(&in6, sa, sizeof in6);
        std::array<std::uint8_t, 16> a;
        std::memcpy(a.data(), &in6.sin6_addr, 16);
        return from_v6(a, ntohs(in6.sin6_port));
    }
    return std::nullopt;
}

std::string Endpoint::address() const {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == v4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
    return text;
}

std::string Endpoint::to_string() const {
    if (family == v6) return fmt::format("[{}]:{}", address(), port);
    return fmt::format("{}:{}", address(), port);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
    auto hp = parse_authority(text);
    if (!hp) return hp.error();
    Endpoint e;
    e.port = hp->port;
    unsigned char buf[16] = {};
    if (inet_pton(AF_INET, hp->host.c_str(), buf) == 1) {
        e.family = Endpoint::v4;
        std::memcpy(e.bytes.data(), buf, 4);
        return e;
    }
    if (inet_pton(AF_INET6, hp->host.c_str(), buf) == 1) {
        e.family = Endpoint::v6;
        std::memcpy(e.bytes.data(), buf, 16);
        return e;
    }
    return make_error(fmt::format("invalid address '{}': expected ip:port or [ipv6]:port",
                                  hp->host));
}

AddressClass classify_v4(const std::array<std::uint8_t, 4>& a) {
    const unsigned b0 = a[0], b1 = a[1], b2 = a[2], b3 = a[3];
    if (b0 == 0) return AddressClass::unspecified;  // 0/8 "this network"
    if (b0 == 127) return AddressClass::loopback;
    if (b0 == 10) return AddressClass::private_;
    if (b0 == 172 && (b1 & 0xf0) == 16) return AddressClass::private_;
    if (b0 == 192 && b1 == 168) return AddressClass::private_;
    if (b0 == 169 && b1 == 254) return AddressClass::link_local;
    if (b0 == 100 && (b1 & 0xc0) == 64) return AddressClass::cgnat;
    if ((b0 & 0xf0) == 224) return AddressClass::multicast;
    if (b0 == 255 && b1 == 255 && b2 == 255 && b3 == 255) return AddressClass::broadcast;
    if ((b0 & 0xf0) == 240) return AddressClass::reserved;
    if (b0 == 192 && b1 == 0 && b2 == 0) return AddressClass::reserved;     // IETF protocol
    if (b0 == 192 && b1 == 0 && b2 == 2) return AddressClass::reserved;     // TEST-NET-1
    if (b0 == 192 && b1 == 88 && b2 == 99) return AddressClass::reserved;   // 6to4 relay
    if (b0 == 198 && (b1 & 0xfe) == 18) return AddressClass::reserved;      // benchmarking
    if (b0 == 198 && b1 == 51 && b2 == 100) return AddressClass::reserved;  // TEST-NET-2
    if (b0 == 203 && b1 == 0 && b2 == 113) return AddressClass::reserved;   // TEST-NET-3
    return AddressClass::public_;
}

AddressClass classify_v6(const std::array<std::uint8_t, 16>& a) {
    auto zero = [&](int from, int to) {
        for (int i = from; i < to; ++i)
            if (a[i] != 0) return false;
        return true;
    };
    auto v4_at = [&](int off) {
        return classify_v4({a[off], a[off + 1], a[off + 2], a[off + 3]});
    };
    if (zero(0, 16)) return AddressClass::unspecified;
    if (zero(0, 15) && a[15] == 1) return AddressClass::loopback;
    if (zero(0, 10) && a[10] == 0xff && a[11] == 0xff) return v4_at(12);  // ::ffff:a.b.c.d
    if (zero(0, 12)) return v4_at(12);                                     // ::a.b.c.d
    if (zero(0, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
        return v4_at(12);  // ::ffff:0:a.b.c.d (SIIT)
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b) {
        if (zero(4, 12)) return v4_at(12);  // 64:ff9b::/96 NAT64
        return AddressClass::reserved;      // 64:ff9b:1::/48 local-use NAT64 and the rest
    }
    if (a[0] == 0x20 && a[1] == 0x02) return v4_at(2);  // 2002::/16 6to4
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0)
        return AddressClass::reserved;  // 2001::/32 Teredo (embeds an obfuscated IPv4)
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return AddressClass::reserved;  // 2001:db8::/32 documentation
    if (a[0] == 0x01 && a[1] == 0x00 && zero(2, 8)) return AddressClass::reserved;  // 100::/64
    if (a[0] == 0xff) return AddressClass::multicast;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return AddressClass::link_local;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return AddressClass::private_;  // fec0::/10
    if ((a[0] & 0xfe) == 0xfc) return AddressClass::unique_local;
    if ((a[0] & 0xe0) != 0x20) return AddressClass::reserved;  // outside 2000::/3
    return AddressClass::public_;
}

AddressClass classify(const Endpoint& endpoint) {
    if (endpoint.family == Endpoint::v4)
        return classify_v4({endpoint.bytes[0], endpoint.bytes[1], endpoint.bytes[2],
                            endpoint.bytes[3]});
    return classify_v6(endpoint.bytes);
}

bool destination_allowed(AddressClass c, bool host_allowed_by_config) {
    switch (c) {
        case AddressClass::public_: return true;
        case AddressClass::loopback:
        case AddressClass::private_:
        case AddressClass::link_local:
        case AddressClass::cgnat:
        case AddressClass::unique_local:
        case AddressClass::reserved: return host_allowed_by_config;
        case AddressClass::multicast:
        case AddressClass::unspecified:
        case AddressClass::broadcast: return false;
    }
    return false;
}

Result<std::vector<Endpoint>> filter_destinations(std::string_view host,
                                                  const std::vector<Endpoint>& resolved,
                                                  bool host_allowed_by_config) {
    if (resolved.empty())
        return make_error(fmt::format("destination {} did not resolve to any address", host));
    std::vector<Endpoint> out;
    const Endpoint* first_refused = nullptr;
    for (const auto& e : resolved) {
        if (destination_allowed(classify(e), host_allowed_by_config))
            out.push_back(e);
        else if (!first_refused)
            first_refused = &e;
    }
    if (!out.empty()) return out;
    AddressClass c = classify(*first_refused);
    if (destination_allowed(c, true))
        return make_error(fmt::format(
            "destination {} resolves to {} ({}); add it to [proxy] allow to permit it", host,
            first_refused->address(), to_string(c)));
    return make_error(fmt::format("destination {} resolves to {} ({}), which is never allowed",
                                  host, first_refused->address(), to_string(c)));
}

std::optional<std::string> resolve_override(const ProxySettings& settings, std::string_view host,
                                            std::uint16_t port) {
    auto wanted = parse_authority(format_authority(canonical_host(host), port));
    if (!wanted) return std::nullopt;
    for (const auto& [key, value] : settings.resolve) {
        auto k = parse_authority(key);
        if (k && k->port == wanted->port && k->host == wanted->host) return value;
    }
    return std::nullopt;
}

}  // namespace airlock::proxy
