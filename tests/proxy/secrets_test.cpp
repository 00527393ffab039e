#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "proxy/secrets.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using airlock::CredentialRule;
using airlock::SecretSource;
using airlock::proxy::load_secret;
using airlock::proxy::load_secrets;
using airlock::proxy::SecretSet;

namespace {

using airlock::testing::TempDir;

void write_file(const fs::path& p, const std::string& content, mode_t mode) {
    fs::create_directories(p.parent_path());
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << content;
    }
    REQUIRE(::chmod(p.c_str(), mode) == 0);
}

CredentialRule file_rule(const std::string& name, const std::string& path) {
    CredentialRule r;
    r.name = name;
    r.secret.kind = SecretSource::Kind::file;
    r.secret.value = path;
    return r;
}

CredentialRule env_rule(const std::string& name, const std::string& var) {
    CredentialRule r;
    r.name = name;
    r.secret.kind = SecretSource::Kind::env;
    r.secret.value = var;
    return r;
}

CredentialRule command_rule(const std::string& name, std::vector<std::string> argv) {
    CredentialRule r;
    r.name = name;
    r.secret.kind = SecretSource::Kind::command;
    r.secret.command = std::move(argv);
    return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// No child of this process is left, running or zombie.
bool no_children_left() {
    int status = 0;
    pid_t r = ::waitpid(-1, &status, WNOHANG);
    return r == 0 ? false : (r < 0 && errno == ECHILD);
}

}  // namespace

TEST_CASE("secrets: a 0600 file, relative to home, trimmed") {
    TempDir home;
    write_file(home.path / "secrets/anthropic", "sk-file-secret\r\n\n", 0600);
    auto v = load_secret(file_rule("anthropic", "secrets/anthropic"), home.path);
    REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    CHECK(*v == "sk-file-secret");

    // An absolute path works the same.
    auto abs = load_secret(file_rule("anthropic", (home.path / "secrets/anthropic").string()),
                           fs::path("/nonexistent"));
    REQUIRE(abs.ok());
    CHECK(*abs == "sk-file-secret");
}

TEST_CASE("secrets: '~/' in a file path is $HOME") {
    TempDir fake_home;
    write_file(fake_home.path / "keys/gh", "ghp-tilde", 0600);
    const char* old = std::getenv("HOME");
    std::string saved = old ? old : "";
    ::setenv("HOME", fake_home.path.c_str(), 1);
    auto v = load_secret(file_rule("github", "~/keys/gh"), "/nonexistent");
    if (old) {
        ::setenv("HOME", saved.c_str(), 1);
    } else {
        ::unsetenv("HOME");
    }
    REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    CHECK(*v == "ghp-tilde");
}

TEST_CASE("secrets: a file readable by group or others is refused with the chmod fix") {
    TempDir home;
    auto f = home.path / "secrets/openai";
    for (mode_t mode : {0644, 0640, 0604, 0660}) {
        CAPTURE(mode);
        write_file(f, "sk-leaky-secret\n", mode);
        auto v = load_secret(file_rule("openai", "secrets/openai"), home.path);
        REQUIRE_FALSE(v.ok());
        CHECK(v.error().message == "secret file " + f.string() +
                                       " for credential 'openai' is readable by group or "
                                       "others; run chmod 600 " +
                                       f.string());
        CHECK_FALSE(contains(v.error().message, "sk-leaky-secret"));
    }
    // 0400 is fine too: only the owner's bits are set.
    write_file(f, "sk-leaky-secret\n", 0400);
    CHECK(load_secret(file_rule("openai", "secrets/openai"), home.path).ok());
}

