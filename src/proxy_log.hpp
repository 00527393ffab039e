#pragma once
// proxy.log: the lines the proxy and its supervisor write. Every line goes through
// format_log_line, so attacker-controlled text (an SNI, a host name) can never forge a
// line or drive the terminal of whoever reads the log; the file is rotated by size.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::proxy { class RotatingFile; }

namespace airlock {

inline constexpr std::uint64_t kProxyLogMaxBytes = 10ull * 1024 * 1024;  // then proxy.log.1 ... .3
inline constexpr unsigned kProxyLogKeep = 3;

// "2026-11-27T13:47:31Z airlock proxy: <line>\n": `who` is "proxy" or "supervisor"; the
// line has its control characters escaped (escape_controls), so it is exactly one line.
std::string format_log_line(std::chrono::system_clock::time_point t, std::string_view who,
                            std::string_view line);

// The server's proxy.log. Thread-safe (one mutex). With `redirect_std`, the file (and
// after each rotation the new one) also becomes this process's stdout and stderr, so
// anything else written there (a crash report) lands in the current file too.
class ProxyLog {
public:
    static Result<std::unique_ptr<ProxyLog>> open(const std::string& path, std::uint64_t max_bytes = kProxyLogMaxBytes,
                                                  unsigned keep = kProxyLogKeep, bool redirect_std = false);
    ~ProxyLog();
    void write(std::string_view who, std::string_view line);

private:
    ProxyLog(std::unique_ptr<proxy::RotatingFile> file, bool redirect_std);
    void redirect_locked();
    const bool redirect_std_;
    std::mutex mutex_;
    std::unique_ptr<proxy::RotatingFile> file_;  // guarded by mutex_
};

// One line appended to `path` without rotating it (the supervisor's few lines; the server
// owns the rotation). Errors are ignored: there is nowhere else to report them.
void append_log_line(const std::string& path, std::string_view who, std::string_view line);

}  // namespace airlock
