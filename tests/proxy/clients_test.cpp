#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "proxy/clients.hpp"

namespace fs = std::filesystem;
using airlock::proxy::ClientInfo;
using airlock::proxy::ClientStore;
using airlock::proxy::validate_client_name;

namespace {

using airlock::testing::TempDir;

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

ClientStore open_rw(const fs::path& db) {
    auto s = ClientStore::open(db, ClientStore::Mode::read_write);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(s).value();
}

ClientStore open_ro(const fs::path& db) {
    auto s = ClientStore::open(db, ClientStore::Mode::read_only);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(s).value();
}

// True when `name` authenticates with `token` against `store`.
bool accepts(ClientStore& store, std::string_view name, std::string_view token) {
    auto r = store.authenticate(name, token);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r->has_value();
}

}  // namespace

TEST_CASE("clients: the store file is 0600 and in WAL mode") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto store = open_rw(db);
    REQUIRE(store.add("alpha", {}).ok());

    struct stat st {};
    REQUIRE(::stat(db.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    if (fs::exists(fs::path(db.string() + "-wal"))) {
        REQUIRE(::stat((db.string() + "-wal").c_str(), &st) == 0);
        CHECK((st.st_mode & 0077) == 0);
    }

    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "wal");
    sqlite3_finalize(s);
    REQUIRE(sqlite3_prepare_v2(raw,
                               "SELECT version FROM airlock_schema WHERE component = "
                               "'proxy_clients'",
                               -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == 1);
    sqlite3_finalize(s);
    sqlite3_close(raw);
}

TEST_CASE("clients: an existing group-readable store is tightened to 0600") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    { std::ofstream(db).flush(); }
    ::chmod(db.c_str(), 0644);
    auto store = open_rw(db);
    struct stat st {};
    REQUIRE(::stat(db.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("clients: opening twice keeps the data (migrations run once)") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    std::string token;
    {
        auto store = open_rw(db);
        token = store.add("alpha", {"anthropic"}).value();
    }
    auto store = open_rw(db);
    CHECK(accepts(store, "alpha", token));
}

TEST_CASE("clients: add returns a URL-safe token that authenticates") {
    TempDir dir;
    auto store = open_rw(dir.path / "sessions.db");
    auto token = store.add("sess-1", {"anthropic", "github"}, std::string("sess-1"));
    REQUIRE(token.ok());
    CHECK(token->size() == 43);
    for (char c : *token) {
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
        CHECK_MESSAGE(safe, "character not URL-userinfo safe: ", c);
    }

    auto who = store.authenticate("sess-1", *token);
    REQUIRE(who.ok());
    REQUIRE(who->has_value());
    const ClientInfo& info = **who;
    CHECK(info.name == "sess-1");
    CHECK(info.credentials == std::vector<std::string>{"anthropic", "github"});
    REQUIRE(info.session.has_value());
    CHECK(*info.session == "sess-1");
    CHECK(info.created_at.size() == 20);  // 2024-05-01T12:00:00Z
    CHECK(info.created_at.back() == 'Z');

    CHECK_FALSE(accepts(store, "sess-1", "wrong"));
    CHECK_FALSE(accepts(store, "sess-1", ""));
    CHECK_FALSE(accepts(store, "sess-1", token->substr(1)));
    CHECK_FALSE(accepts(store, "nobody", *token));
    CHECK_FALSE(accepts(store, "", *token));
    CHECK_FALSE(accepts(store, "SESS-1", *token));

    auto second = store.add("other", {});
    REQUIRE(second.ok());
    CHECK(*second != *token);
    CHECK_FALSE(accepts(store, "sess-1", *second));  // tokens are not interchangeable
    auto other = store.authenticate("other", *second);
    REQUIRE(other.ok());
    REQUIRE(other->has_value());
    CHECK((*other)->credentials.empty());  // all rules
    CHECK_FALSE((*other)->session.has_value());
}

TEST_CASE("clients: the token is not stored anywhere in the database files") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto store = open_rw(db);
    std::vector<std::string> tokens;
    for (const char* name : {"a", "b", "c"}) tokens.push_back(store.add(name, {}).value());
    tokens.push_back(store.rotate("b").value());

    std::string bytes = read_bytes(db) + read_bytes(db.string() + "-wal") +
                        read_bytes(db.string() + "-shm");
    REQUIRE_FALSE(bytes.empty());
    for (const auto& t : tokens) CHECK(bytes.find(t) == std::string::npos);
    CHECK(accepts(store, "a", tokens[0]));
}

TEST_CASE("clients: a read-only store refuses a client right after its removal") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto rw = open_rw(db);
    auto token = rw.add("sess", {}).value();
    auto keep = rw.add("keep", {}).value();

    auto ro = open_ro(db);
    CHECK(accepts(ro, "sess", token));  // also warms the cached statement
    CHECK(accepts(ro, "sess", token));

    REQUIRE(rw.remove("sess").ok());
    CHECK_FALSE(accepts(ro, "sess", token));
    CHECK(accepts(ro, "keep", keep));

    auto list = ro.list();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].name == "keep");
}