TEST_CASE("secrets: missing, empty, directory and multi-line files") {
    TempDir home;
    auto missing = load_secret(file_rule("gemini", "secrets/nope"), home.path);
    REQUIRE_FALSE(missing.ok());
    CHECK(contains(missing.error().message, "'gemini'"));
    CHECK(contains(missing.error().message, (home.path / "secrets/nope").string()));
    CHECK(contains(missing.error().message, "does not exist"));

    write_file(home.path / "empty", "\n\r\n", 0600);
    auto empty = load_secret(file_rule("gemini", "empty"), home.path);
    REQUIRE_FALSE(empty.ok());
    CHECK(contains(empty.error().message, "empty"));

    fs::create_directories(home.path / "dir");
    ::chmod((home.path / "dir").c_str(), 0700);
    auto dir = load_secret(file_rule("gemini", "dir"), home.path);
    REQUIRE_FALSE(dir.ok());
    CHECK(contains(dir.error().message, "not a regular file"));

    write_file(home.path / "two", "line-one-secret\nline-two-secret\n", 0600);
    auto two = load_secret(file_rule("gemini", "two"), home.path);
    REQUIRE_FALSE(two.ok());
    CHECK(contains(two.error().message, "one line"));
    CHECK_FALSE(contains(two.error().message, "line-one-secret"));
    CHECK_FALSE(contains(two.error().message, "line-two-secret"));
}

TEST_CASE("secrets: environment variables") {
    ::setenv("AIRLOCK_TEST_SECRET_SET", "env-secret-value\n", 1);
    auto v = load_secret(env_rule("internal", "AIRLOCK_TEST_SECRET_SET"), "/nonexistent");
    REQUIRE(v.ok());
    CHECK(*v == "env-secret-value");

    ::unsetenv("AIRLOCK_TEST_SECRET_UNSET");
    auto unset = load_secret(env_rule("internal", "AIRLOCK_TEST_SECRET_UNSET"), "/nonexistent");
    REQUIRE_FALSE(unset.ok());
    CHECK(contains(unset.error().message, "AIRLOCK_TEST_SECRET_UNSET"));
    CHECK(contains(unset.error().message, "'internal'"));
    CHECK(contains(unset.error().message, "not set"));

    ::setenv("AIRLOCK_TEST_SECRET_EMPTY", "", 1);
    auto empty = load_secret(env_rule("internal", "AIRLOCK_TEST_SECRET_EMPTY"), "/nonexistent");
    REQUIRE_FALSE(empty.ok());
    CHECK(contains(empty.error().message, "AIRLOCK_TEST_SECRET_EMPTY"));
    CHECK(contains(empty.error().message, "'internal'"));
    CHECK(contains(empty.error().message, "empty"));
    ::unsetenv("AIRLOCK_TEST_SECRET_SET");
    ::unsetenv("AIRLOCK_TEST_SECRET_EMPTY");
}

TEST_CASE("secrets: a command's stdout is the secret") {
    auto v = load_secret(command_rule("op", {"printf", "secret"}), "/nonexistent");
    REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    CHECK(*v == "secret");
    auto trimmed = load_secret(command_rule("op", {"printf", "cmd-secret\\n"}), "/nonexistent");
    REQUIRE(trimmed.ok());
    CHECK(*trimmed == "cmd-secret");
    // No shell: metacharacters are plain arguments.
    auto literal = load_secret(command_rule("op", {"printf", "%s", "$HOME;x"}), "/nonexistent");
    REQUIRE(literal.ok());
    CHECK(*literal == "$HOME;x");
    // stdin is /dev/null: a command reading it sees end of file at once.
    auto cat = load_secret(command_rule("op", {"cat"}), "/nonexistent", 2s);
    REQUIRE_FALSE(cat.ok());
    CHECK(contains(cat.error().message, "empty"));
    CHECK(no_children_left());
}

TEST_CASE("secrets: a failing command reports its status and stderr, never its stdout") {
    auto v = load_secret(
        command_rule("vault",
                     {"sh", "-c", "echo stdout-secret-xyz; echo boom >&2; echo more >&2; exit 3"}),
        "/nonexistent");
    REQUIRE_FALSE(v.ok());
    const auto& m = v.error().message;
    CHECK(contains(m, "'vault'"));
    CHECK(contains(m, "3"));
    CHECK(contains(m, "boom"));
    CHECK_FALSE(contains(m, "more"));  // only the first line
    CHECK_FALSE(contains(m, "stdout-secret-xyz"));
    CHECK_FALSE(contains(m, "echo"));  // arguments are not echoed back
    CHECK(no_children_left());
}

