#pragma once
// What the dashboard knows of the audit log: the newest records, and per session (proxy
// client) and per credential rule the counts and last use. Fed the bytes of audit.jsonl as
// they are appended (audit_tail.hpp reads them); lines are read back with the proxy's own
// parse_audit_line. Pure: no file, no clock.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/audit.hpp"

namespace airlock::ui {

using proxy::AuditRecord;

// A refusal: the proxy said no (decision deny, or 400/403/407/421 to the client).
bool is_refused(const AuditRecord& r);

struct Activity {
    std::uint64_t requests = 0, refusals = 0, bytes_up = 0, bytes_down = 0;
    std::chrono::system_clock::time_point last{};  // epoch = never
};

class AuditIndex {
public:
    explicit AuditIndex(std::size_t keep = 20000, std::size_t max_new = 500) : keep_(keep), max_new_(max_new) {}

    // Bytes as appended to the file (lines may be split anywhere); returns the records added.
    std::size_t feed(std::string_view bytes);
    // The file was replaced (rotated): an unfinished line of the old one is dropped.
    void drop_partial() { partial_.clear(); }

    const std::deque<AuditRecord>& records() const { return records_; }  // oldest first, at most keep
    const std::map<std::string, Activity>& activity() const { return activity_; }  // by client
    const std::map<std::string, std::chrono::system_clock::time_point>& rule_last_used() const { return rules_; }
    // Refusals by status ("400", "403", "407", "421", "other"), suppressed ones included.
    const std::map<std::string, std::uint64_t>& refusal_counts() const { return refusal_counts_; }
    std::uint64_t total() const { return total_; }

    // Records added since the last call (at most max_new, the newest).
    std::vector<AuditRecord> take_new();

private:
    void add(AuditRecord r);

    std::size_t keep_, max_new_;
    std::string partial_;
    std::deque<AuditRecord> records_;
    std::vector<AuditRecord> new_;
    std::map<std::string, Activity> activity_;
    std::map<std::string, std::chrono::system_clock::time_point> rules_;
    std::map<std::string, std::uint64_t> refusal_counts_;
    std::uint64_t total_ = 0;
};

// Requests, bytes and refusals over time, in buckets of `step` seconds: bucket i covers
// [start + i*step, start + (i+1)*step), the last one holds `now`.
struct Series {
    std::int64_t start = 0;  // unix seconds
    std::int64_t step = 1;
    std::vector<std::uint64_t> requests, bytes, refusals;
};

// The bucket width for a window of `window` seconds: about 360 buckets, rounded up to
// 1, 5, 10, 30, 60, 300 or 600 seconds.
std::int64_t series_step(std::int64_t window);

// The series of `client`'s records ("" = everyone's) over the last `window` seconds.
Series make_series(const std::deque<AuditRecord>& records, std::string_view client,
                   std::chrono::system_clock::time_point now, std::int64_t window);

}  // namespace airlock::ui