TEST_CASE("clients: a read-only store sees clients added and rotated after it opened") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto rw = open_rw(db);
    auto ro = open_ro(db);
    auto token = rw.add("late", {}).value();
    CHECK(accepts(ro, "late", token));
    auto fresh = rw.rotate("late").value();
    CHECK_FALSE(accepts(ro, "late", token));
    CHECK(accepts(ro, "late", fresh));
}

TEST_CASE("clients: read-only store after the writer closed; its writes are refused") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    std::string token;
    {
        auto rw = open_rw(db);
        token = rw.add("y", {}).value();
    }
    CHECK_FALSE(fs::exists(db.string() + "-wal"));  // checkpointed and removed on close
    auto ro = open_ro(db);
    CHECK(accepts(ro, "y", token));
    auto r = ro.add("x", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("read-only") != std::string::npos);
    CHECK_FALSE(ro.remove("x").ok());
    CHECK_FALSE(ro.rotate("x").ok());
}

TEST_CASE("clients: read-only open of a missing store authenticates nobody, then finds it") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto ro = open_ro(db);
    CHECK_FALSE(accepts(ro, "anyone", "anything"));
    auto list = ro.list();
    REQUIRE(list.ok());
    CHECK(list->empty());
    CHECK_FALSE(fs::exists(db));  // a read-only store never creates the file

    // The file exists but has no proxy_clients yet (e.g. the session store made it).
    {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
        REQUIRE(sqlite3_exec(raw, "CREATE TABLE sessions(name TEXT)", nullptr, nullptr,
                             nullptr) == SQLITE_OK);
        sqlite3_close(raw);
    }
    CHECK_FALSE(accepts(ro, "anyone", "anything"));

    // Once the CLI has created a client, the proxy that started earlier sees it.
    auto rw = open_rw(db);
    auto token = rw.add("anyone", {}).value();
    CHECK(accepts(ro, "anyone", token));
}

TEST_CASE("clients: a file that is not a database is an error, not an empty store") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    {
        std::ofstream out(db);
        out << std::string(4096, 'x');
    }
    auto rw = ClientStore::open(db, ClientStore::Mode::read_write);
    CHECK_FALSE(rw.ok());
    auto ro = ClientStore::open(db, ClientStore::Mode::read_only);
    if (ro.ok()) {
        auto r = ro->authenticate("a", "b");
        CHECK_FALSE(r.ok());
    }
}

TEST_CASE("clients: a newer schema is refused with advice") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    { auto rw = open_rw(db); }
    {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
        REQUIRE(sqlite3_exec(raw,
                             "UPDATE airlock_schema SET version = 99 WHERE component = "
                             "'proxy_clients'",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(raw);
    }
    auto rw = ClientStore::open(db, ClientStore::Mode::read_write);
    REQUIRE_FALSE(rw.ok());
    CHECK(rw.error().message.find("upgrade airlock") != std::string::npos);
    auto ro = open_ro(db);
    auto r = ro.authenticate("a", "b");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("upgrade airlock") != std::string::npos);
}

