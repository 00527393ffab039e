#pragma once
// The session store: one row per session in the table `sessions` of
// $AIRLOCK_HOME/sessions.db (SQLite, WAL mode, busy timeout 5 s, file mode 0600). The
// proxy's clients live in the same file (proxy/clients.hpp); each module tracks its
// schema version in its own row of airlock_schema(component, version) — ours is
// 'sessions'. Lists (agent_command, extra_env, credentials) are stored as JSON arrays
// of strings.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/sqlite_handle.hpp"
#include "session/session.hpp"

namespace airlock::session {

// A connection to the store. NOT thread-safe: use one SessionStore per thread. Separate
// processes (the CLI, a second `airlock create`) may use the file at the same time;
// SQLite serializes writers and each call sees the latest committed state. Move-only.
class SessionStore {
public:
    // Opens (or creates, with its parent directory) the database, sets WAL mode and runs
    // the migrations of the 'sessions' component. An existing file with group/other
    // permission bits is tightened to 0600. Errors: the file cannot be opened or created,
    // it is not a database, WAL cannot be enabled (network file system), or the schema
    // is newer than this airlock understands.
    static Result<SessionStore> open(const std::filesystem::path& path);

    SessionStore(SessionStore&&) noexcept;
    SessionStore& operator=(SessionStore&&) noexcept;
    ~SessionStore();

    // Adds a session. created_at is kept when set (else now), updated_at is now.
    // Errors: a session with that name exists ("a session named 'x' already exists; ..."),
    // database failures. Does not validate the name: do that first (names.hpp).
    Status insert(const Session& session);

    // Rewrites every column of the session named session.name except created_at;
    // updated_at becomes now. Error when no such session exists.
    Status update(const Session& session);

    // Sets status and last_error ("" clears it). Error when no such session exists.
    Status set_status(std::string_view name, SessionStatus status,
                      std::string_view last_error = {});

    // Records the container the backend created and the image id it resolved.
    // Error when no such session exists.
    Status set_container(std::string_view name, std::string_view container_id,
                         std::string_view image_id);

    // The session, or nullopt when there is none by that name. Errors: database failures,
    // a row this airlock cannot read (unknown status or malformed list).
    Result<std::optional<Session>> get(std::string_view name);

    // All sessions, oldest first (created_at, then insertion order). One SELECT.
    Result<std::vector<Session>> list();

    // Deletes the row. Error when no such session exists.
    Status remove(std::string_view name);

    // How many sessions have one of `statuses` (e.g. {creating, running} against
    // max_containers).
    Result<std::size_t> count_with_status(std::initializer_list<SessionStatus> statuses);

    // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it returns an error
    // (or throws). Not reentrant. Many inserts in one transaction are much faster.
    Status transaction(const std::function<Status()>& body);

    const std::filesystem::path& path() const { return path_; }

private:
    using Db = sqlite::Db;
    using Stmt = sqlite::Stmt;

    explicit SessionStore(std::filesystem::path path);

    Status connect();
    Status migrate();
    Result<sqlite3_stmt*> statement(Stmt& slot, const char* sql);
    Status exec(const char* sql, std::string_view what);
    Status finish_write(sqlite3_stmt* s, std::string_view name, std::string_view what);
    Error db_error(std::string_view what) const;

    std::filesystem::path path_;
    Db db_;  // declared before the statements: they are finalized first
    Stmt insert_;
    Stmt update_;
    Stmt set_status_;
    Stmt set_container_;
    Stmt select_one_;
    Stmt select_all_;
    Stmt delete_;
    Stmt count_;
};

}  // namespace airlock::session
