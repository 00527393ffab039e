#include "proxy_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

#include "airlock/text.hpp"
#include "proxy/rotating_file.hpp"

namespace airlock {

std::string format_log_line(std::chrono::system_clock::time_point t, std::string_view who, std::string_view line) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z airlock {}: {}\n", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, escape_controls(who), escape_controls(line));
}

Result<std::unique_ptr<ProxyLog>> ProxyLog::open(const std::string& path, std::uint64_t max_bytes, unsigned keep,
                                                 bool redirect_std) {
    auto file = proxy::RotatingFile::open(path, max_bytes, keep, "the proxy log");
    if (!file) return file.error();
    return std::unique_ptr<ProxyLog>(new ProxyLog(std::move(*file), redirect_std));
}

ProxyLog::ProxyLog(std::unique_ptr<proxy::RotatingFile> file, bool redirect_std)
    : redirect_std_(redirect_std), file_(std::move(file)) {
    redirect_locked();
}

void ProxyLog::redirect_locked() {
    if (!redirect_std_ || file_->fd() < 0) return;
    ::dup2(file_->fd(), 1);
    ::dup2(file_->fd(), 2);
}

ProxyLog::~ProxyLog() = default;

void ProxyLog::write(std::string_view who, std::string_view line) {
    auto text = format_log_line(std::chrono::system_clock::now(), who, line);
    std::lock_guard lock(mutex_);
    bool rotated = false;
    if (!file_->append(text, &rotated)) {
        (void)!::write(2, text.data(), text.size());  // the old file, at least
        return;
    }
    if (rotated) redirect_locked();
}

void append_log_line(const std::string& path, std::string_view who, std::string_view line) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    auto text = format_log_line(std::chrono::system_clock::now(), who, line);
    (void)!::write(fd, text.data(), text.size());
    ::close(fd);
}

}  // namespace airlock
