#pragma once
// The audit log: one JSON object per line per request (or refused CONNECT), appended to
// $AIRLOCK_HOME/audit.jsonl, mode 0600, rotated by size. Secrets never reach it:
// AuditLog::write redacts every string field with the secrets it was given.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "proxy/policy.hpp"

namespace airlock::proxy {

struct AuditRecord {
    std::chrono::system_clock::time_point time;  // when the request started
    std::string client;                           // session name ("" if unauthenticated)
    std::string method;                           // "CONNECT" for tunnels and denials
    std::string host;
    std::uint16_t port = 0;
    std::string path;  // request target; to_json_line drops scheme/authority and query
    int status = 0;    // status sent to the client (0 = none, e.g. tunnel closed)
    std::uint64_t bytes_up = 0;    // client -> upstream body bytes
    std::uint64_t bytes_down = 0;  // upstream -> client body bytes
    std::uint64_t duration_ms = 0;
    Decision::Kind decision = Decision::deny;
    std::string rule;   // credential rule name when intercepted
    std::string error;  // "" or one line
};

// One line, '\n'-terminated, e.g.
// {"time":"2024-05-01T12:34:56.789Z","client":"fix-tests","method":"POST",
//  "host":"api.anthropic.com","port":443,"path":"/v1/messages","status":200,
//  "bytes_up":512,"bytes_down":20480,"duration_ms":1534,"decision":"intercept",
//  "rule":"anthropic","error":""}
// Serialized with Boost.JSON (escaping is its job). No redaction here.
std::string to_json_line(const AuditRecord& record);

// RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string format_time_utc(std::chrono::system_clock::time_point t);

// Replaces every occurrence of every non-empty secret in `text` with "[REDACTED]"
// (longest secrets first, so a secret containing another is redacted whole).
std::string redact(std::string_view text, const std::vector<std::string>& secrets);

// Appends audit lines to a file. Thread-safe: one mutex guards the file descriptor, its
// size and the secret list; write() holds it for one append (and a rotation, when due).
class AuditLog {
public:
    // Opens (creating) `path` with O_APPEND, mode 0600 (an existing file is chmod'ed to
    // 0600). When a write would take the file past max_bytes it is rotated first:
    // path.(keep-1) -> path.keep, ..., path -> path.1; keep = 0 keeps no old files.
    static Result<std::unique_ptr<AuditLog>> open(std::string path, std::uint64_t max_bytes,
                                                  unsigned keep);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Secrets to redact from every string field of every later record (replaces the list;
    // call again when secrets are reloaded). Add rendered header values (HeaderEdit::value)
    // too, since a Basic value encodes the secret.
    void set_secrets(std::vector<std::string> secrets);

    // Redacts, serializes and appends one record. An error (disk full, rotation failed)
    // is returned for the proxy log; the request itself should not fail because of it.
    Status write(const AuditRecord& record);

    const std::string& path() const { return path_; }

private:
    AuditLog(std::string path, std::uint64_t max_bytes, unsigned keep, int fd,
             std::uint64_t size);
    Status rotate_locked();
    Status open_locked();

    const std::string path_;
    const std::uint64_t max_bytes_;
    const unsigned keep_;
    std::mutex mutex_;
    int fd_;                            // guarded by mutex_
    std::uint64_t size_;                // guarded by mutex_
    std::vector<std::string> secrets_;  // guarded by mutex_
};

}  // namespace airlock::proxy
