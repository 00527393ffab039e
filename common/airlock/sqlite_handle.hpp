#pragma once
// Owning handles for a SQLite connection and a prepared statement, for the stores'
// headers (proxy/clients.hpp, session/store.hpp); what the stores share beyond that is in
// sqlite.hpp. Header-only; the users link sqlite3.

#include <sqlite3.h>

#include <memory>

namespace airlock::sqlite {

struct DbCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

}  // namespace airlock::sqlite
