#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "session/store.hpp"

namespace fs = std::filesystem;
using airlock::PromptMode;
using airlock::PullPolicy;
using airlock::session::Session;
using airlock::session::SessionStatus;
using airlock::session::SessionStore;

namespace {

using airlock::testing::TempDir;

SessionStore open_store(const fs::path& db) {
    auto s = SessionStore::open(db);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(s).value();
}

Session sample(std::string name) {
    Session s;
    s.name = name;
    s.repo_root = "/home/u/repo";
    s.git_common_dir = "/home/u/repo/.git";
    s.repo_subdir = "pkg/web";
    s.worktree = "/home/u/.airlock/worktrees/" + name;
    s.branch = "airlock/" + name;
    s.base_commit = "0123456789abcdef0123456789abcdef01234567";
    s.image = "node:22";
    s.image_id = "sha256:abc";
    s.agent = "claude";
    s.agent_command = {"claude", "--dangerously-skip-permissions"};
    s.prompt_mode = PromptMode::stdin_;
    s.prompt = "fix the \"failing\" test\nand\tthe other one \\ é 日本";
    s.cpus = "1.5";
    s.memory = "4g";
    s.pids_limit = 512;
    s.pull_policy = PullPolicy::always;
    s.network = "none";
    s.read_only = true;
    s.extra_env = {"A=1", "B=x,y \"quoted\"", std::string("C=\x01\x1f", 4), "D="};
    s.credentials = {"anthropic", "github"};
    s.container_id = "c0ffee";
    s.home_volume = "airlock-home-" + name;
    s.status = SessionStatus::running;
    s.last_error = "";
    return s;
}

// Round-trips compare everything but the timestamps the store sets.
Session without_times(Session s) {
    s.created_at.clear();
    s.updated_at.clear();
    return s;
}

void exec_sql(const fs::path& db, const char* sql) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
    int rc = sqlite3_exec(raw, sql, nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("store: open creates a 0600 WAL database with a schema row") {
    TempDir dir;
    auto db = dir.path / "home" / "sessions.db";
    {
        auto store = open_store(db);
        CHECK(store.path() == db);
    }
    struct stat st {};
    REQUIRE(::stat(db.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT version FROM airlock_schema WHERE component = "
                                    "'sessions'", -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == 1);
    sqlite3_finalize(s);
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "wal");
    sqlite3_finalize(s);
    sqlite3_close(raw);

    // Reopening migrates nothing and keeps the data.
    auto store = open_store(db);
    CHECK(store.list()->empty());
}

TEST_CASE("store: an existing file with loose permissions is tightened") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    { std::FILE* f = std::fopen(db.c_str(), "w"); REQUIRE(f); std::fclose(f); }
    ::chmod(db.c_str(), 0644);
    auto store = open_store(db);
    struct stat st {};
    REQUIRE(::stat(db.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("store: shares the file with other components' rows in airlock_schema") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    exec_sql(db, "CREATE TABLE airlock_schema (component TEXT PRIMARY KEY, version INTEGER "
                 "NOT NULL); INSERT INTO airlock_schema VALUES('proxy_clients', 1);"
                 "CREATE TABLE proxy_clients (name TEXT PRIMARY KEY)");
    auto store = open_store(db);
    REQUIRE(store.insert(sample("a")).ok());
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT count(*) FROM airlock_schema", -1, &s, nullptr) ==
            SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == 2);
    sqlite3_finalize(s);
    sqlite3_close(raw);
}

TEST_CASE("store: a newer schema is refused") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    { auto store = open_store(db); }
    exec_sql(db, "UPDATE airlock_schema SET version = 99 WHERE component = 'sessions'");
    auto r = SessionStore::open(db);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("schema version 99") != std::string::npos);
    CHECK(r.error().message.find("upgrade airlock") != std::string::npos);
}

TEST_CASE("store: a file that is not a database is an error") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    {
        std::FILE* f = std::fopen(db.c_str(), "w");
        REQUIRE(f);
        std::fputs("this is not a database, just some text that is long enough......\n", f);
        std::fclose(f);
    }
    auto r = SessionStore::open(db);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(db.string()) != std::string::npos);
}

