#include "proxy/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "proxy/framing.hpp"

namespace airlock::proxy {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

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

std::string to_json_line(const AuditRecord& r) {
    boost::json::object o;
    o["time"] = format_time_utc(r.time);
    o["client"] = r.client;
    o["method"] = r.method;
    o["host"] = r.host;
    o["port"] = r.port;
    o["path"] = r.path.empty() ? std::string() : path_for_log(r.path);
    o["status"] = r.status;
    o["bytes_up"] = r.bytes_up;
    o["bytes_down"] = r.bytes_down;
    o["duration_ms"] = r.duration_ms;
    o["decision"] = to_string(r.decision);
    o["rule"] = r.rule;
    o["error"] = r.error;
    std::string line = boost::json::serialize(o);
    line += '\n';
    return line;
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
    std::unique_ptr<AuditLog> log(new AuditLog(std::move(path), max_bytes, keep, -1, 0));
    std::lock_guard lock(log->mutex_);
    if (auto st = log->open_locked(); !st) return st.error();
    return log;
}

AuditLog::AuditLog(std::string path, std::uint64_t max_bytes, unsigned keep, int fd,
                   std::uint64_t size)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep), fd_(fd), size_(size) {}

AuditLog::~AuditLog() {
    if (fd_ >= 0) ::close(fd_);
}

Status AuditLog::open_locked() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return make_error(fmt::format("cannot open the audit log {}: {}", path_, errno_text(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || ::fchmod(fd, 0600) != 0) {
        int e = errno;
        ::close(fd);
        return make_error(fmt::format("cannot set the audit log {} to mode 0600: {}", path_,
                                      errno_text(e)));
    }
    fd_ = fd;
    size_ = static_cast<std::uint64_t>(st.st_size);
    return {};
}

Status AuditLog::rotate_locked() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (keep_ == 0) {
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
            return make_error(fmt::format("cannot rotate the audit log {}: {}", path_,
                                          errno_text(errno)));
    } else {
        for (unsigned i = keep_; i >= 1; --i) {
            std::string from = i == 1 ? path_ : fmt::format("{}.{}", path_, i - 1);
            std::string to = fmt::format("{}.{}", path_, i);
            if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
                return make_error(fmt::format("cannot rotate the audit log {} to {}: {}", from,
                                              to, errno_text(errno)));
        }
    }
    return open_locked();
}

void AuditLog::set_secrets(std::vector<std::string> secrets) {
    std::lock_guard lock(mutex_);
    secrets_ = std::move(secrets);
}

Status AuditLog::write(const AuditRecord& record) {
    std::lock_guard lock(mutex_);
    AuditRecord r = record;
    for (std::string* s : {&r.client, &r.method, &r.host, &r.path, &r.rule, &r.error})
        *s = redact(*s, secrets_);
    std::string line = to_json_line(r);
    if (fd_ < 0) {  // a previous rotation could not reopen the file
        if (auto st = open_locked(); !st) return st;
    }
    if (size_ > 0 && size_ + line.size() > max_bytes_) {
        if (auto st = rotate_locked(); !st) return st;
    }
    std::size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(fmt::format("cannot write the audit log {}: {}", path_,
                                          errno_text(errno)));
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += line.size();
    return {};
}

}  // namespace airlock::proxy
