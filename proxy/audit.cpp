#include "proxy/audit.hpp"

#include <algorithm>
#include <ctime>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "proxy/framing.hpp"
#include "proxy/rotating_file.hpp"

namespace airlock::proxy {

std::string format_time_utc(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto ms_total = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto secs = ms_total / 1000;
    auto ms = ms_total % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string bound_field(std::string_view s, std::size_t max) {
    auto cost = [](unsigned char c) -> std::size_t {
        if (c == '"' || c == '\\') return 2;
        if (c < 0x20) return c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f' ? 2 : 6;
        return 1;
    };
    std::size_t total = 0;
    for (char c : s) total += cost(static_cast<unsigned char>(c));
    if (total <= max) return std::string(s);
    // The mark is longest when everything is cut: reserve that much.
    const std::size_t mark_max = fmt::formatted_size("...[cut {} bytes]", s.size());
    const std::size_t room = max > mark_max ? max - mark_max : 0;
    std::size_t cut = 0, used = 0;
    while (cut < s.size() && used + cost(static_cast<unsigned char>(s[cut])) <= room)
        used += cost(static_cast<unsigned char>(s[cut++]));
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    std::string out(s.substr(0, cut));
    out += fmt::format("...[cut {} bytes]", s.size() - cut);
    return out;
}

std::string to_json_line(const AuditRecord& r) {
    using L = AuditFieldLimits;
    boost::json::object o;
    o["time"] = format_time_utc(r.time);
    o["client"] = bound_field(r.client, L::client);
    o["method"] = bound_field(r.method, L::method);
    o["host"] = bound_field(r.host, L::host);
    o["port"] = r.port;
    o["path"] = r.path.empty() ? std::string() : bound_field(path_for_log(r.path), L::path);
    o["status"] = r.status;
    o["bytes_up"] = r.bytes_up;
    o["bytes_down"] = r.bytes_down;
    o["duration_ms"] = r.duration_ms;
    o["decision"] = to_string(r.decision);
    o["rule"] = bound_field(r.rule, L::rule);
    o["error"] = bound_field(r.error, L::error);
    if (!r.peer.empty()) o["peer"] = bound_field(r.peer, L::peer);
    if (r.suppressed) o["suppressed"] = r.suppressed;
    std::string line = boost::json::serialize(o);
    line += '\n';
    return line;
}

// ---- RefusalLimiter --------------------------------------------------------------------

RefusalLimiter::Counts& RefusalLimiter::counts_for(const AuditRecord& r) {
    Source key{r.client, r.peer, r.status};
    auto it = sources_.find(key);
    if (it != sources_.end()) return it->second;
    if (sources_.size() >= options_.max_sources) return others_;
    return sources_[key];
}

bool RefusalLimiter::admit(const AuditRecord& refusal, time_point now) {
    if (!start_) start_ = now;
    Counts& c = counts_for(refusal);
    if (written_ >= options_.per_window || c.written >= options_.per_source) {
        ++c.suppressed;
        return false;
    }
    ++c.written;
    ++written_;
    return true;
}

void RefusalLimiter::suppress(const AuditRecord& refusal) {
    ++counts_for(refusal).suppressed;
}

void RefusalLimiter::roll(std::vector<AuditRecord>& out, time_point now) {
    std::vector<std::pair<const Source*, std::uint64_t>> held;
    for (const auto& [source, counts] : sources_)
        if (counts.suppressed) held.emplace_back(&source, counts.suppressed);
    std::stable_sort(held.begin(), held.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    const auto seconds = std::chrono::duration<double>(window_).count();
    std::uint64_t other_count = others_.suppressed, other_sources = others_.suppressed ? 1 : 0;
    for (std::size_t i = 0; i < held.size(); ++i) {
        if (i >= options_.max_summaries) {
            other_count += held[i].second;
            ++other_sources;
            continue;
        }
        const auto& [client, peer, status] = *held[i].first;
        AuditRecord r;
        r.time = now;
        r.client = client;
        r.peer = peer;
        r.status = status;
        r.decision = Decision::deny;
        r.suppressed = held[i].second;
        std::string from = !peer.empty() ? peer : !client.empty() ? "client " + client : "unknown";
        r.error = fmt::format("{} more refusals ({}) from {} in {:g} s were not written", held[i].second, status,
                              from, seconds);
        out.push_back(std::move(r));
    }
    if (other_count) {
        AuditRecord r;
        r.time = now;
        r.decision = Decision::deny;
        r.suppressed = other_count;
        r.error = fmt::format("{} more refusals from {}{} other sources in {:g} s were not written", other_count,
                              others_.suppressed ? "at least " : "", other_sources, seconds);
        out.push_back(std::move(r));
    }
    // A flood goes on: the next window follows at once and is longer. Quiet: back to normal.
    const bool flood = !held.empty() || others_.suppressed;
    if (flood) {
        *start_ += window_;
        window_ = std::min(window_ * 2, options_.max_window);
    } else {
        start_.reset();
        window_ = options_.window;
    }
    sources_.clear();
    others_ = {};
    written_ = 0;
}

std::vector<AuditRecord> RefusalLimiter::take_summaries(time_point now, bool force) {
    std::vector<AuditRecord> out;
    if (force && start_) roll(out, now);
    while (start_ && now >= *start_ + window_) roll(out, now);
    return out;
}

std::string redact(std::string_view text, const std::vector<std::string>& secrets) {
    std::vector<std::string_view> sorted;
    for (const auto& s : secrets)
        if (!s.empty()) sorted.emplace_back(s);
    std::sort(sorted.begin(), sorted.end(),
              [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
    std::string out(text);
    for (auto s : sorted) {
        std::size_t pos = 0;
        while ((pos = out.find(s, pos)) != std::string::npos) {
            out.replace(pos, s.size(), "[REDACTED]");
            pos += 10;
        }
    }
    return out;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(std::string path, std::uint64_t max_bytes,
                                                 unsigned keep) {
    return open(std::move(path), max_bytes, keep, Options{});
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(std::string path, std::uint64_t max_bytes, unsigned keep,
                                                 Options options) {
    auto file = RotatingFile::open(path, max_bytes, keep, "the audit log");
    if (!file) return file.error();
    if (!options.clock) options.clock = [] { return std::chrono::system_clock::now(); };
    return std::unique_ptr<AuditLog>(new AuditLog(std::move(path), std::move(*file), std::move(options)));
}

AuditLog::AuditLog(std::string path, std::unique_ptr<RotatingFile> file, Options options)
    : path_(std::move(path)), options_(std::move(options)), file_(std::move(file)), limiter_(options_.refusals) {}

AuditLog::~AuditLog() {
    std::lock_guard lock(mutex_);
    (void)write_summaries_locked(options_.clock(), true);
}

void AuditLog::set_secrets(std::vector<std::string> secrets) {
    std::lock_guard lock(mutex_);
    secrets_ = std::move(secrets);
}

Status AuditLog::append_locked(const std::string& line, bool refusal) {
    bool rotated = false;
    auto st = file_->append(line, &rotated);
    if (rotated) refusal_bytes_ = 0;
    if (st && refusal) refusal_bytes_ += line.size();
    return st;
}

Status AuditLog::write_summaries_locked(RefusalLimiter::time_point now, bool force) {
    for (auto& summary : limiter_.take_summaries(now, force)) {
        for (std::string* s : {&summary.client, &summary.error}) *s = redact(*s, secrets_);
        if (auto st = append_locked(to_json_line(summary), true); !st) return st;
    }
    return {};
}

Status AuditLog::write(const AuditRecord& record) {
    std::lock_guard lock(mutex_);
    const auto now = options_.clock();
    if (auto st = write_summaries_locked(now, false); !st) return st;
    AuditRecord r = record;
    for (std::string* s : {&r.client, &r.method, &r.host, &r.path, &r.rule, &r.error, &r.peer})
        *s = redact(*s, secrets_);
    const bool refusal = is_refusal(r);
    if (refusal && !limiter_.admit(r, now)) return {};
    std::string line = to_json_line(r);
    if (refusal) {
        // Refusals never fill a file by themselves: past their share they are only counted.
        const auto budget = static_cast<std::uint64_t>(static_cast<double>(file_->max_bytes()) * options_.refusal_share);
        if (refusal_bytes_ + line.size() > budget || file_->would_rotate(line.size())) {
            limiter_.suppress(r);
            return {};
        }
    }
    return append_locked(line, refusal);
}

}  // namespace airlock::proxy
