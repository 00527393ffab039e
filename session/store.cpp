#include "session/store.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include "airlock/settings_text.hpp"
#include "airlock/sqlite.hpp"
#include "airlock/text.hpp"

namespace airlock::session {

namespace {

// Version of the sessions schema, in airlock_schema(component = 'sessions').
constexpr int kSchemaVersion = 1;
constexpr const char* kComponent = "sessions";

// Migrations, index i brings the schema from version i to i + 1.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    "CREATE TABLE sessions ("
    "  name TEXT PRIMARY KEY,"
    "  repo_root TEXT NOT NULL,"
    "  git_common_dir TEXT NOT NULL,"
    "  repo_subdir TEXT NOT NULL,"
    "  worktree TEXT NOT NULL,"
    "  branch TEXT NOT NULL,"
    "  base_commit TEXT NOT NULL,"
    "  backend TEXT NOT NULL,"
    "  image TEXT NOT NULL,"
    "  image_id TEXT NOT NULL,"
    "  agent TEXT NOT NULL,"
    "  agent_command TEXT NOT NULL,"  // JSON array of strings
    "  prompt_mode TEXT NOT NULL,"
    "  prompt TEXT NOT NULL,"
    "  cpus TEXT NOT NULL,"
    "  memory TEXT NOT NULL,"
    "  pids_limit INTEGER NOT NULL,"
    "  pull_policy TEXT NOT NULL,"
    "  network TEXT NOT NULL,"
    "  read_only INTEGER NOT NULL,"
    "  extra_env TEXT NOT NULL,"    // JSON array of strings
    "  credentials TEXT NOT NULL,"  // JSON array of strings
    "  container_id TEXT NOT NULL,"
    "  home_volume TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"  // UTC, ISO 8601 with milliseconds
    "  updated_at TEXT NOT NULL,"
    "  last_error TEXT NOT NULL"
    ")",
};

// The columns after `name`, in the order of the statements below and of read_row.
#define AIRLOCK_SESSION_COLUMNS                                                            \
    "repo_root, git_common_dir, repo_subdir, worktree, branch, base_commit, backend, "   \
    "image, image_id, agent, agent_command, prompt_mode, prompt, cpus, memory, "         \
    "pids_limit, pull_policy, network, read_only, extra_env, credentials, container_id, " \
    "home_volume, status, created_at, updated_at, last_error"
constexpr int kColumnCount = 28;  // name + the 27 above

constexpr const char* kInsertSql =
    "INSERT INTO sessions(name, " AIRLOCK_SESSION_COLUMNS
    ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
    "?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)";
constexpr const char* kUpdateSql =
    "UPDATE sessions SET repo_root = ?2, git_common_dir = ?3, repo_subdir = ?4, "
    "worktree = ?5, branch = ?6, base_commit = ?7, backend = ?8, image = ?9, "
    "image_id = ?10, agent = ?11, agent_command = ?12, prompt_mode = ?13, prompt = ?14, "
    "cpus = ?15, memory = ?16, pids_limit = ?17, pull_policy = ?18, network = ?19, "
    "read_only = ?20, extra_env = ?21, credentials = ?22, container_id = ?23, "
    "home_volume = ?24, status = ?25, updated_at = ?27, last_error = ?28 "
    "WHERE name = ?1";
constexpr const char* kSelectOneSql =
    "SELECT name, " AIRLOCK_SESSION_COLUMNS " FROM sessions WHERE name = ?";
constexpr const char* kSelectAllSql =
    "SELECT name, " AIRLOCK_SESSION_COLUMNS " FROM sessions ORDER BY created_at, rowid";
#undef AIRLOCK_SESSION_COLUMNS

std::string now_utc() {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

// ---- JSON arrays of strings ------------------------------------------------------
// Only what the store writes: an array of strings (Boost.JSON). Bytes >= 0x80 pass through
// as they are (values come from argv and may not be UTF-8).

std::string to_json(const std::vector<std::string>& items) {
    boost::json::array a;
    for (const auto& item : items) a.emplace_back(item);
    return boost::json::serialize(a);
}

std::optional<std::vector<std::string>> from_json(std::string_view text) {
    boost::json::parse_options options;
    options.allow_invalid_utf8 = true;
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec, {}, options);
    if (ec || !v.is_array()) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& item : v.as_array()) {
        if (!item.is_string()) return std::nullopt;
        out.emplace_back(item.as_string());
    }
    return out;
}

// ---- statements ---------------------------------------------------------------------

using sqlite::bind_text;
using sqlite::column_string;
using sqlite::column_text;
using sqlite::StatementUse;