TEST_CASE("store: insert, get round-trips every field") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto s = sample("fix-test-k3x9");
    REQUIRE(store.insert(s).ok());
    auto got = store.get("fix-test-k3x9");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    const Session& g = **got;
    CHECK(without_times(g) == without_times(s));
    CHECK(g.created_at.size() == 24);  // 2026-01-31T12:00:00.123Z
    CHECK(g.created_at.back() == 'Z');
    CHECK(g.updated_at == g.created_at);

    auto missing = store.get("nope");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    // Empty lists and defaults round-trip too.
    Session empty;
    empty.name = "empty";
    REQUIRE(store.insert(empty).ok());
    auto e = store.get("empty");
    REQUIRE(e.ok());
    REQUIRE(e->has_value());
    CHECK(without_times(**e) == without_times(empty));
}

TEST_CASE("store: a duplicate name is refused with a helpful message") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    REQUIRE(store.insert(sample("x")).ok());
    auto st = store.insert(sample("x"));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message ==
          "a session named 'x' already exists; pick another --name or delete it with "
          "'airlock delete x'");
}

TEST_CASE("store: update, set_status, set_container") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto s = sample("a");
    s.created_at = "2020-01-01T00:00:00.000Z";
    REQUIRE(store.insert(s).ok());
    CHECK((*store.get("a"))->created_at == "2020-01-01T00:00:00.000Z");

    s.image = "node:23";
    s.agent_command = {"sh", "-c", "echo hi"};
    s.extra_env.clear();
    s.status = SessionStatus::stopped;
    s.created_at = "2030-01-01T00:00:00.000Z";  // ignored: created_at never changes
    REQUIRE(store.update(s).ok());
    auto g = **store.get("a");
    CHECK(g.image == "node:23");
    CHECK(g.agent_command == std::vector<std::string>{"sh", "-c", "echo hi"});
    CHECK(g.extra_env.empty());
    CHECK(g.status == SessionStatus::stopped);
    CHECK(g.created_at == "2020-01-01T00:00:00.000Z");
    CHECK(g.updated_at > g.created_at);

    REQUIRE(store.set_status("a", SessionStatus::failed, "image 'x' not found").ok());
    g = **store.get("a");
    CHECK(g.status == SessionStatus::failed);
    CHECK(g.last_error == "image 'x' not found");
    REQUIRE(store.set_status("a", SessionStatus::running).ok());
    g = **store.get("a");
    CHECK(g.status == SessionStatus::running);
    CHECK(g.last_error.empty());

    REQUIRE(store.set_container("a", "deadbeef", "sha256:123").ok());
    g = **store.get("a");
    CHECK(g.container_id == "deadbeef");
    CHECK(g.image_id == "sha256:123");
    CHECK(g.image == "node:23");

    Session other = sample("missing");
    auto st = store.update(other);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message == "there is no session named 'missing'; see 'airlock list'");
    CHECK_FALSE(store.set_status("missing", SessionStatus::lost).ok());
    CHECK_FALSE(store.set_container("missing", "x", "y").ok());
}

TEST_CASE("store: remove and count_with_status") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto add = [&](const char* name, SessionStatus status) {
        auto s = sample(name);
        s.status = status;
        REQUIRE(store.insert(s).ok());
    };
    add("a", SessionStatus::running);
    add("b", SessionStatus::running);
    add("c", SessionStatus::creating);
    add("d", SessionStatus::stopped);
    add("e", SessionStatus::failed);
    CHECK(*store.count_with_status({SessionStatus::running}) == 2);
    CHECK(*store.count_with_status({SessionStatus::running, SessionStatus::creating}) == 3);
    CHECK(*store.count_with_status({SessionStatus::lost}) == 0);
    CHECK(*store.count_with_status({}) == 0);

    REQUIRE(store.remove("a").ok());
    CHECK_FALSE(store.get("a")->has_value());
    CHECK(*store.count_with_status({SessionStatus::running}) == 1);
    auto st = store.remove("a");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("no session named 'a'") != std::string::npos);
}

TEST_CASE("store: list is ordered by created_at, then insertion") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto add = [&](const char* name, const char* created) {
        auto s = sample(name);
        s.created_at = created;
        REQUIRE(store.insert(s).ok());
    };
    add("c", "2024-01-03T00:00:00.000Z");
    add("a", "2024-01-01T00:00:00.000Z");
    add("b2", "2024-01-02T00:00:00.000Z");
    add("b1", "2024-01-02T00:00:00.000Z");
    auto all = store.list();
    REQUIRE(all.ok());
    REQUIRE(all->size() == 4);
    CHECK((*all)[0].name == "a");
    CHECK((*all)[1].name == "b2");
    CHECK((*all)[2].name == "b1");
    CHECK((*all)[3].name == "c");
}