TEST_CASE("clients: list returns names, scopes and sessions, never hashes") {
    TempDir dir;
    auto db = dir.path / "sessions.db";
    auto store = open_rw(db);
    auto tb = store.add("b", {"github", "github", "openai"}).value();
    auto ta = store.add("a", {}, std::string("session-a")).value();

    auto list = store.list();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK((*list)[0].name == "a");
    CHECK((*list)[0].credentials.empty());
    CHECK((*list)[0].session == std::optional<std::string>("session-a"));
    CHECK((*list)[1].name == "b");
    CHECK((*list)[1].credentials == std::vector<std::string>{"github", "openai"});
    CHECK_FALSE((*list)[1].session.has_value());

    // Read the stored hashes directly: none of them may show up in what list() returns.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT token_hash FROM proxy_clients", -1, &s, nullptr) ==
            SQLITE_OK);
    int hashes = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        std::string hash = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        CHECK(hash.size() == 64);
        ++hashes;
        for (const auto& c : *list) {
            CHECK(c.name.find(hash) == std::string::npos);
            CHECK(c.created_at.find(hash) == std::string::npos);
            CHECK(c.session.value_or("").find(hash) == std::string::npos);
            for (const auto& r : c.credentials) CHECK(r.find(hash) == std::string::npos);
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(raw);
    CHECK(hashes == 2);
}

TEST_CASE("clients: name validation") {
    struct Case {
        std::string name;
        bool ok;
    };
    const Case cases[] = {
        {"a", true},
        {"sess-1", true},
        {"fix_the.test-2", true},
        {"_private", true},
        {"0day", true},
        {std::string(63, 'a'), true},
        {"", false},
        {std::string(64, 'a'), false},
        {"-leading-dash", false},
        {".hidden", false},
        {"Upper", false},
        {"with space", false},
        {"colon:", false},
        {"at@", false},
        {"slash/", false},
        {"percent%", false},
        {std::string("nul\0x", 5), false},
        {"caf\xc3\xa9", false},
    };
    TempDir dir;
    auto store = open_rw(dir.path / "sessions.db");
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto st = validate_client_name(c.name);
        CHECK(st.ok() == c.ok);
        auto added = store.add(c.name, {});
        CHECK(added.ok() == c.ok);
        if (!c.ok) {
            CHECK(added.error().message.find("proxy client name") != std::string::npos);
            CHECK(added.error().message.find("a-z") != std::string::npos);
        }
    }
    auto st = validate_client_name("-x");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("starts with '-'") != std::string::npos);
}

TEST_CASE("clients: credential rule names are checked") {
    TempDir dir;
    auto store = open_rw(dir.path / "sessions.db");
    CHECK_FALSE(store.add("a", {""}).ok());
    CHECK_FALSE(store.add("a", {"x,y"}).ok());
    CHECK_FALSE(store.add("a", {"with space"}).ok());
    CHECK(store.add("a", {"x", "y"}).ok());
}

TEST_CASE("clients: adding an existing name is refused with the fix") {
    TempDir dir;
    auto store = open_rw(dir.path / "sessions.db");
    auto first = store.add("x", {}).value();
    auto again = store.add("x", {"github"});
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message ==
          "proxy client 'x' exists; remove it first with 'airlock proxy client remove x'");
    CHECK(accepts(store, "x", first));  // the original is untouched
}

TEST_CASE("clients: rotate gives a new token and invalidates the old one") {
    TempDir dir;
    auto store = open_rw(dir.path / "sessions.db");
    auto old_token = store.add("s", {"anthropic"}, std::string("s")).value();
    auto new_token = store.rotate("s");
    REQUIRE(new_token.ok());
    CHECK(*new_token != old_token);
    CHECK_FALSE(accepts(store, "s", old_token));
    auto who = store.authenticate("s", *new_token);
    REQUIRE(who.ok());
    REQUIRE(who->has_value());
    CHECK((*who)->credentials == std::vector<std::string>{"anthropic"});  // scope kept

    auto missing = store.rotate("ghost");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("'ghost'") != std::string::npos);
}

TEST_CASE("clients: remove") {
    TempDir dir;
    auto store = open_rw(dir.path / "sessions.db");
    auto token = store.add("gone", {}).value();
    REQUIRE(store.remove("gone").ok());
    CHECK_FALSE(accepts(store, "gone", token));
    auto again = store.remove("gone");
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message.find("proxy client 'gone' does not exist") != std::string::npos);
    // The name is free again.
    auto fresh = store.add("gone", {});
    REQUIRE(fresh.ok());
    CHECK_FALSE(accepts(store, "gone", token));
    CHECK(accepts(store, "gone", *fresh));
}

TEST_CASE("clients: the store can be moved") {
    TempDir dir;
    auto a = open_rw(dir.path / "sessions.db");
    auto token = a.add("m", {}).value();
    CHECK(accepts(a, "m", token));  // prepares a statement before the move
    ClientStore b = std::move(a);
    CHECK(accepts(b, "m", token));
}