// Binds ?1..?28 in the column order of kInsertSql.
bool bind_session(sqlite3_stmt* s, const Session& v, std::string_view created_at,
                  std::string_view updated_at) {
    int rc = SQLITE_OK;
    int i = 0;
    auto text = [&](std::string_view t) {
        if (rc == SQLITE_OK) rc = bind_text(s, ++i, t);
    };
    text(v.name);
    text(v.repo_root);
    text(v.git_common_dir);
    text(v.repo_subdir);
    text(v.worktree);
    text(v.branch);
    text(v.base_commit);
    text(v.backend);
    text(v.image);
    text(v.image_id);
    text(v.agent);
    text(to_json(v.agent_command));
    text(to_string(v.prompt_mode));
    text(v.prompt);
    text(v.cpus);
    text(v.memory);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, ++i, v.pids_limit);
    text(to_string(v.pull_policy));
    text(v.network);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, ++i, v.read_only ? 1 : 0);
    text(to_json(v.extra_env));
    text(to_json(v.credentials));
    text(v.container_id);
    text(v.home_volume);
    text(to_string(v.status));
    text(created_at);
    text(updated_at);
    text(v.last_error);
    return rc == SQLITE_OK && i == kColumnCount;
}

// Reads a row in the column order of kSelectOneSql; the error names the session and the
// column that cannot be read.
Result<Session> read_row(sqlite3_stmt* s, const std::filesystem::path& db) {
    Session v;
    int i = 0;
    v.name = column_string(s, i++);
    auto bad = [&](std::string_view column, std::string_view value) {
        return make_error(fmt::format(
            "session '{}' in {} has an unreadable {} ('{}'); it was written by another "
            "airlock version or edited by hand; upgrade airlock or delete the session",
            printable(v.name), db.string(), column, printable(value.substr(0, 60))));
    };
    auto list = [&](std::string_view column, std::vector<std::string>& out) -> Status {
        std::string_view raw = column_text(s, i++);
        auto parsed = from_json(raw);
        if (!parsed) return bad(column, raw);
        out = std::move(*parsed);
        return {};
    };
    v.repo_root = column_string(s, i++);
    v.git_common_dir = column_string(s, i++);
    v.repo_subdir = column_string(s, i++);
    v.worktree = column_string(s, i++);
    v.branch = column_string(s, i++);
    v.base_commit = column_string(s, i++);
    v.backend = column_string(s, i++);
    v.image = column_string(s, i++);
    v.image_id = column_string(s, i++);
    v.agent = column_string(s, i++);
    if (auto st = list("agent_command", v.agent_command); !st) return st.error();
    {
        std::string_view raw = column_text(s, i++);
        auto m = parse_prompt_mode(raw);
        if (!m) return bad("prompt_mode", raw);
        v.prompt_mode = *m;
    }
    v.prompt = column_string(s, i++);
    v.cpus = column_string(s, i++);
    v.memory = column_string(s, i++);
    v.pids_limit = sqlite3_column_int64(s, i++);
    {
        std::string_view raw = column_text(s, i++);
        auto p = parse_pull_policy(raw);
        if (!p) return bad("pull_policy", raw);
        v.pull_policy = *p;
    }
    v.network = column_string(s, i++);
    v.read_only = sqlite3_column_int(s, i++) != 0;
    if (auto st = list("extra_env", v.extra_env); !st) return st.error();
    if (auto st = list("credentials", v.credentials); !st) return st.error();
    v.container_id = column_string(s, i++);
    v.home_volume = column_string(s, i++);
    {
        std::string_view raw = column_text(s, i++);
        auto st = parse_session_status(raw);
        if (!st) return bad("status", raw);
        v.status = *st;
    }
    v.created_at = column_string(s, i++);
    v.updated_at = column_string(s, i++);
    v.last_error = column_string(s, i++);
    return v;
}

Error no_such_session(std::string_view name) {
    return make_error(
        fmt::format("there is no session named '{}'; see 'airlock list'", printable(name)));
}

}  // namespace


SessionStore::SessionStore(std::filesystem::path path) : path_(std::move(path)) {}
SessionStore::SessionStore(SessionStore&&) noexcept = default;
SessionStore& SessionStore::operator=(SessionStore&&) noexcept = default;
SessionStore::~SessionStore() = default;

Result<SessionStore> SessionStore::open(const std::filesystem::path& path) {
    SessionStore store(path);
    if (auto st = store.connect(); !st) return st.error();
    return store;
}

Error SessionStore::db_error(std::string_view what) const { return sqlite::db_error(db_.get(), path_, what); }

Status SessionStore::exec(const char* sql, std::string_view what) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return db_error(what);
    }
    return {};
}

Status SessionStore::connect() {
    sqlite3* raw = nullptr;
    if (auto st = sqlite::open_read_write(path_, "the session store", &raw); !st) return st;
    db_.reset(raw);
    return migrate();
}

Status SessionStore::migrate() {
    return sqlite::migrate(db_.get(), path_, {kComponent, kMigrations, "sessions", "the session store"});
}

