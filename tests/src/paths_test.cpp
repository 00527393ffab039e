#include "src/paths.hpp"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "airlock/home_path.hpp"

namespace fs = std::filesystem;
using airlock::resolve_paths;

namespace {

// A fake environment for the EnvLookup seam.
airlock::EnvLookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

// Sets (or unsets, with nullopt) a process environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) ::setenv(name, value->c_str(), 1);
        else ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("paths: precedence --home > $AIRLOCK_HOME > $HOME/.airlock") {
    struct Case {
        const char* what;
        std::optional<std::string> flag;
        std::map<std::string, std::string> env;
        std::string expected;
    };
    const fs::path cwd = fs::current_path();
    const Case cases[] = {
        {"flag wins", "/flag", {{"AIRLOCK_HOME", "/env"}, {"HOME", "/u"}}, "/flag"},
        {"env next", std::nullopt, {{"AIRLOCK_HOME", "/env"}, {"HOME", "/u"}}, "/env"},
        {"home last", std::nullopt, {{"HOME", "/u"}}, "/u/.airlock"},
        {"empty AIRLOCK_HOME is unset", std::nullopt, {{"AIRLOCK_HOME", ""}, {"HOME", "/u"}}, "/u/.airlock"},
        {"relative flag", "rel/dir", {}, (cwd / "rel/dir").string()},
        {"relative env", std::nullopt, {{"AIRLOCK_HOME", "x"}}, (cwd / "x").string()},
        {"tilde", "~/h", {{"HOME", "/u"}}, "/u/h"},
        {"normalised", "/a/./b/../c/", {}, "/a/c"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto paths = resolve_paths(c.flag, fake_env(c.env));
        REQUIRE_MESSAGE(paths.ok(), paths.error().message);
        CHECK(paths->home == fs::path(c.expected));
        CHECK(paths->home.is_absolute());
    }
}

TEST_CASE("paths: errors") {
    auto none = resolve_paths(std::nullopt, fake_env({}));
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message.find("$AIRLOCK_HOME") != std::string::npos);
    CHECK(none.error().message.find("--home") != std::string::npos);

    auto empty_flag = resolve_paths(std::string(), fake_env({{"HOME", "/u"}}));
    REQUIRE_FALSE(empty_flag.ok());
    CHECK(empty_flag.error().message.find("--home is empty") != std::string::npos);

    auto tilde_without_home = resolve_paths(std::string("~/x"), fake_env({}));
    REQUIRE_FALSE(tilde_without_home.ok());
    CHECK(tilde_without_home.error().message.find("$HOME") != std::string::npos);
}

TEST_CASE("paths: the process environment") {
    {
        ScopedEnv airlock_home("AIRLOCK_HOME", "/from/env");
        ScopedEnv home("HOME", "/home/u");
        CHECK(resolve_paths(std::nullopt)->home == fs::path("/from/env"));
        CHECK(resolve_paths(std::string("/flag"))->home == fs::path("/flag"));
    }
    {
        ScopedEnv airlock_home("AIRLOCK_HOME", std::nullopt);
        ScopedEnv home("HOME", "/home/u");
        CHECK(resolve_paths(std::nullopt)->home == fs::path("/home/u/.airlock"));
    }
    {
        ScopedEnv airlock_home("AIRLOCK_HOME", std::nullopt);
        ScopedEnv home("HOME", std::nullopt);
        CHECK_FALSE(resolve_paths(std::nullopt).ok());
    }
}

TEST_CASE("paths: the layout of the data directory") {
    airlock::Paths p{"/h"};
    CHECK(p.config() == fs::path("/h/config.toml"));
    CHECK(p.ca_dir() == fs::path("/h/ca"));
    CHECK(p.store() == fs::path("/h/sessions.db"));
    CHECK(p.worktrees() == fs::path("/h/worktrees"));
    CHECK(p.hooks() == fs::path("/h/hooks"));
    CHECK(p.secrets() == fs::path("/h/secrets"));
    CHECK(p.proxy_pid() == fs::path("/h/proxy.pid"));
    CHECK(p.proxy_log() == fs::path("/h/proxy.log"));
    CHECK(p.audit_log() == fs::path("/h/audit.jsonl"));
    CHECK(p.run_dir() == fs::path("/h/run"));
    CHECK(p.proxy_socket() == fs::path("/h/run/proxy.sock"));

    CHECK(*p.in_home("secrets/anthropic", "x") == fs::path("/h/secrets/anthropic"));
    CHECK(*p.in_home("/etc/ssl/ca.pem", "x") == fs::path("/etc/ssl/ca.pem"));
    ScopedEnv home("HOME", "/home/u");
    CHECK(*p.in_home("~/keys/k", "x") == fs::path("/home/u/keys/k"));
}

TEST_CASE("configured_path: ~ is $HOME, relative is the data directory, absolute stays") {
    const fs::path h = "/data/airlock";
    const std::optional<std::string> user = "/home/u";
    CHECK(*airlock::configured_path("~/corp.pem", h, user, "[proxy] upstream_ca") == fs::path("/home/u/corp.pem"));
    CHECK(*airlock::configured_path("~", h, user, "x") == fs::path("/home/u"));
    CHECK(*airlock::configured_path("~/a/../b", h, user, "x") == fs::path("/home/u/b"));
    CHECK(*airlock::configured_path("secrets/k", h, user, "x") == fs::path("/data/airlock/secrets/k"));
    CHECK(*airlock::configured_path("~user/k", h, user, "x") == fs::path("/data/airlock/~user/k"));
    CHECK(*airlock::configured_path("/etc/ssl/ca.pem", h, user, "x") == fs::path("/etc/ssl/ca.pem"));
    auto unset = airlock::configured_path("~/corp.pem", h, std::nullopt, "[proxy] upstream_ca");
    REQUIRE_FALSE(unset);
    CHECK(unset.error().message ==
          "[proxy] upstream_ca is \"~/corp.pem\" but $HOME is not set to expand \"~\"; give an absolute path");
    CHECK_FALSE(airlock::configured_path("~/x", h, std::string(), "x"));
}

TEST_CASE("paths: where airlock-relay is looked for") {
    auto c = airlock::relay_candidates("/usr/local/bin/airlock");
    REQUIRE(c.size() == 3);
    CHECK(c[0] == fs::path("/usr/local/bin/airlock-relay"));
    CHECK(c[1] == fs::path("/usr/local/libexec/airlock/airlock-relay"));
    CHECK(c[2] == fs::path("/usr/local/relay/airlock-relay"));
    auto b = airlock::relay_candidates("/w/build/src/airlock");
    CHECK(b[2] == fs::path("/w/build/relay/airlock-relay"));
}

TEST_CASE("paths: a socket path must fit sun_path") {
    CHECK(airlock::check_socket_path("/home/u/.airlock/run/proxy.sock").ok());
    CHECK(airlock::check_socket_path("/" + std::string(106, 'a')).ok());  // 107 bytes + NUL = 108
    auto too_long = airlock::check_socket_path("/" + std::string(107, 'a'));
    REQUIRE_FALSE(too_long.ok());
    CHECK(too_long.error().message.find("set AIRLOCK_HOME (or --home) to a shorter directory") != std::string::npos);
}
