#include "src/credential_setup.hpp"

#include <map>
#include <string>

#include <doctest/doctest.h>

#include "src/config.hpp"
#include "src/proxy_reload.hpp"

using namespace airlock;

namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

std::string services(const std::vector<FoundCredential>& found) {
    std::string out;
    for (const auto& f : found) out += (out.empty() ? "" : ",") + f.service + ":" + describe_source(f.entry.secret);
    return out;
}

CredentialFlags preset_flags(std::string preset) {
    CredentialFlags f;
    f.preset = std::move(preset);
    return f;
}

}  // namespace

TEST_CASE("entry_from_flags: a preset with an env source, named after the preset") {
    auto f = preset_flags("anthropic");
    f.env = "ANTHROPIC_API_KEY";
    auto e = entry_from_flags(f);
    REQUIRE(e.ok());
    CHECK(e->name == "anthropic");
    CHECK(e->preset == "anthropic");
    CHECK(e->hosts.empty());
    CHECK(e->secret.kind == SecretSource::Kind::env);
    CHECK(e->secret.value == "ANTHROPIC_API_KEY");
}

TEST_CASE("entry_from_flags: exactly one source") {
    auto f = preset_flags("openai");
    auto none = entry_from_flags(f);
    REQUIRE(!none.ok());
    CHECK(none.error().message.find("--env VAR, --file PATH, --command") != std::string::npos);
    f.env = "A";
    f.file = "/x";
    auto two = entry_from_flags(f);
    REQUIRE(!two.ok());
    CHECK(two.error().message == "give only one secret source (got --env and --file)");
    f.env.reset();
    f.file.reset();
    f.command = "gh auth token";
    f.stdin_ = true;
    CHECK(!entry_from_flags(f).ok());
}

TEST_CASE("entry_from_flags: --command is split, --stdin becomes secrets/<name>") {
    auto f = preset_flags("github");
    f.command = "gh auth token";
    auto e = entry_from_flags(f);
    REQUIRE(e.ok());
    CHECK(e->secret.kind == SecretSource::Kind::command);
    CHECK(e->secret.command == std::vector<std::string>{"gh", "auth", "token"});
    f.command = "op read 'op://a b";
    auto bad = entry_from_flags(f);
    REQUIRE(!bad.ok());
    CHECK(bad.error().message.find("unterminated") != std::string::npos);

    auto s = preset_flags("gemini");
    s.name = "gem";
    s.stdin_ = true;
    auto st = entry_from_flags(s);
    REQUIRE(st.ok());
    CHECK(st->secret.kind == SecretSource::Kind::file);
    CHECK(st->secret.value == "secrets/gem");
}

TEST_CASE("entry_from_flags: a custom rule needs name, hosts, header and template") {
    CredentialFlags f;
    f.env = "TOKEN";
    auto unnamed = entry_from_flags(f);
    REQUIRE(!unnamed.ok());
    CHECK(unnamed.error().message.find("name") != std::string::npos);
    f.name = "internal";
    f.hosts = {"api.internal.example"};
    auto missing = entry_from_flags(f);
    REQUIRE(!missing.ok());
    CHECK(missing.error().message.find("missing --header, --template") != std::string::npos);
    f.header = "Authorization";
    f.value_template = "Bearer {secret}";
    f.placeholder_env = "INTERNAL_TOKEN";
    auto e = entry_from_flags(f);
    REQUIRE(e.ok());
    auto config = parse_config(render_credential_table(*e), "/h/config.toml");
    REQUIRE(config.ok());
    CHECK(config->credentials.at(0).placeholder->env == "INTERNAL_TOKEN");
}

TEST_CASE("entry_from_flags: an unknown preset names the known ones") {
    auto f = preset_flags("anthropc");
    f.env = "X";
    auto e = entry_from_flags(f);
    REQUIRE(!e.ok());
    CHECK(e.error().message == "unknown preset 'anthropc'; use one of anthropic, openai, github, gemini");
}

TEST_CASE("detect_host_credentials: nothing set finds nothing") {
    CHECK(detect_host_credentials(env_of({}), false).empty());
    CHECK(detect_host_credentials(env_of({{"ANTHROPIC_API_KEY", ""}}), false).empty());
}

TEST_CASE("detect_host_credentials: every service, in order, first variable wins") {
    auto found = detect_host_credentials(env_of({{"ANTHROPIC_API_KEY", "a"},
                                                 {"CLAUDE_CODE_OAUTH_TOKEN", "b"},
                                                 {"OPENAI_API_KEY", "c"},
                                                 {"GOOGLE_API_KEY", "d"},
                                                 {"GITHUB_TOKEN", "e"}}),
                                         true);
    CHECK(services(found) ==
          "anthropic:env ANTHROPIC_API_KEY,openai:env OPENAI_API_KEY,gemini:env GOOGLE_API_KEY,github:env GITHUB_TOKEN");
    for (const auto& f : found) {
        // Names only, never values.
        CHECK(f.where.find("environment variable ") == 0);
        auto table = render_credential_table(f.entry);
        for (std::string value : {"\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"e\""}) CHECK(table.find(value) == std::string::npos);
    }
}

