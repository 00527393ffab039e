#include "proxy/hosts.hpp"

#include <doctest/doctest.h>

using namespace airlock::proxy;

TEST_CASE("host_matches: exact, case-insensitive, trailing dot") {
    CHECK(host_matches("api.example.com", "api.example.com"));
    CHECK(host_matches("API.Example.com", "api.EXAMPLE.com"));
    CHECK(host_matches("api.example.com.", "api.example.com"));
    CHECK(host_matches("api.example.com", "api.example.com."));
    CHECK_FALSE(host_matches("api.example.com", "xapi.example.com"));
    CHECK_FALSE(host_matches("api.example.com", "api.example.com.evil"));
    CHECK_FALSE(host_matches("api.example.com", ""));
    CHECK_FALSE(host_matches("", "api.example.com"));
}

TEST_CASE("host_matches: wildcard suffix") {
    CHECK(host_matches("*.example.com", "a.example.com"));
    CHECK(host_matches("*.example.com", "a.b.example.com"));
    CHECK(host_matches("*.Example.COM", "A.example.com."));
    CHECK_FALSE(host_matches("*.example.com", "example.com"));
    CHECK_FALSE(host_matches("*.example.com", "badexample.com"));
    CHECK_FALSE(host_matches("*.example.com", ".example.com"));
    CHECK_FALSE(host_matches("*", "example.com"));
    CHECK_FALSE(host_matches("a*.example.com", "ab.example.com"));
    CHECK_FALSE(host_matches("*.*.com", "a.b.com"));
    CHECK(host_matches_any({"x.org", "*.example.com"}, "a.example.com"));
    CHECK_FALSE(host_matches_any({}, "a.example.com"));
}

TEST_CASE("parse_authority: good") {
    auto r = parse_authority("API.Example.com.:443");
    REQUIRE(r);
    CHECK(r->host == "api.example.com");
    CHECK(r->port == 443);
    r = parse_authority("[::1]:8443");
    REQUIRE(r);
    CHECK(r->host == "::1");
    CHECK(r->port == 8443);
    r = parse_authority("[2001:DB8:0:0::1]:1");
    REQUIRE(r);
    CHECK(r->host == "2001:db8::1");
    r = parse_authority("10.0.0.1:65535");
    REQUIRE(r);
    CHECK(r->host == "10.0.0.1");
    CHECK(r->port == 65535);
    CHECK(format_authority("::1", 443) == "[::1]:443");
    CHECK(format_authority("a.b", 443) == "a.b:443");
}

TEST_CASE("parse_authority: bad") {
    const char* bad[] = {
        "",        "example.com",       "example.com:",      "example.com:0",
        "example.com:65536", "example.com:123456", "example.com:+443", "example.com:44a",
        ":443",    "user@example.com:443", "example.com:443/path", "exa mple.com:443",
        "example.com:443 ", "exa\x01mple.com:443", "::1:443",        "[::1]",
        "[::1]443", "[::1:443",          "[zz::1]:443",       "[fe80::1%eth0]:443",
        "a..b:443", ".:443",             "example.com?:443",  "ex\xc3\xa9.com:443",
        // found by tests/fuzz/connect_fuzz: two trailing dots canonicalised to a name that
        // still ended in a dot
        "example.com..:443", "127.0..:443", "..:443",
    };
    for (const char* a : bad) {
        CAPTURE(a);
        CHECK_FALSE(parse_authority(a));
    }
    auto r = parse_authority("user@example.com:443");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("userinfo") != std::string::npos);
}

TEST_CASE("parse_host_header: port optional") {
    auto r = parse_host_header("Example.com");
    REQUIRE(r);
    CHECK(r->host == "example.com");
    CHECK(r->port == 0);
    CHECK(parse_host_header("example.com:8443")->port == 8443);
    CHECK_FALSE(parse_host_header("example.com:"));
    CHECK_FALSE(parse_host_header("example.com.."));
    CHECK(parse_host_header("example.com.")->host == "example.com");
    CHECK_FALSE(parse_host_header(""));
}

TEST_CASE("server_name_matches: bare names, and host:port only with the CONNECT port") {
    HostPort t{"api.example.com", 8443};
    CHECK(server_name_matches("api.example.com", t));
    CHECK(server_name_matches("API.Example.com.", t));
    CHECK(server_name_matches("api.example.com:8443", t));
    CHECK_FALSE(server_name_matches("api.example.com:443", t));
    CHECK_FALSE(server_name_matches("api.example.com:", t));
    CHECK_FALSE(server_name_matches("other.example.com", t));
    CHECK_FALSE(server_name_matches("other.example.com:8443", t));
    CHECK_FALSE(server_name_matches("", t));
    CHECK_FALSE(server_name_matches(":8443", t));
}
