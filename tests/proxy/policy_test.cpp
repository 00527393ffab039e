#include "proxy/policy.hpp"

#include <doctest/doctest.h>

using namespace airlock;
using namespace airlock::proxy;

namespace {
Config make_config() {
    Config cfg;
    CredentialRule a;
    a.name = "anthropic";
    a.hosts = {"api.anthropic.com"};
    CredentialRule b;
    b.name = "internal";
    b.hosts = {"*.svc.example", "api.anthropic.com"};
    cfg.credentials = {a, b};
    cfg.proxy.ports = {443, 8443};
    cfg.proxy.allow = {"*.npmjs.org"};
    return cfg;
}
}  // namespace

TEST_CASE("decide: ports") {
    Config cfg = make_config();
    ClientScope all;
    auto d = decide("example.org", 22, all, cfg);
    CHECK(d.kind == Decision::deny);
    CHECK(d.status == 403);
    CHECK(d.reason == "port 22 is not allowed; add it to [proxy] ports");
    CHECK(decide("example.org", 8443, all, cfg).kind == Decision::tunnel);
    cfg.proxy.ports = {};
    CHECK(decide("example.org", 443, all, cfg).kind == Decision::tunnel);
    CHECK(decide("example.org", 8443, all, cfg).kind == Decision::deny);
}

TEST_CASE("decide: rules and scope") {
    Config cfg = make_config();
    ClientScope all;
    auto d = decide("api.anthropic.com", 443, all, cfg);
    REQUIRE(d.kind == Decision::intercept);
    CHECK(d.rule == &cfg.credentials[0]);  // first matching rule wins

    ClientScope only_internal{"s1", {"internal"}};
    d = decide("api.anthropic.com", 443, only_internal, cfg);
    REQUIRE(d.kind == Decision::intercept);
    CHECK(d.rule->name == "internal");

    d = decide("x.svc.example", 443, only_internal, cfg);
    CHECK(d.kind == Decision::intercept);

    ClientScope none_match{"s2", {"other"}};
    d = decide("api.anthropic.com", 443, none_match, cfg);
    CHECK(d.kind == Decision::tunnel);
    CHECK(d.rule == nullptr);
    CHECK(to_string(d.kind) == "tunnel");
}

TEST_CASE("decide: unmatched deny and allow list") {
    Config cfg = make_config();
    cfg.proxy.unmatched = Unmatched::deny;
    ClientScope all;
    CHECK(decide("registry.npmjs.org", 443, all, cfg).kind == Decision::tunnel);
    CHECK(decide("api.anthropic.com", 443, all, cfg).kind == Decision::intercept);
    auto d = decide("evil.example", 443, all, cfg);
    CHECK(d.kind == Decision::deny);
    CHECK(d.status == 403);
    CHECK(d.reason.find("evil.example") != std::string::npos);
    CHECK(d.reason.find("[proxy] allow") != std::string::npos);
    // Rule exists but out of scope: treated as unmatched.
    ClientScope other{"s", {"nope"}};
    CHECK(decide("api.anthropic.com", 443, other, cfg).kind == Decision::deny);
}

TEST_CASE("host_configured") {
    Config cfg = make_config();
    CHECK(host_configured("registry.npmjs.org", cfg));
    CHECK(host_configured("a.svc.example", cfg));
    CHECK_FALSE(host_configured("example.com", cfg));
}
