#include "session/agent_files.hpp"

#include <doctest/doctest.h>

using namespace airlock;
using namespace airlock::session;

TEST_CASE("home file paths: relative paths inside the home only") {
    CHECK(validate_home_file_path(".codex/config.toml"));
    CHECK(validate_home_file_path(".claude.json"));
    CHECK(validate_home_file_path("a/b c/d.json"));
    auto abs = validate_home_file_path("/etc/passwd");
    REQUIRE_FALSE(abs);
    CHECK(abs.error().message.find("is absolute") != std::string::npos);
    for (const char* bad : {"", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a/\nb"})
        CHECK_MESSAGE(!validate_home_file_path(bad), bad);
    CHECK_FALSE(validate_home_file_path(std::string(241, 'a')));
    CHECK(validate_home_file_path(std::string(240, 'a')));
}

TEST_CASE("reserved variables: the proxy URL, HOME and the session name") {
    CHECK(is_reserved_agent_env("HTTPS_PROXY"));
    CHECK(is_reserved_agent_env("https_proxy"));
    CHECK(is_reserved_agent_env("HOME"));
    CHECK(is_reserved_agent_env("AIRLOCK_SESSION"));
    CHECK_FALSE(is_reserved_agent_env("SSL_CERT_FILE"));
    CHECK_FALSE(is_reserved_agent_env("GEMINI_CLI_TRUST_WORKSPACE"));
}

TEST_CASE("files to write: absent ones, and present ones only with overwrite") {
    std::vector<AgentFile> files = {
        {".codex/config.toml", "a", 0644, false},
        {".codex/auth.json", "b", 0600, false},
        {".gemini/settings.json", "c", 0644, true},
    };
    SUBCASE("a fresh home gets everything") {
        auto out = files_to_write(files, {});
        REQUIRE(out.size() == 3);
        CHECK(out[0].path == ".codex/config.toml");
        CHECK(out[1].mode == 0600);
    }
    SUBCASE("a refresh keeps what the agent changed unless overwrite") {
        auto out = files_to_write(files, {".codex/config.toml", ".gemini/settings.json"});
        REQUIRE(out.size() == 2);
        CHECK(out[0].path == ".codex/auth.json");
        CHECK(out[1].path == ".gemini/settings.json");
        CHECK(out[1].content == "c");
    }
}

TEST_CASE("set_env: a later setting replaces an earlier one of the same name") {
    std::vector<std::string> env = {"A=1", "SSL_CERT_FILE=/etc/airlock/ca-bundle.pem", "AB=2"};
    set_env(env, "SSL_CERT_FILE=/mine.pem");
    set_env(env, "A=3");
    set_env(env, "NEW=x=y");
    CHECK(env == std::vector<std::string>{"AB=2", "SSL_CERT_FILE=/mine.pem", "A=3", "NEW=x=y"});
    set_env(env, "EMPTY=");
    CHECK(env.back() == "EMPTY=");
}