TEST_CASE("detect_host_credentials: a Claude subscription token is a Bearer token with its own placeholder") {
    auto found = detect_host_credentials(env_of({{"CLAUDE_CODE_OAUTH_TOKEN", "t"}}), false);
    REQUIRE(found.size() == 1);
    auto config = parse_config(render_credential_table(found[0].entry), "/h/config.toml");
    REQUIRE(config.ok());
    const auto& rule = config->credentials.at(0);
    CHECK(rule.hosts == std::vector<std::string>{"api.anthropic.com"});
    CHECK(rule.header == "Authorization");
    CHECK(rule.value_template == "Bearer {secret}");
    CHECK(rule.placeholder->env == "CLAUDE_CODE_OAUTH_TOKEN");
    CHECK(rule.secret.value == "CLAUDE_CODE_OAUTH_TOKEN");
}

TEST_CASE("detect_host_credentials: gh auth token only when no token variable is set") {
    CHECK(services(detect_host_credentials(env_of({}), true)) == "github:command gh auth token");
    CHECK(services(detect_host_credentials(env_of({{"GH_TOKEN", "x"}}), true)) == "github:env GH_TOKEN");
    auto gh = detect_host_credentials(env_of({}), true);
    auto config = parse_config(render_credential_table(gh.at(0).entry), "/h/config.toml");
    REQUIRE(config.ok());
    CHECK(config->credentials.at(0).secret.command == std::vector<std::string>{"gh", "auth", "token"});
}

TEST_CASE("collect_last_used: newest time per rule; other lines skipped") {
    std::map<std::string, std::string> newest;
    collect_last_used(
        "{\"time\":\"2026-11-27T10:00:00.000Z\",\"rule\":\"anthropic\",\"status\":200}\n"
        "{\"time\":\"2026-11-27T12:00:00.000Z\",\"rule\":\"anthropic\",\"status\":200}\n"
        "not json \"rule\"\n"
        "{\"time\":\"2026-11-27T11:00:00.000Z\",\"rule\":\"\",\"decision\":\"tunnel\"}\n"
        "{\"time\":\"2026-11-27T09:00:00.000Z\",\"rule\":\"github\"}",
        newest);
    collect_last_used("{\"time\":\"2026-11-26T00:00:00.000Z\",\"rule\":\"anthropic\"}\n", newest);
    CHECK(newest.size() == 2);
    CHECK(newest["anthropic"] == "2026-11-27T12:00:00.000Z");
    CHECK(newest["github"] == "2026-11-27T09:00:00.000Z");
}

TEST_CASE("reload_failure_in_log finds the proxy's reason") {
    CHECK(reload_failure_in_log("2026-11-27T10:00:00Z proxy listening\n").empty());
    CHECK(reload_failure_in_log("x proxy reload failed: environment variable X for credential 'a' is not set; export it\n"
                                "x proxy other\n") == "environment variable X for credential 'a' is not set; export it");
}

TEST_CASE("login_entry_from_flags: --login alone, named after the provider; anything a login brings itself refused") {
    CredentialFlags f;
    f.login = "chatgpt";
    auto e = entry_from_flags(f);
    REQUIRE(e.ok());
    CHECK(e->name == "chatgpt");
    CHECK(e->login == "chatgpt");
    CHECK(render_credential_table(*e) == "[[credential]]\nname = \"chatgpt\"\nlogin = \"chatgpt\"\n");
    f.name = "work";
    CHECK(entry_from_flags(f)->name == "work");
    f.env = "X";
    f.hosts = {"h"};
    auto bad = entry_from_flags(f);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "--login brings its own hosts, header and tokens; drop --host, --env");
    CredentialFlags g;
    g.login = "aol";
    CHECK(entry_from_flags(g).error().message.find("--login must be claude, chatgpt or google") == 0);
}

TEST_CASE("default_login_file: where each CLI keeps its login; CODEX_HOME wins for chatgpt") {
    auto env = env_of({{"HOME", "/home/u"}});
    CHECK(*default_login_file("claude", env) == "/home/u/.claude/.credentials.json");
    CHECK(*default_login_file("chatgpt", env) == "/home/u/.codex/auth.json");
    CHECK(*default_login_file("google", env) == "/home/u/.gemini/oauth_creds.json");
    CHECK(*default_login_file("chatgpt", env_of({{"HOME", "/home/u"}, {"CODEX_HOME", "/c"}})) == "/c/auth.json");
    CHECK_FALSE(default_login_file("claude", env_of({})).ok());
}