TEST_CASE("secrets: a command killed by a signal") {
    auto v = load_secret(command_rule("vault", {"sh", "-c", "kill -9 $$"}), "/nonexistent");
    REQUIRE_FALSE(v.ok());
    CHECK(contains(v.error().message, "signal 9"));
    CHECK(no_children_left());
}

TEST_CASE("secrets: a command that hangs is killed at the timeout and reaped") {
    auto start = std::chrono::steady_clock::now();
    auto v = load_secret(command_rule("slow", {"sleep", "5"}), "/nonexistent", 200ms);
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(v.ok());
    CHECK(contains(v.error().message, "'slow'"));
    CHECK(contains(v.error().message, "timed out after 0.2 s"));
    CHECK(took < 1s);
    CHECK(no_children_left());

    // A grandchild holding the pipes open is killed with it (its process group).
    start = std::chrono::steady_clock::now();
    auto g = load_secret(command_rule("slow", {"sh", "-c", "sleep 5; echo late"}),
                         "/nonexistent", 200ms);
    took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(g.ok());
    CHECK(contains(g.error().message, "timed out"));
    CHECK(took < 1s);
    CHECK(no_children_left());
}

TEST_CASE("secrets: the default timeout is 10 s and says so") {
    CHECK(airlock::proxy::kSecretCommandTimeout == 10s);
}

TEST_CASE("secrets: a missing program is named") {
    auto v = load_secret(command_rule("op", {"airlock-no-such-program-xyz", "read", "x"}),
                         "/nonexistent");
    REQUIRE_FALSE(v.ok());
    CHECK(contains(v.error().message, "airlock-no-such-program-xyz"));
    CHECK(contains(v.error().message, "'op'"));
    CHECK(no_children_left());

    auto empty = load_secret(command_rule("op", {}), "/nonexistent");
    REQUIRE_FALSE(empty.ok());
    CHECK(contains(empty.error().message, "'op'"));
}

TEST_CASE("secrets: a rule without a secret source") {
    CredentialRule r;
    r.name = "bare";
    auto v = load_secret(r, "/nonexistent");
    REQUIRE_FALSE(v.ok());
    CHECK(contains(v.error().message, "'bare'"));
}

TEST_CASE("secrets: load_secrets loads all, the first error names its credential") {
    TempDir home;
    write_file(home.path / "secrets/a", "secret-a\n", 0600);
    ::setenv("AIRLOCK_TEST_SECRET_B", "secret-bb", 1);
    std::vector<CredentialRule> rules = {
        file_rule("a", "secrets/a"),
        env_rule("b", "AIRLOCK_TEST_SECRET_B"),
        command_rule("c", {"printf", "secret-ccc"}),
        command_rule("d", {"printf", "secret-a"}),  // same value as a
    };
    auto set = load_secrets(rules, home.path);
    REQUIRE_MESSAGE(set.ok(), (set.ok() ? "" : set.error().message));
    CHECK(set->by_rule.at("a") == "secret-a");
    CHECK(set->by_rule.at("b") == "secret-bb");
    CHECK(set->by_rule.at("c") == "secret-ccc");
    CHECK(set->values() == std::vector<std::string>{"secret-ccc", "secret-bb", "secret-a"});

    rules.push_back(env_rule("broken", "AIRLOCK_TEST_SECRET_UNSET_2"));
    rules.push_back(file_rule("never-reached", "secrets/none"));
    ::unsetenv("AIRLOCK_TEST_SECRET_UNSET_2");
    auto bad = load_secrets(rules, home.path);
    REQUIRE_FALSE(bad.ok());
    CHECK(contains(bad.error().message, "'broken'"));
    CHECK_FALSE(contains(bad.error().message, "never-reached"));

    std::vector<CredentialRule> dup = {file_rule("a", "secrets/a"), file_rule("a", "secrets/a")};
    auto twice = load_secrets(dup, home.path);
    REQUIRE_FALSE(twice.ok());
    CHECK(contains(twice.error().message, "twice"));
    ::unsetenv("AIRLOCK_TEST_SECRET_B");
}

