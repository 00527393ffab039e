#pragma once
// What the two SQLite stores in sessions.db share (proxy/clients.cpp: proxy clients;
// session/store.cpp: sessions): opening the file 0600 in WAL mode, the airlock_schema
// table and its migrations, and small statement helpers. Header-only; the users link
// sqlite3.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "airlock/result.hpp"
#include "airlock/sqlite_handle.hpp"

namespace airlock::sqlite {

inline const char* column_text(sqlite3_stmt* s, int col) {
    const unsigned char* t = sqlite3_column_text(s, col);
    return t ? reinterpret_cast<const char*>(t) : "";
}

// The column's bytes, NULs included.
inline std::string column_string(sqlite3_stmt* s, int col) {
    const unsigned char* t = sqlite3_column_text(s, col);
    if (!t) return {};
    return std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

inline int bind_text(sqlite3_stmt* s, int index, std::string_view text) {
    // A default-constructed string_view has data() == nullptr, which SQLite binds as NULL.
    return sqlite3_bind_text(s, index, text.empty() ? "" : text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
}

// Resets a cached statement when the call using it ends, so no read transaction (and no
// bound value) outlives the call.
class StatementUse {
public:
    explicit StatementUse(sqlite3_stmt* s) : s_(s) {}
    ~StatementUse() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    StatementUse(const StatementUse&) = delete;
    StatementUse& operator=(const StatementUse&) = delete;

private:
    sqlite3_stmt* s_;
};

// Finalizes a one-off statement.
class OneStatement {
public:
    OneStatement() = default;
    ~OneStatement() { sqlite3_finalize(s_); }
    OneStatement(const OneStatement&) = delete;
    OneStatement& operator=(const OneStatement&) = delete;
    sqlite3_stmt** out() { return &s_; }
    sqlite3_stmt* get() const { return s_; }

private:
    sqlite3_stmt* s_ = nullptr;
};

// "<what> in <path>: <sqlite's message>"
inline Error db_error(sqlite3* db, const std::filesystem::path& path, std::string_view what) {
    return make_error(fmt::format("{} in {}: {}", what, path.string(), db ? sqlite3_errmsg(db) : "not open"));
}

// The statement in `slot`, prepared on first use (persistent: a store keeps it for every
// later call). Error: "could not prepare a query on <what> in <path>: ...".
inline Result<sqlite3_stmt*> cached_statement(sqlite3* db, Stmt& slot, const char* sql,
                                              const std::filesystem::path& path, std::string_view what) {
    if (!slot) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
            sqlite3_finalize(s);
            return db_error(db, path, fmt::format("could not prepare a query on {}", what));
        }
        slot.reset(s);
    }
    return slot.get();
}

// Opens `path` read-write for a store (`what`: "the session store"), creating the file
// 0600 (its directory 0700) so it is private from the start (SQLite gives its -wal and -shm
// files the same mode) and tightening an existing one; 5 s busy timeout; WAL mode, or an
// error saying why not. On success *db owns the connection; on error it is closed.
inline Status open_read_write(const std::filesystem::path& path, std::string_view what, sqlite3** db) {
    *db = nullptr;
    const std::string p = path.string();
    std::error_code ec;
    auto parent = path.parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
        std::filesystem::create_directories(parent, ec);
        if (ec) return make_error(fmt::format("could not create {}: {}", parent.string(), ec.message()));
        std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
    }
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return make_error(fmt::format("could not open {}: {}; check the permissions of {}", p, std::strerror(errno),
                                      parent.string()));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) (void)::fchmod(fd, st.st_mode & 0700);
    ::close(fd);

    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(p.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    auto fail = [&](Error e) {
        sqlite3_close_v2(raw);
        return e;
    };
    if (rc != SQLITE_OK) return fail(db_error(raw, path, fmt::format("could not open {}", what)));
    sqlite3_busy_timeout(raw, 5000);
    {
        OneStatement s;
        if (sqlite3_prepare_v2(raw, "PRAGMA journal_mode=WAL", -1, s.out(), nullptr) != SQLITE_OK ||
            sqlite3_step(s.get()) != SQLITE_ROW)
            return fail(db_error(raw, path, fmt::format("could not open {} (set journal_mode=WAL)", what)));
        std::string_view mode = column_text(s.get(), 0);
        if (mode != "wal")
            return fail(make_error(fmt::format("could not switch {} to WAL mode (it stays '{}'); is it on a network "
                                               "file system? keep $AIRLOCK_HOME on a local disk",
                                               p, mode)));
    }
    *db = raw;
    return {};
}