Result<sqlite3_stmt*> SessionStore::statement(Stmt& slot, const char* sql) {
    return sqlite::cached_statement(db_.get(), slot, sql, path_, "the session store");
}

// Steps a write statement and turns "no row changed" into "no such session".
Status SessionStore::finish_write(sqlite3_stmt* s, std::string_view name, std::string_view what) {
    if (sqlite3_step(s) != SQLITE_DONE) {
        return db_error(fmt::format("could not {} of session '{}'", what, printable(name)));
    }
    if (sqlite3_changes(db_.get()) == 0) return no_such_session(name);
    return {};
}

Status SessionStore::insert(const Session& session) {
    auto s = statement(insert_, kInsertSql);
    if (!s) return s.error();
    StatementUse use(*s);
    const std::string now = now_utc();
    if (!bind_session(*s, session, session.created_at.empty() ? now : session.created_at,
                      now)) {
        return db_error(fmt::format("could not store session '{}'", printable(session.name)));
    }
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_CONSTRAINT &&
        sqlite3_extended_errcode(db_.get()) == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return make_error(fmt::format(
            "a session named '{}' already exists; pick another --name or delete it with "
            "'airlock delete {}'",
            printable(session.name), printable(session.name)));
    }
    if (rc != SQLITE_DONE) {
        return db_error(fmt::format("could not store session '{}'", printable(session.name)));
    }
    return {};
}

Status SessionStore::update(const Session& session) {
    auto s = statement(update_, kUpdateSql);
    if (!s) return s.error();
    StatementUse use(*s);
    // ?26 (created_at) is bound but not used by the UPDATE: created_at never changes.
    if (!bind_session(*s, session, session.created_at, now_utc())) {
        return db_error(fmt::format("could not update session '{}'", printable(session.name)));
    }
    return finish_write(*s, session.name, "update the row");
}

Status SessionStore::set_status(std::string_view name, SessionStatus status,
                                std::string_view last_error) {
    auto s = statement(set_status_,
                       "UPDATE sessions SET status = ?2, last_error = ?3, updated_at = ?4 "
                       "WHERE name = ?1");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    bind_text(*s, 2, to_string(status));
    bind_text(*s, 3, last_error);
    bind_text(*s, 4, now_utc());
    return finish_write(*s, name, "set the status");
}

Status SessionStore::set_container(std::string_view name, std::string_view container_id,
                                   std::string_view image_id) {
    auto s = statement(set_container_,
                       "UPDATE sessions SET container_id = ?2, image_id = ?3, updated_at = ?4 "
                       "WHERE name = ?1");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    bind_text(*s, 2, container_id);
    bind_text(*s, 3, image_id);
    bind_text(*s, 4, now_utc());
    return finish_write(*s, name, "record the container");
}

Result<std::optional<Session>> SessionStore::get(std::string_view name) {
    auto s = statement(select_one_, kSelectOneSql);
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<Session>();
    if (rc != SQLITE_ROW) {
        return db_error(fmt::format("could not read session '{}'", printable(name)));
    }
    auto row = read_row(*s, path_);
    if (!row) return row.error();
    return std::optional<Session>(std::move(*row));
}

Result<std::vector<Session>> SessionStore::list() {
    auto s = statement(select_all_, kSelectAllSql);
    if (!s) return s.error();
    StatementUse use(*s);
    std::vector<Session> out;
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
        auto row = read_row(*s, path_);
        if (!row) return row.error();
        out.push_back(std::move(*row));
    }
    if (rc != SQLITE_DONE) return db_error("could not list the sessions");
    return out;
}

Status SessionStore::remove(std::string_view name) {
    auto s = statement(delete_, "DELETE FROM sessions WHERE name = ?1");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    return finish_write(*s, name, "delete the row");
}

Result<std::size_t> SessionStore::count_with_status(
    std::initializer_list<SessionStatus> statuses) {
    auto s = statement(count_, "SELECT status, count(*) FROM sessions GROUP BY status");
    if (!s) return s.error();
    StatementUse use(*s);
    std::size_t total = 0;
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
        std::string_view status = column_text(*s, 0);
        for (auto wanted : statuses) {
            if (to_string(wanted) == status) {
                total += static_cast<std::size_t>(sqlite3_column_int64(*s, 1));
                break;
            }
        }
    }
    if (rc != SQLITE_DONE) return db_error("could not count the sessions");
    return total;
}

Status SessionStore::transaction(const std::function<Status()>& body) {
    if (auto st = exec("BEGIN IMMEDIATE", "could not start a transaction on the session store");
        !st) {
        return st;
    }
    Status result;
    try {
        result = body();
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    if (!result) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        return result;
    }
    if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        auto err = db_error("could not commit a transaction on the session store");
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        return err;
    }
    return {};
}

}  // namespace airlock::session