TEST_CASE("store: transaction commits or rolls back") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto st = store.transaction([&]() -> airlock::Status {
        if (auto r = store.insert(sample("t1")); !r) return r;
        return store.insert(sample("t1"));  // duplicate: the whole transaction goes
    });
    CHECK_FALSE(st.ok());
    CHECK(store.list()->empty());
    REQUIRE(store.transaction([&] { return store.insert(sample("t2")); }).ok());
    CHECK(store.list()->size() == 1);
}

TEST_CASE("store: a second connection sees committed writes") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto one = open_store(db);
    auto two = open_store(db);
    REQUIRE(one.insert(sample("shared")).ok());
    REQUIRE(two.get("shared")->has_value());
    REQUIRE(two.set_status("shared", SessionStatus::exited).ok());
    CHECK((*one.get("shared"))->status == SessionStatus::exited);
}

TEST_CASE("store: unreadable rows are errors that name the session and column") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto store = open_store(db);
    REQUIRE(store.insert(sample("bad")).ok());
    SUBCASE("unknown status") {
        exec_sql(db, "UPDATE sessions SET status = 'zombie'");
        auto r = store.get("bad");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("session 'bad'") != std::string::npos);
        CHECK(r.error().message.find("status ('zombie')") != std::string::npos);
        CHECK_FALSE(store.list().ok());
    }
    SUBCASE("malformed list") {
        exec_sql(db, "UPDATE sessions SET extra_env = '[\"a\",'");
        auto r = store.get("bad");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("extra_env") != std::string::npos);
    }
    SUBCASE("not a list of strings") {
        exec_sql(db, "UPDATE sessions SET credentials = '[1]'");
        CHECK_FALSE(store.get("bad").ok());
    }
    SUBCASE("JSON written by someone else (escapes, spaces) is read") {
        exec_sql(db, "UPDATE sessions SET agent_command = "
                     "' [ \"a\\/b\" , \"\\u00e9\\ud83d\\ude00\", \"\\b\\f\" ] '");
        auto r = store.get("bad");
        REQUIRE(r.ok());
        CHECK((*r)->agent_command ==
              std::vector<std::string>{"a/b", "\xc3\xa9\xf0\x9f\x98\x80", "\b\f"});
    }
    SUBCASE("unknown pull policy") {
        exec_sql(db, "UPDATE sessions SET pull_policy = 'sometimes'");
        CHECK_FALSE(store.get("bad").ok());
    }
}

TEST_CASE("store: listing 1,000 sessions is fast") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto t0 = std::chrono::steady_clock::now();
    auto st = store.transaction([&]() -> airlock::Status {
        for (int i = 0; i < 1000; ++i) {
            if (auto r = store.insert(sample(fmt::format("session-{:04}", i))); !r) return r;
        }
        return {};
    });
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
    auto t1 = std::chrono::steady_clock::now();

    // A fresh connection, as `airlock list` would open it.
    auto reader = open_store(dir.path / "sessions.db");
    auto t2 = std::chrono::steady_clock::now();
    auto all = reader.list();
    auto t3 = std::chrono::steady_clock::now();
    REQUIRE(all.ok());
    CHECK(all->size() == 1000);
    using ms = std::chrono::duration<double, std::milli>;
    MESSAGE(fmt::format("insert 1000 (one transaction): {:.1f} ms; open: {:.1f} ms; "
                        "list 1000: {:.1f} ms",
                        ms(t1 - t0).count(), ms(t2 - t1).count(), ms(t3 - t2).count()));
    CHECK(ms(t3 - t2).count() < 200.0);
    CHECK(ms(t3 - t1).count() < 200.0);
}

TEST_CASE("store: string lists keep every byte: quotes, control characters, invalid UTF-8") {
    TempDir dir;
    auto store = open_store(dir.path / "sessions.db");
    auto s = sample("bytes");
    s.agent_command = {"sh", "-c", "printf '\"%s\\\\n\"' \x01\x1f\n\t", "", "\xff\xfe invalid", "caf\xc3\xa9"};
    s.extra_env = {"A=b\"c", "NUL_FREE=\x7f"};
    s.credentials = {};
    REQUIRE(store.insert(s).ok());
    auto r = store.get("bytes");
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->agent_command == s.agent_command);
    CHECK((*r)->extra_env == s.extra_env);
    CHECK((*r)->credentials.empty());
}
