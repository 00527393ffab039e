#include "proxy/rules.hpp"

#include <doctest/doctest.h>

using namespace airlock;
using namespace airlock::proxy;

namespace {
CredentialRule rule(std::string header, std::string tmpl, std::string preset = "") {
    CredentialRule r;
    r.name = "test";
    r.header = std::move(header);
    r.value_template = std::move(tmpl);
    r.preset = std::move(preset);
    return r;
}
RequestHead head_with(std::vector<std::pair<std::string, std::string>> fields) {
    RequestHead h;
    h.method = "POST";
    h.target = "/v1";
    h.fields = std::move(fields);
    return h;
}
}  // namespace

TEST_CASE("render_value") {
    CHECK(*render_value(rule("Authorization", "Bearer {secret}"), "s3cr3t") == "Bearer s3cr3t");
    CHECK(*render_value(rule("x-api-key", "{secret}"), "s3cr3t") == "s3cr3t");
    CHECK(*render_value(rule("x-api-key", ""), "s3cr3t") == "s3cr3t");
    CHECK(*render_value(rule("X", "{secret}/{secret}"), "ab") == "ab/ab");
    // base64("user:pass") = dXNlcjpwYXNz
    CHECK(*render_value(rule("Authorization", "Basic user:{secret}"), "pass") == "Basic dXNlcjpwYXNz");
    // "Basic {secret}" has no ':' after the scheme: plain substitution.
    CHECK(*render_value(rule("Authorization", "Basic {secret}"), "abc") == "Basic abc");

    auto r = render_value(rule("X", "Bearer token"), "s3cr3t");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("{secret}") != std::string::npos);
    CHECK(r.error().message.find("s3cr3t") == std::string::npos);
    CHECK_FALSE(render_value(rule("X", "{secret}"), ""));
    r = render_value(rule("X", "{secret}"), "abc\r\nX-Injected: 1");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("Injected") == std::string::npos);
    CHECK_FALSE(render_value(rule("X", "{secret}"), "abc\n"));
}

TEST_CASE("credential_edit: plain rule replaces the placeholder") {
    auto edit = credential_edit(rule("x-api-key", "{secret}", "anthropic"), "sk-ant-api03-xyz",
                                "api.anthropic.com");
    REQUIRE(edit);
    CHECK(edit->name == "x-api-key");
    CHECK(edit->value == "sk-ant-api03-xyz");
    CHECK(edit->remove.empty());

    auto h = head_with({{"Host", "api.anthropic.com"}, {"X-Api-Key", "placeholder"},
                        {"x-api-key", "second"}, {"Content-Length", "2"}});
    apply(*edit, h);
    CHECK(h.count("x-api-key") == 1);
    CHECK(h.find("x-api-key") == "sk-ant-api03-xyz");
    CHECK(h.find("content-length") == "2");
}

TEST_CASE("credential_edit: anthropic OAuth token") {
    auto edit = credential_edit(rule("x-api-key", "{secret}", "anthropic"), "sk-ant-oat01-abc",
                                "api.anthropic.com");
    REQUIRE(edit);
    CHECK(edit->name == "Authorization");
    CHECK(edit->value == "Bearer sk-ant-oat01-abc");
    auto h = head_with({{"Host", "api.anthropic.com"}, {"x-api-key", "placeholder"},
                        {"authorization", "Bearer placeholder"}});
    apply(*edit, h);
    CHECK(h.count("x-api-key") == 0);
    CHECK(h.count("Authorization") == 1);
    CHECK(h.find("authorization") == "Bearer sk-ant-oat01-abc");
    // Without the preset an oat-looking secret is just a secret.
    edit = credential_edit(rule("x-api-key", "{secret}"), "sk-ant-oat01-abc", "api.anthropic.com");
    REQUIRE(edit);
    CHECK(edit->name == "x-api-key");
}

TEST_CASE("credential_edit: github") {
    auto r = rule("Authorization", "Bearer {secret}", "github");
    auto edit = credential_edit(r, "ghp_abc", "github.com");
    REQUIRE(edit);
    CHECK(edit->name == "Authorization");
    // base64("x-access-token:ghp_abc")
    CHECK(edit->value == "Basic eC1hY2Nlc3MtdG9rZW46Z2hwX2FiYw==");
    edit = credential_edit(r, "ghp_abc", "api.github.com");
    REQUIRE(edit);
    CHECK(edit->value == "Bearer ghp_abc");
}

TEST_CASE("credential_edit: errors") {
    CHECK_FALSE(credential_edit(rule("", "{secret}"), "abc", "h"));
    CHECK_FALSE(credential_edit(rule("X", "{secret}"), "", "h"));
    CHECK_FALSE(credential_edit(rule("X", "{secret}", "github"), "a\nb", "github.com"));
}

TEST_CASE("prepare_upstream_request: proxy fields out, origin-form, the real credential in once") {
    auto h = head_with({{"Host", "api.test"},
                        {"Proxy-Authorization", "Basic c2Vzc2lvbjp0b2tlbg=="},
                        {"Proxy-Connection", "keep-alive"},
                        {"authorization", "Bearer placeholder"},
                        {"Authorization", "Bearer second"}});
    h.version = 11;
    h.target = "https://api.test/v1/messages?x=1";
    auto p = prepare_upstream_request(h, rule("Authorization", "Bearer {secret}"), "real", "api.test");
    CHECK(p.credential_error.empty());
    CHECK_FALSE(p.close_client);
    CHECK(h.target == "/v1/messages?x=1");
    CHECK(h.count("Proxy-Authorization") == 0);
    CHECK(h.count("Proxy-Connection") == 0);
    CHECK(h.values("Authorization") == std::vector<std::string_view>{"Bearer real"});
}

TEST_CASE("prepare_upstream_request: a closing client keeps the upstream connection (Connection is hop-by-hop)") {
    auto h = head_with({{"Host", "api.test"}, {"Connection", "close"}});
    h.version = 11;
    auto p = prepare_upstream_request(h, rule("x-api-key", "{secret}"), "real", "api.test");
    CHECK(p.close_client);
    CHECK(h.count("Connection") == 0);
    auto ws = head_with({{"Host", "api.test"}, {"Connection", "close, Upgrade"}, {"Upgrade", "websocket"}});
    ws.method = "GET";
    ws.version = 11;
    prepare_upstream_request(ws, rule("x-api-key", "{secret}"), "real", "api.test");
    CHECK(ws.count("Connection") == 1);
}

TEST_CASE("prepare_upstream_request: a secret that cannot be used is reported, never sent") {
    auto h = head_with({{"Host", "api.test"}, {"x-api-key", "placeholder"}});
    h.version = 11;
    auto p = prepare_upstream_request(h, rule("x-api-key", "{secret}"), "bad\r\nInjected: yes", "api.test");
    CHECK_FALSE(p.credential_error.empty());
    CHECK(h.count("Injected") == 0);
    CHECK(p.credential_error.find("Injected") == std::string::npos);
}