// One component's tables in the shared file, versioned in airlock_schema(component, version).
struct Schema {
    const char* component;                  // "sessions", "proxy_clients"
    std::span<const char* const> migrations;  // [i] brings version i to i + 1
    std::string_view holds;                 // "sessions": "<file> holds sessions in schema version N"
    std::string_view what;                  // "the session store", for messages
    int version() const { return static_cast<int>(migrations.size()); }
};

// The version of `component` recorded in airlock_schema: 0 when it has no row, nullopt
// when there is no airlock_schema table (a new, empty file). Errors: anything else going
// wrong (not a database, I/O).
inline Result<std::optional<int>> schema_version(sqlite3* db, const std::filesystem::path& path,
                                                 const char* component, std::string_view what) {
    OneStatement s;
    // A missing airlock_schema fails the prepare.
    if (sqlite3_prepare_v2(db, "SELECT version FROM airlock_schema WHERE component = ?", -1, s.out(), nullptr) !=
        SQLITE_OK) {
        // Tell "no tables yet" from a real failure.
        OneStatement probe;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, probe.out(), nullptr) != SQLITE_OK ||
            sqlite3_step(probe.get()) != SQLITE_ROW)
            return db_error(db, path, fmt::format("could not read {}", what));
        return std::optional<int>();
    }
    bind_text(s.get(), 1, component);
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) return std::optional<int>(sqlite3_column_int(s.get(), 0));
    if (rc == SQLITE_DONE) return std::optional<int>(0);
    return db_error(db, path, fmt::format("could not read the schema version of {}", what));
}

// The error for a file written by a newer airlock.
inline Error newer_schema(const std::filesystem::path& path, const Schema& schema, int version) {
    return make_error(fmt::format("{} holds {} in schema version {}, newer than this airlock understands ({}); "
                                  "upgrade airlock",
                                  path.string(), schema.holds, version, schema.version()));
}

// Brings the component's tables to schema.version() in one IMMEDIATE transaction; a newer
// version than this airlock knows is an error that says to upgrade.
inline Status migrate(sqlite3* db, const std::filesystem::path& path, const Schema& schema) {
    auto exec = [&](const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); };
    if (exec("BEGIN IMMEDIATE") != SQLITE_OK)
        return db_error(db, path, fmt::format("could not start a migration of {}", schema.what));
    auto fail = [&](std::string_view what) -> Status {
        auto err = db_error(db, path, what);
        exec("ROLLBACK");
        return err;
    };
    if (exec("CREATE TABLE IF NOT EXISTS airlock_schema ("
             "  component TEXT PRIMARY KEY,"
             "  version INTEGER NOT NULL)") != SQLITE_OK)
        return fail("could not create the table airlock_schema");

    auto recorded = schema_version(db, path, schema.component, schema.what);
    if (!recorded) {
        exec("ROLLBACK");
        return recorded.error();
    }
    int version = recorded->value_or(0);
    if (version > schema.version()) {
        exec("ROLLBACK");
        return newer_schema(path, schema, version);
    }
    for (int v = version; v < schema.version(); ++v) {
        if (exec(schema.migrations[static_cast<std::size_t>(v)]) != SQLITE_OK)
            return fail(fmt::format("could not migrate {} to version {}", schema.component, v + 1));
    }
    if (version != schema.version()) {
        OneStatement s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO airlock_schema(component, version) VALUES(?, ?) "
                               "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                               -1, s.out(), nullptr) != SQLITE_OK)
            return fail(fmt::format("could not record the schema version of {}", schema.what));
        bind_text(s.get(), 1, schema.component);
        sqlite3_bind_int(s.get(), 2, schema.version());
        if (sqlite3_step(s.get()) != SQLITE_DONE)
            return fail(fmt::format("could not record the schema version of {}", schema.what));
    }
    if (exec("COMMIT") != SQLITE_OK) return fail(fmt::format("could not commit a migration of {}", schema.what));
    return {};
}

}  // namespace airlock::sqlite
