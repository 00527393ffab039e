#include "background_process.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/close_range.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace airlock {

Result<Background> start_background(std::vector<std::string> args, const std::filesystem::path& log_path,
                                    std::chrono::milliseconds wait) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(fmt::format("pipe: {}", std::strerror(errno)));
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
        int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        return make_error(fmt::format("cannot open {}: {}", log_path.string(), std::strerror(err)));
    }
    args.push_back("--ready-fd");
    args.push_back(std::to_string(fds[1]));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t child = ::fork();
    if (child < 0) {
        int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        ::close(log);
        return make_error(fmt::format("fork: {}", std::strerror(err)));
    }
    if (child == 0) {
        ::setsid();
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        ::fcntl(fds[1], F_SETFD, 0);  // the ready descriptor survives exec
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    ::close(log);

    std::string got;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (got.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[512];
        auto n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;  // it exited without saying ready
        got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    Background b;
    b.pid = child;
    if (auto nl = got.find('\n'); nl != std::string::npos) b.ready_line = got.substr(0, nl);
    return b;
}

}  // namespace airlock