TEST_CASE("secrets: no error message contains the secret") {
    TempDir home;
    const std::string secret = "sk-very-secret-0123456789";
    write_file(home.path / "s", secret + "\n", 0644);
    write_file(home.path / "ml", secret + "\n" + secret + "\n", 0600);
    ::setenv("AIRLOCK_TEST_SECRET_ML", (secret + "\nX").c_str(), 1);
    std::vector<CredentialRule> failing = {
        file_rule("x", "s"),
        file_rule("x", "ml"),
        env_rule("x", "AIRLOCK_TEST_SECRET_ML"),
        command_rule("x", {"sh", "-c", "printf '" + secret + "'; exit 1"}),
        command_rule("x", {"sh", "-c", "printf '" + secret + "'; sleep 5"}),
        command_rule("x", {"printf", secret + "\\nmore"}),
    };
    for (const auto& rule : failing) {
        auto v = load_secret(rule, home.path, 300ms);
        REQUIRE_FALSE(v.ok());
        CAPTURE(v.error().message);
        CHECK_FALSE(contains(v.error().message, secret));
        CHECK(contains(v.error().message, "'x'"));
    }
    ::unsetenv("AIRLOCK_TEST_SECRET_ML");
    CHECK(no_children_left());
}

TEST_CASE("secrets: secret_command_environment keeps what a password manager needs, nothing else") {
    const char* env[] = {"PATH=/usr/bin:/bin", "HOME=/home/u", "LC_ALL=C.UTF-8", "OP_SESSION_my=tok",
                         "BW_SESSION=bw", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1/bus",
                         "ANTHROPIC_API_KEY=sk-other-rule", "GITHUB_TOKEN=ghp-x", "OP_SERVICE_ACCOUNT_TOKEN=ops",
                         "AIRLOCK_HOME=/h", "=odd", "NOEQUALS", nullptr};
    auto out = airlock::proxy::secret_command_environment(env, {"OP_SERVICE_ACCOUNT_TOKEN"});
    std::vector<std::string> want = {"PATH=/usr/bin:/bin", "HOME=/home/u", "LC_ALL=C.UTF-8", "OP_SESSION_my=tok",
                                     "BW_SESSION=bw", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1/bus"};
    CHECK(out == want);
}

TEST_CASE("secrets: a secret command never sees another rule's env secret, nor the proxy's other variables") {
    ::setenv("AIRLOCK_TEST_OTHER_RULE_SECRET", "sk-other-rule-value", 1);
    ::setenv("OP_AIRLOCK_TEST_SECRET", "sk-op-named-env-secret", 1);  // an allowed prefix, but an env secret
    ::setenv("AIRLOCK_TEST_UNRELATED", "unrelated-value", 1);
    ::setenv("LC_AIRLOCK_TEST", "kept", 1);
    std::vector<CredentialRule> rules = {
        env_rule("other", "AIRLOCK_TEST_OTHER_RULE_SECRET"),
        env_rule("op-env", "OP_AIRLOCK_TEST_SECRET"),
        // Its "secret" is its whole environment on one line.
        command_rule("cmd", {"sh", "-c", "env | tr '\\n' ' '"}),
    };
    TempDir home;
    auto set = load_secrets(rules, home.path);
    REQUIRE_MESSAGE(set.ok(), (set.ok() ? "" : set.error().message));
    const auto& env = set->by_rule.at("cmd");
    CHECK_FALSE(contains(env, "sk-other-rule-value"));
    CHECK_FALSE(contains(env, "sk-op-named-env-secret"));
    CHECK_FALSE(contains(env, "unrelated-value"));
    CHECK(contains(env, "PATH="));
    CHECK(contains(env, "LC_AIRLOCK_TEST=kept"));
    ::unsetenv("AIRLOCK_TEST_OTHER_RULE_SECRET");
    ::unsetenv("OP_AIRLOCK_TEST_SECRET");
    ::unsetenv("AIRLOCK_TEST_UNRELATED");
    ::unsetenv("LC_AIRLOCK_TEST");
}
