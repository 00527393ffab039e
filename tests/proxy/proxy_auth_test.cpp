#include "proxy/proxy_auth.hpp"

#include <set>
#include <string_view>

#include <doctest/doctest.h>

using namespace airlock::proxy;

TEST_CASE("parse_proxy_authorization") {
    // base64("fix-tests:tok:en") = Zml4LXRlc3RzOnRvazplbg==
    auto r = parse_proxy_authorization("Basic Zml4LXRlc3RzOnRvazplbg==");
    REQUIRE(r);
    CHECK(r->name == "fix-tests");
    CHECK(r->token == "tok:en");
    r = parse_proxy_authorization("basic   Zml4LXRlc3RzOnRvazplbg");  // no padding
    REQUIRE(r);
    CHECK(r->name == "fix-tests");

    const char* bad[] = {
        "",
        "Basic",
        "Basic ",
        "Bearer Zml4LXRlc3RzOnRvazplbg==",
        "Basic !!!!",
        "Basic Zml4LXRlc3Rz",      // "fix-tests": no colon
        "Basic OnRva2Vu",          // ":token": empty name
        "Basic bmFtZTo=",          // "name:": empty token
        "Basic bmFtZTp0b2sKZW4=",  // "name:tok\nen"
        "Basic Zml4LXRlc3RzOnRvazplbg=",  // wrong padding
    };
    for (const char* b : bad) {
        CAPTURE(b);
        auto e = parse_proxy_authorization(b);
        CHECK_FALSE(e);
        // The message never echoes the credentials.
        if (!e && std::string_view(b).size() > 6)
            CHECK(e.error().message.find(std::string_view(b).substr(6)) == std::string::npos);
    }
}

TEST_CASE("generate_token") {
    std::set<std::string> seen;
    for (int i = 0; i < 16; ++i) {
        auto t = generate_token();
        REQUIRE(t);
        CHECK(t->size() == 43);
        CHECK(t->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string::npos);
        seen.insert(*t);
    }
    CHECK(seen.size() == 16);
}

TEST_CASE("hash_token and compare") {
    CHECK(hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hash_token("").size() == 64);
    CHECK(token_matches("abc", hash_token("abc")));
    CHECK_FALSE(token_matches("abd", hash_token("abc")));
    CHECK_FALSE(token_matches("abc", ""));
    CHECK(constant_time_equal("same", "same"));
    CHECK_FALSE(constant_time_equal("same", "sane"));
    CHECK_FALSE(constant_time_equal("same", "same!"));
    CHECK(constant_time_equal("", ""));
}
