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

std::optional<std::chrono::system_clock::time_point> parse_time_utc(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS[.mmm]Z
    auto digits = [&](std::size_t at, std::size_t n, int& out) {
        if (at + n > text.size()) return false;
        out = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;
            out = out * 10 + (text[i] - '0');
        }
        return true;
    };
    int y, mo, d, h, mi, s, ms = 0;
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':')
        return std::nullopt;
    if (!digits(0, 4, y) || !digits(5, 2, mo) || !digits(8, 2, d) || !digits(11, 2, h) || !digits(14, 2, mi) ||
        !digits(17, 2, s))
        return std::nullopt;
    std::size_t at = 19;
    if (text[at] == '.') {
        if (!digits(at + 1, 3, ms)) return std::nullopt;
        at += 4;
    }
    if (at + 1 != text.size() || text[at] != 'Z') return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
    using namespace std::chrono;
    auto day = year_month_day{year{y}, month{static_cast<unsigned>(mo)}, std::chrono::day{static_cast<unsigned>(d)}};
    if (!day.ok()) return std::nullopt;
    return system_clock::time_point(sys_days(day).time_since_epoch() + hours(h) + minutes(mi) + seconds(s) +
                                    milliseconds(ms));
}

std::optional<AuditRecord> parse_audit_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line.front() != '{') return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    auto text = [&](const char* key) -> std::string {
        auto* f = o.if_contains(key);
        return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    auto number = [&](const char* key) -> std::uint64_t {
        auto* f = o.if_contains(key);
        if (!f) return 0;
        if (f->is_uint64()) return f->as_uint64();
        if (f->is_int64()) return f->as_int64() < 0 ? 0 : static_cast<std::uint64_t>(f->as_int64());
        return 0;
    };
    auto time = parse_time_utc(text("time"));
    if (!time) return std::nullopt;
    AuditRecord r;
    r.time = *time;
    r.client = text("client");
    r.method = text("method");
    r.host = text("host");
    r.port = static_cast<std::uint16_t>(std::min<std::uint64_t>(number("port"), 65535));
    r.path = text("path");
    r.status = static_cast<int>(std::min<std::uint64_t>(number("status"), 999));
    r.bytes_up = number("bytes_up");
    r.bytes_down = number("bytes_down");
    r.duration_ms = number("duration_ms");
    auto decision = text("decision");
    r.decision = decision == "intercept" ? Decision::intercept : decision == "tunnel" ? Decision::tunnel : Decision::deny;
    r.rule = text("rule");
    r.error = text("error");
    r.peer = text("peer");
    r.suppressed = number("suppressed");
    return r;
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
