#include "ui/audit_index.hpp"

#include <algorithm>

namespace airlock::ui {

bool is_refused(const AuditRecord& r) {
    return r.decision == proxy::Decision::deny || r.status == 400 || r.status == 403 || r.status == 407 ||
           r.status == 421;
}

std::size_t AuditIndex::feed(std::string_view bytes) {
    std::size_t added = 0;
    while (!bytes.empty()) {
        auto nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            if (partial_.size() + bytes.size() <= 64 * 1024) partial_.append(bytes);  // a line is a few KiB at most
            else partial_.clear();
            break;
        }
        std::string_view piece = bytes.substr(0, nl);
        bytes.remove_prefix(nl + 1);
        std::optional<AuditRecord> r;
        if (partial_.empty()) {
            r = proxy::parse_audit_line(piece);
        } else {
            partial_.append(piece);
            r = proxy::parse_audit_line(partial_);
            partial_.clear();
        }
        if (!r) continue;
        add(std::move(*r));
        ++added;
    }
    return added;
}

void AuditIndex::add(AuditRecord r) {
    const bool refused = is_refused(r);
    const std::uint64_t count = r.suppressed ? r.suppressed : 1;  // a summary line stands for many
    if (refused) {
        auto key = r.status == 400 || r.status == 403 || r.status == 407 || r.status == 421 ? std::to_string(r.status)
                                                                                             : std::string("other");
        refusal_counts_[key] += count;
    }
    if (!r.suppressed) ++total_;
    if (!r.client.empty() && !r.suppressed) {
        auto& a = activity_[r.client];
        ++a.requests;
        if (refused) ++a.refusals;
        a.bytes_up += r.bytes_up;
        a.bytes_down += r.bytes_down;
        a.last = std::max(a.last, r.time);
    }
    if (!r.rule.empty()) {
        auto& t = rules_[r.rule];
        t = std::max(t, r.time);
    }
    new_.push_back(r);
    if (new_.size() > max_new_) new_.erase(new_.begin(), new_.begin() + static_cast<long>(new_.size() - max_new_));
    records_.push_back(std::move(r));
    while (records_.size() > keep_) records_.pop_front();
}

std::vector<AuditRecord> AuditIndex::take_new() {
    std::vector<AuditRecord> out;
    out.swap(new_);
    return out;
}

std::int64_t series_step(std::int64_t window) {
    const std::int64_t want = std::max<std::int64_t>(1, (window + 359) / 360);
    for (std::int64_t s : {1, 5, 10, 30, 60, 300, 600})
        if (s >= want) return s;
    return 600;
}

Series make_series(const std::deque<AuditRecord>& records, std::string_view client,
                   std::chrono::system_clock::time_point now, std::int64_t window) {
    using namespace std::chrono;
    Series s;
    s.step = series_step(window);
    const std::int64_t now_s = duration_cast<seconds>(now.time_since_epoch()).count();
    const std::int64_t last = now_s - ((now_s % s.step) + s.step) % s.step;  // start of the bucket holding now
    const std::int64_t n = std::max<std::int64_t>(1, (window + s.step - 1) / s.step);
    s.start = last - (n - 1) * s.step;
    s.requests.assign(static_cast<std::size_t>(n), 0);
    s.bytes.assign(static_cast<std::size_t>(n), 0);
    s.refusals.assign(static_cast<std::size_t>(n), 0);
    for (const auto& r : records) {
        if (r.suppressed) continue;
        if (!client.empty() && r.client != client) continue;
        const std::int64_t t = duration_cast<seconds>(r.time.time_since_epoch()).count();
        if (t < s.start || t >= last + s.step) continue;
        const auto i = static_cast<std::size_t>((t - s.start) / s.step);
        ++s.requests[i];
        s.bytes[i] += r.bytes_up + r.bytes_down;
        if (is_refused(r)) ++s.refusals[i];
    }
    return s;
}

}  // namespace airlock::ui
