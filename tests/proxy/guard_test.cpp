#include "proxy/guard.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include <doctest/doctest.h>

using namespace airlock;
using namespace airlock::proxy;

namespace {
AddressClass cls(const char* text) {
    std::string t = text;
    auto e = parse_endpoint(t.find(':') != std::string::npos ? "[" + t + "]:443" : t + ":443");
    REQUIRE_MESSAGE(e, text);
    return classify(*e);
}
Endpoint ep(const char* text) {
    auto e = parse_endpoint(text);
    REQUIRE_MESSAGE(e, text);
    return *e;
}
}  // namespace

TEST_CASE("classify IPv4") {
    struct Case { const char* addr; AddressClass c; };
    const Case cases[] = {
        {"8.8.8.8", AddressClass::public_},
        {"1.1.1.1", AddressClass::public_},
        {"127.0.0.1", AddressClass::loopback},
        {"127.255.255.254", AddressClass::loopback},
        {"10.0.0.1", AddressClass::private_},
        {"172.16.0.1", AddressClass::private_},
        {"172.31.255.255", AddressClass::private_},
        {"172.32.0.1", AddressClass::public_},
        {"172.15.255.255", AddressClass::public_},
        {"192.168.1.1", AddressClass::private_},
        {"169.254.169.254", AddressClass::link_local},
        {"169.254.0.1", AddressClass::link_local},
        {"100.64.0.1", AddressClass::cgnat},
        {"100.127.255.255", AddressClass::cgnat},
        {"100.128.0.1", AddressClass::public_},
        {"0.0.0.0", AddressClass::unspecified},
        {"0.1.2.3", AddressClass::unspecified},
        {"224.0.0.1", AddressClass::multicast},
        {"239.255.255.255", AddressClass::multicast},
        {"240.0.0.1", AddressClass::reserved},
        {"255.255.255.255", AddressClass::broadcast},
        {"192.0.0.8", AddressClass::reserved},
        {"198.18.0.1", AddressClass::reserved},
        {"198.19.255.255", AddressClass::reserved},
        {"198.20.0.1", AddressClass::public_},
        {"192.0.2.1", AddressClass::reserved},
    };
    for (const auto& c : cases) {
        CAPTURE(c.addr);
        CHECK(cls(c.addr) == c.c);
    }
}

TEST_CASE("classify IPv6, including embedded IPv4") {
    struct Case { const char* addr; AddressClass c; };
    const Case cases[] = {
        {"2606:4700::1111", AddressClass::public_},
        {"::1", AddressClass::loopback},
        {"::", AddressClass::unspecified},
        {"fe80::1", AddressClass::link_local},
        {"febf::1", AddressClass::link_local},
        {"fc00::1", AddressClass::unique_local},
        {"fd12:3456::1", AddressClass::unique_local},
        {"ff02::1", AddressClass::multicast},
        {"::ffff:127.0.0.1", AddressClass::loopback},
        {"::ffff:10.1.2.3", AddressClass::private_},
        {"::ffff:169.254.169.254", AddressClass::link_local},
        {"::ffff:8.8.8.8", AddressClass::public_},
        {"::10.0.0.1", AddressClass::private_},
        {"::127.0.0.1", AddressClass::loopback},
        {"::ffff:0:10.0.0.1", AddressClass::private_},
        {"64:ff9b::10.0.0.1", AddressClass::private_},
        {"64:ff9b::8.8.8.8", AddressClass::public_},
        {"64:ff9b:1::1", AddressClass::reserved},
        {"2002:a00:1::1", AddressClass::private_},        // 6to4 of 10.0.0.1
        {"2002:7f00:1::1", AddressClass::loopback},       // 6to4 of 127.0.0.1
        {"2002:808:808::1", AddressClass::public_},       // 6to4 of 8.8.8.8
        {"2001:0::1", AddressClass::reserved},            // Teredo
        {"2001:db8::1", AddressClass::reserved},
        {"100::1", AddressClass::reserved},
        {"4000::1", AddressClass::reserved},
    };
    for (const auto& c : cases) {
        CAPTURE(c.addr);
        CHECK(cls(c.addr) == c.c);
    }
}

TEST_CASE("Endpoint conversions") {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(443);
    inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
    auto e = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
    REQUIRE(e);
    CHECK(e->to_string() == "10.0.0.1:443");
    CHECK(classify(*e) == AddressClass::private_);
    CHECK_FALSE(Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&in), 4));

    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(8443);
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);
    e = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
    REQUIRE(e);
    CHECK(e->to_string() == "[::1]:8443");
    CHECK(classify(*e) == AddressClass::loopback);

    CHECK(Endpoint::from_v4({8, 8, 8, 8}, 53).to_string() == "8.8.8.8:53");
    CHECK_FALSE(parse_endpoint("example.com:443"));
    CHECK_FALSE(parse_endpoint("10.0.0.1"));
}

TEST_CASE("destination_allowed") {
    CHECK(destination_allowed(AddressClass::public_));
    CHECK_FALSE(destination_allowed(AddressClass::private_));
    CHECK_FALSE(destination_allowed(AddressClass::link_local));
    CHECK(destination_allowed(AddressClass::private_, true));
    CHECK(destination_allowed(AddressClass::loopback, true));
    CHECK_FALSE(destination_allowed(AddressClass::multicast, true));
    CHECK_FALSE(destination_allowed(AddressClass::unspecified, true));
    CHECK_FALSE(destination_allowed(AddressClass::broadcast, true));
}

TEST_CASE("filter_destinations") {
    auto r = filter_destinations("a.example", {ep("10.0.0.1:443"), ep("8.8.8.8:443")}, false);
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    CHECK(r->front().address() == "8.8.8.8");

    r = filter_destinations("internal.example", {ep("10.0.0.1:443")}, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "destination internal.example resolves to 10.0.0.1 (private); add it to [proxy] "
          "allow to permit it");

    r = filter_destinations("meta.example", {ep("[::ffff:169.254.169.254]:80")}, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("link-local") != std::string::npos);

    r = filter_destinations("internal.example", {ep("10.0.0.1:443")}, true);
    REQUIRE(r);
    CHECK(r->size() == 1);

    r = filter_destinations("m.example", {ep("224.0.0.1:443")}, true);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("never allowed") != std::string::npos);

    r = filter_destinations("none.example", {}, true);
    REQUIRE_FALSE(r);
}

TEST_CASE("resolve_override") {
    ProxySettings s;
    s.resolve = {{"API.Anthropic.com.:443", "127.0.0.1:8443"}, {"[::1]:443", "127.0.0.1:1"},
                 {"garbage", "x"}};
    CHECK(resolve_override(s, "api.anthropic.com", 443) == "127.0.0.1:8443");
    CHECK(resolve_override(s, "api.anthropic.com.", 443) == "127.0.0.1:8443");
    CHECK_FALSE(resolve_override(s, "api.anthropic.com", 8443));
    CHECK_FALSE(resolve_override(s, "other.com", 443));
    CHECK(resolve_override(s, "0:0::1", 443) == "127.0.0.1:1");
}
