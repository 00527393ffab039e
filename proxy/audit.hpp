#pragma once
// The audit log: one JSON object per line per request (or refused CONNECT), appended to
// $AIRLOCK_HOME/audit.jsonl, mode 0600, rotated by size. Secrets never reach it:
// AuditLog::write redacts every string field with the secrets it was given.
//
// Nobody can wipe it from outside: every field is bounded (a line is at most a few KiB),
// and refusals (decision "deny": 407s, forbidden hosts) are rate-limited per source and
// limited to a quarter of each file, so a flood of refusals cannot rotate authenticated
// records away. What a limit held back is counted and written as one summary line.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
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
    std::string peer;   // the client's address, for refusals before authentication ("" = not written)
    std::uint64_t suppressed = 0;  // a summary line: refusals not written (0 = not written)
};

// The most a field takes in a line, JSON escaping included (a refused request's line stays
// under 4 KiB whatever the attacker sends).
struct AuditFieldLimits {
    static constexpr std::size_t client = 128, method = 32, host = 256, path = 1024, rule = 128,
                                 error = 1024, peer = 64;
};

// `s`, cut so that its JSON-escaped form takes at most `max` bytes, at a UTF-8 character
// boundary, and then ending in a mark "...[cut N bytes]" (the mark fits within `max`).
std::string bound_field(std::string_view s, std::size_t max);

// Refusals (decision deny) are what anyone who reaches the port can produce.
inline bool is_refusal(const AuditRecord& r) { return r.decision == Decision::deny; }

// Which refusals are written, pure and deterministic (time comes in). Sources are
// (client, peer, status): per window at most `per_source` refusals of one source and
// `per_window` in all are written; the rest are counted. When the window ends,
// take_summaries() turns the counts into one summary record per source ("N more
// refusals..."), at most `max_summaries` (the rest folded into one "other sources" record).
// While a flood goes on, each window is twice as long as the one before (up to
// max_window), so even the summaries of a days-long flood stay small; a quiet window
// resets it. Not thread-safe (AuditLog holds its mutex).
class RefusalLimiter {
public:
    using time_point = std::chrono::system_clock::time_point;
    struct Options {
        std::chrono::milliseconds window{1000};
        std::chrono::milliseconds max_window{60'000};
        unsigned per_source = 5;
        unsigned per_window = 20;
        std::size_t max_sources = 64;  // tracked one by one; later ones share one count
        std::size_t max_summaries = 8;
    };
    RefusalLimiter() : RefusalLimiter(Options{}) {}
    explicit RefusalLimiter(Options options) : options_(options), window_(options.window) {}

    // Should this refusal be written? (Counts it either way.)
    bool admit(const AuditRecord& refusal, time_point now);
    // Counts a refusal admit() allowed but that was not written after all.
    void suppress(const AuditRecord& refusal);
    // Summary records of the windows that ended by `now` (all of them with force).
    std::vector<AuditRecord> take_summaries(time_point now, bool force = false);

private:
    using Source = std::tuple<std::string, std::string, int>;  // client, peer, status
    struct Counts {
        unsigned written = 0;
        std::uint64_t suppressed = 0;
    };
    Counts& counts_for(const AuditRecord& r);
    void roll(std::vector<AuditRecord>& out, time_point now);

    Options options_;
    std::optional<time_point> start_;  // of the current window; none between floods
    std::chrono::milliseconds window_;
    std::map<Source, Counts> sources_;
    Counts others_;  // sources beyond max_sources
    unsigned written_ = 0;
};

// One line, '\n'-terminated, e.g.
// {"time":"2024-05-01T12:34:56.789Z","client":"fix-tests","method":"POST",
//  "host":"api.anthropic.com","port":443,"path":"/v1/messages","status":200,
//  "bytes_up":512,"bytes_down":20480,"duration_ms":1534,"decision":"intercept",
//  "rule":"anthropic","error":""}
// plus "peer" and "suppressed" when set. Serialized with Boost.JSON (escaping is its job);
// every field bounded with bound_field (AuditFieldLimits). No redaction here.
std::string to_json_line(const AuditRecord& record);

// RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string format_time_utc(std::chrono::system_clock::time_point t);
// The inverse for what format_time_utc writes ("...Z", milliseconds optional); nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_time_utc(std::string_view text);

// One audit line read back (what `airlock credential list` and `airlock ui` read): the
// record as to_json_line wrote it (path and fields as bounded there). nullopt for a line that
// is not a JSON object with a valid "time" (a torn or foreign line); missing fields stay at
// their defaults, an unknown decision reads as deny.
std::optional<AuditRecord> parse_audit_line(std::string_view line);

// Replaces every occurrence of every non-empty secret in `text` with "[REDACTED]"
// (longest secrets first, so a secret containing another is redacted whole).
std::string redact(std::string_view text, const std::vector<std::string>& secrets);

class RotatingFile;

// Appends audit lines to a file. Thread-safe: one mutex guards the file, the limiter and
// the secret list; write() holds it for one append (and a rotation, when due).
class AuditLog {
public:
    struct Options {
        RefusalLimiter::Options refusals;
        // Refusal lines may fill at most this share of each file (summaries always go in).
        double refusal_share = 0.25;
        std::function<RefusalLimiter::time_point()> clock;  // default: system_clock::now
    };
    // Opens (creating) `path` with O_APPEND, mode 0600 (an existing file is chmod'ed to
    // 0600). When a write would take the file past max_bytes it is rotated first:
    // path.(keep-1) -> path.keep, ..., path -> path.1; keep = 0 keeps no old files.
    static Result<std::unique_ptr<AuditLog>> open(std::string path, std::uint64_t max_bytes,
                                                  unsigned keep);
    static Result<std::unique_ptr<AuditLog>> open(std::string path, std::uint64_t max_bytes,
                                                  unsigned keep, Options options);
    ~AuditLog();  // writes the summaries still pending
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Secrets to redact from every string field of every later record (replaces the list;
    // call again when secrets are reloaded). Add rendered header values (HeaderEdit::value)
    // too, since a Basic value encodes the secret.
    void set_secrets(std::vector<std::string> secrets);

    // Redacts, serializes and appends one record (a refusal only if the limits let it;
    // summaries of held-back refusals go first when their window has ended). An error
    // (disk full, rotation failed) is returned for the proxy log; the request itself
    // should not fail because of it.
    Status write(const AuditRecord& record);

    const std::string& path() const { return path_; }

private:
    AuditLog(std::string path, std::unique_ptr<RotatingFile> file, Options options);
    Status append_locked(const std::string& line, bool refusal);
    Status write_summaries_locked(RefusalLimiter::time_point now, bool force);

    const std::string path_;
    const Options options_;
    std::mutex mutex_;
    std::unique_ptr<RotatingFile> file_;  // guarded by mutex_
    RefusalLimiter limiter_;              // guarded by mutex_
    std::uint64_t refusal_bytes_ = 0;     // in the current file; guarded by mutex_
    std::vector<std::string> secrets_;    // guarded by mutex_
};

}  // namespace airlock::proxy
