#include "proxy/clients.hpp"

#include <array>
#include <cstring>
#include <system_error>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "airlock/sqlite.hpp"
#include "airlock/text.hpp"

namespace airlock::proxy {

namespace {

// Version of the proxy_clients schema, in airlock_schema(component = 'proxy_clients').
constexpr int kSchemaVersion = 1;
constexpr const char* kComponent = "proxy_clients";
constexpr std::size_t kMaxNameLength = 63;
constexpr std::size_t kTokenBytes = 32;

// Migrations, index i brings the schema from version i to i + 1.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    "CREATE TABLE proxy_clients ("
    "  name TEXT PRIMARY KEY,"
    "  token_hash TEXT NOT NULL,"
    "  credentials TEXT NOT NULL DEFAULT '',"  // comma-separated rule names; '' = all
    "  session TEXT,"                          // the session it belongs to, or NULL
    "  created_at TEXT"                        // UTC, ISO 8601
    ")",
};
const sqlite::Schema kSchema{kComponent, kMigrations, "proxy clients", "the proxy client store"};

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
        return {};
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 0xf]);
    }
    return out;
}

// 32 random bytes as base64url without padding: [A-Za-z0-9_-], safe in URL userinfo.
Result<std::string> make_token() {
    std::array<unsigned char, kTokenBytes> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        return make_error("could not generate a proxy client token: the OpenSSL random "
                          "generator failed");
    }
    std::array<unsigned char, 4 * ((kTokenBytes + 2) / 3) + 1> b64{};
    int n = EVP_EncodeBlock(b64.data(), raw.data(), static_cast<int>(raw.size()));
    OPENSSL_cleanse(raw.data(), raw.size());
    std::string token;
    token.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        char c = static_cast<char>(b64[static_cast<std::size_t>(i)]);
        if (c == '=') break;
        token.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
    }
    OPENSSL_cleanse(b64.data(), b64.size());
    return token;
}

std::vector<std::string> split_credentials(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto comma = s.find(',');
        auto part = s.substr(0, comma);
        if (!part.empty()) out.emplace_back(part);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

Result<std::string> join_credentials(const std::vector<std::string>& credentials) {
    std::vector<std::string> seen;
    std::string joined;
    for (const auto& c : credentials) {
        if (c.empty()) {
            return make_error("a credential rule name in --credentials is empty; give "
                              "rule names separated by commas, e.g. --credentials anthropic,github");
        }
        for (char ch : c) {
            auto u = static_cast<unsigned char>(ch);
            if (ch == ',' || u <= 0x20 || u == 0x7f) {
                return make_error(fmt::format(
                    "credential rule name '{}' contains a comma, a space or a control "
                    "character; give rule names as in the [[credential]] names of config.toml",
                    printable(c)));
            }
        }
        bool duplicate = false;
        for (const auto& s : seen) duplicate = duplicate || s == c;
        if (duplicate) continue;
        seen.push_back(c);
        if (!joined.empty()) joined.push_back(',');
        joined += c;
    }
    return joined;
}

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::StatementUse;

ClientInfo read_info(sqlite3_stmt* s, int first_col, std::string name) {
    ClientInfo info;
    info.name = std::move(name);
    info.credentials = split_credentials(column_text(s, first_col));
    if (sqlite3_column_type(s, first_col + 1) != SQLITE_NULL) {
        info.session = column_text(s, first_col + 1);
    }
    info.created_at = column_text(s, first_col + 2);
    return info;
}

}  // namespace


Status validate_client_name(std::string_view name) {
    constexpr const char* allowed = "use 1 to 63 characters of a-z, 0-9, '.', '_' and '-'";
    if (name.empty()) {
        return make_error(fmt::format("proxy client name is empty; {}", allowed));
    }
    if (name.size() > kMaxNameLength) {
        return make_error(fmt::format("proxy client name '{}' is too long ({} characters); {}",
                                      printable(name), name.size(), allowed));
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok) {
            return make_error(fmt::format("proxy client name '{}' contains '{}'; {}",
                                          printable(name), printable(std::string_view(&c, 1)),
                                          allowed));
        }
    }
    if (name.front() == '-' || name.front() == '.') {
        return make_error(fmt::format(
            "proxy client name '{}' starts with '{}'; start it with a-z, 0-9 or '_'",
            printable(name), name.front()));
    }
    return {};
}

ClientStore::ClientStore(std::filesystem::path path, Mode mode)
    : path_(std::move(path)), mode_(mode) {}
ClientStore::ClientStore(ClientStore&&) noexcept = default;
ClientStore& ClientStore::operator=(ClientStore&&) noexcept = default;
ClientStore::~ClientStore() = default;

Result<ClientStore> ClientStore::open(const std::filesystem::path& path, Mode mode) {
    ClientStore store(path, mode);
    if (auto st = store.connect(); !st) return st.error();
    return store;
}

Error ClientStore::db_error(std::string_view what) const { return sqlite::db_error(db_.get(), path_, what); }

Status ClientStore::connect() {
    const std::string p = path_.string();
    if (mode_ == Mode::read_only) {
        std::error_code ec;
        if (!std::filesystem::exists(path_, ec)) return {};  // nothing yet: finds nobody
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(p.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK) {
            auto err = db_error("could not open the proxy client store read-only");
            db_.reset();
            return err;
        }
        sqlite3_busy_timeout(db_.get(), 5000);
        return {};
    }

    sqlite3* raw = nullptr;
    if (auto st = sqlite::open_read_write(path_, "the proxy client store", &raw); !st) return st;
    db_.reset(raw);
    return migrate();
}

