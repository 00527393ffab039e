#pragma once
// The proxy's clients: who may use the proxy, with which token and which credential
// rules. They live in $AIRLOCK_HOME/sessions.db (SQLite, WAL mode) in the table
// proxy_clients; the session store keeps its own tables in the same file. Each module
// tracks its schema version in its own row of airlock_schema(component, version).
//
// Tokens are stored only as their SHA-256 (hex). A token is returned once, by add() or
// rotate(), and never stored, logged or put into an error message.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/sqlite_handle.hpp"

namespace airlock::proxy {

// What the store says about one client. Never carries the token or its hash.
struct ClientInfo {
    std::string name;
    std::vector<std::string> credentials;  // rule names it may use; empty = all rules
    std::optional<std::string> session;    // the session it belongs to, if any
    std::string created_at;                // UTC, "2024-05-01T12:00:00Z"
};

// Checks a client name: 1..63 characters of [a-z0-9._-], not starting with '-' or '.'.
// The error says what is wrong and what is allowed.
Status validate_client_name(std::string_view name);

// A connection to the store. NOT thread-safe: use one ClientStore per thread (the proxy
// opens one read-only store per worker thread). Move-only.
//
// Every call reads the latest committed state: statements are reset after each use, so
// no read transaction outlives a call and a client removed by another process (or
// another ClientStore) is refused at its next authenticate().
class ClientStore {
public:
    enum class Mode {
        // For the CLI and the session manager: creates the file (mode 0600; an existing
        // file with group/other bits is tightened to 0600) and its parent directory,
        // runs the migrations, sets journal_mode=WAL.
        read_write,
        // For the proxy: SQLITE_OPEN_READONLY. A missing file or table is not an error:
        // lookups find nothing until it appears (the store is re-checked at each call).
        read_only,
    };

    // Errors: the file cannot be opened/created, it is not a database, or its
    // proxy_clients schema is newer than this airlock understands.
    static Result<ClientStore> open(const std::filesystem::path& path, Mode mode);

    ClientStore(ClientStore&&) noexcept;
    ClientStore& operator=(ClientStore&&) noexcept;
    ~ClientStore();

    // Creates a client and returns its token (43 characters of base64url, safe in a
    // URL's userinfo: http://NAME:TOKEN@host:port). credentials: rule names the client
    // may use (empty = all); each non-empty, without ',' or whitespace; duplicates are
    // dropped. Errors: invalid name or rule name, the name exists, read-only store.
    Result<std::string> add(const std::string& name, std::vector<std::string> credentials,
                            std::optional<std::string> session = std::nullopt);

    // Gives an existing client a new token; the old one stops working at once.
    Result<std::string> rotate(const std::string& name);

    // Removes a client; its next request is refused. Error when it does not exist.
    Status remove(const std::string& name);

    // All clients, ordered by name.
    Result<std::vector<ClientInfo>> list();

    // The client whose name and token match (token compared as SHA-256 in constant
    // time), or nullopt for an unknown name, a wrong token or an invalid name.
    // Errors only for database failures (corrupt file, I/O), never for bad credentials.
    Result<std::optional<ClientInfo>> authenticate(std::string_view name,
                                                   std::string_view token);

    const std::filesystem::path& path() const { return path_; }

private:
    using Db = sqlite::Db;
    using Stmt = sqlite::Stmt;

    ClientStore(std::filesystem::path path, Mode mode);

    Status connect();                    // opens db_ (read-only: may leave it null)
    Result<bool> ready_for_reads();      // read-only: (re)opens, checks the table exists
    Status require_writable() const;
    Result<sqlite3_stmt*> statement(Stmt& slot, const char* sql);
    Status migrate();
    Error db_error(std::string_view what) const;

    std::filesystem::path path_;
    Mode mode_;
    bool ready_ = false;  // read-only: the table exists at a version we understand
    Db db_;  // declared before the statements: they are finalized first
    Stmt insert_;
    Stmt update_token_;
    Stmt delete_;
    Stmt select_all_;
    Stmt select_one_;
};

}  // namespace airlock::proxy