Status ClientStore::migrate() {
    return sqlite::migrate(db_.get(), path_, kSchema);
}

Result<bool> ClientStore::ready_for_reads() {
    if (mode_ == Mode::read_write) return true;
    if (ready_) return true;  // the table was there once; it stays
    if (!db_) {
        if (auto st = connect(); !st) return st.error();
        if (!db_) return false;
    }
    auto version = sqlite::schema_version(db_.get(), path_, kComponent, "the proxy client store");
    if (!version) return version.error();
    if (!*version) return false;  // no tables yet
    if (**version > kSchemaVersion) return sqlite::newer_schema(path_, kSchema, **version);
    ready_ = **version >= 1;
    return ready_;
}

Status ClientStore::require_writable() const {
    if (mode_ != Mode::read_write) {
        return make_error(fmt::format(
            "the proxy client store {} is open read-only; change clients with "
            "'airlock proxy client'",
            path_.string()));
    }
    return {};
}

Result<sqlite3_stmt*> ClientStore::statement(Stmt& slot, const char* sql) {
    return sqlite::cached_statement(db_.get(), slot, sql, path_, "the proxy client store");
}

Result<std::string> ClientStore::add(const std::string& name,
                                     std::vector<std::string> credentials,
                                     std::optional<std::string> session) {
    if (auto st = require_writable(); !st) return st.error();
    if (auto st = validate_client_name(name); !st) return st.error();
    auto joined = join_credentials(credentials);
    if (!joined) return joined.error();
    auto token = make_token();
    if (!token) return token.error();

    auto s = statement(insert_,
                       "INSERT INTO proxy_clients(name, token_hash, credentials, session, "
                       "created_at) VALUES(?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    bind_text(*s, 2, sha256_hex(*token));
    bind_text(*s, 3, *joined);
    if (session) {
        bind_text(*s, 4, *session);
    } else {
        sqlite3_bind_null(*s, 4);
    }
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_CONSTRAINT) {
        return make_error(fmt::format(
            "proxy client '{}' exists; remove it first with 'airlock proxy client remove {}'",
            name, name));
    }
    if (rc != SQLITE_DONE) {
        return db_error(fmt::format("could not add proxy client '{}'", name));
    }
    return std::move(*token);
}

Result<std::string> ClientStore::rotate(const std::string& name) {
    if (auto st = require_writable(); !st) return st.error();
    if (auto st = validate_client_name(name); !st) return st.error();
    auto token = make_token();
    if (!token) return token.error();
    auto s = statement(update_token_, "UPDATE proxy_clients SET token_hash = ? WHERE name = ?");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, sha256_hex(*token));
    bind_text(*s, 2, name);
    if (sqlite3_step(*s) != SQLITE_DONE) {
        return db_error(fmt::format("could not rotate the token of proxy client '{}'", name));
    }
    if (sqlite3_changes(db_.get()) == 0) {
        return make_error(fmt::format(
            "proxy client '{}' does not exist; see 'airlock proxy client list'", name));
    }
    return std::move(*token);
}

Status ClientStore::remove(const std::string& name) {
    if (auto st = require_writable(); !st) return st.error();
    auto s = statement(delete_, "DELETE FROM proxy_clients WHERE name = ?");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    if (sqlite3_step(*s) != SQLITE_DONE) {
        return db_error(fmt::format("could not remove proxy client '{}'", printable(name)));
    }
    if (sqlite3_changes(db_.get()) == 0) {
        return make_error(fmt::format(
            "proxy client '{}' does not exist; see 'airlock proxy client list'", printable(name)));
    }
    return {};
}

Result<std::vector<ClientInfo>> ClientStore::list() {
    auto ready = ready_for_reads();
    if (!ready) return ready.error();
    std::vector<ClientInfo> out;
    if (!*ready) return out;
    auto s = statement(select_all_,
                       "SELECT name, credentials, session, created_at FROM proxy_clients "
                       "ORDER BY name");
    if (!s) return s.error();
    StatementUse use(*s);
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
        out.push_back(read_info(*s, 1, column_text(*s, 0)));
    }
    if (rc != SQLITE_DONE) return db_error("could not list the proxy clients");
    return out;
}

Result<std::optional<ClientInfo>> ClientStore::authenticate(std::string_view name,
                                                            std::string_view token) {
    std::optional<ClientInfo> nobody;
    if (!validate_client_name(name)) return nobody;
    auto ready = ready_for_reads();
    if (!ready) return ready.error();
    if (!*ready) return nobody;
    auto s = statement(select_one_,
                       "SELECT token_hash, credentials, session, created_at FROM proxy_clients "
                       "WHERE name = ?");
    if (!s) return s.error();
    StatementUse use(*s);
    bind_text(*s, 1, name);
    const std::string presented = sha256_hex(token);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return nobody;
    if (rc != SQLITE_ROW) return db_error("could not look up a proxy client");
    std::string_view stored = column_text(*s, 0);
    if (stored.size() != presented.size() || presented.empty() ||
        CRYPTO_memcmp(stored.data(), presented.data(), presented.size()) != 0) {
        return nobody;
    }
    return std::optional<ClientInfo>(read_info(*s, 1, std::string(name)));
}

}  // namespace airlock::proxy
