#include "proxy_supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "proxy_log.hpp"
#include "proxy_process.hpp"

namespace airlock {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string seconds_text(milliseconds ms) { return fmt::format("{:g} s", static_cast<double>(ms.count()) / 1000.0); }

// Starts `airlock proxy run` with its ready line going to `ready_w` and its output to the log.
pid_t spawn_server(const Paths& paths, int ready_w, std::uint16_t port, const sigset_t& original_mask) {
    const std::string log = paths.proxy_log().string();
    std::vector<std::string> args = {"airlock", "--home", paths.home.string(), "proxy",        "run",
                                     "--ready-fd", std::to_string(ready_w), "--log-file", log};
    if (port) {
        args.push_back("--port");
        args.push_back(std::to_string(port));
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t child = ::fork();
    if (child == 0) {
        ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        if (out >= 0) {
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        ::fcntl(ready_w, F_SETFD, 0);  // the ready descriptor survives exec
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    if (out >= 0) ::close(out);
    return child;
}

std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("exited with status {}", WEXITSTATUS(status));
}

}  // namespace

std::optional<milliseconds> RestartPolicy::on_crash(milliseconds ran) {
    if (ran >= options_.stable) crashes_ = 0;
    fast_crashes_ = ran < options_.fast ? fast_crashes_ + 1 : 0;
    if (fast_crashes_ >= options_.give_up_after) return std::nullopt;
    ++crashes_;
    auto delay = options_.first_delay;
    for (unsigned i = 1; i < crashes_ && delay < options_.max_delay; ++i) delay *= 2;
    return std::min(delay, options_.max_delay);
}

int run_supervisor(const Paths& paths, int ready_fd, std::uint16_t port) {
    const std::string log = paths.proxy_log().string();
    auto say = [&log](std::string_view line) { append_log_line(log, "supervisor", line); };
    if (auto st = write_pid_file(paths.proxy_supervisor_pid()); !st) {
        say(st.error().message);
        return 1;
    }
    sigset_t handled, original;
    sigemptyset(&handled);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1}) sigaddset(&handled, sig);
    ::sigprocmask(SIG_BLOCK, &handled, &original);
    int sfd = ::signalfd(-1, &handled, SFD_CLOEXEC);
    if (sfd < 0) {
        say(fmt::format("signalfd: {}", std::strerror(errno)));
        remove_pid_file(paths.proxy_supervisor_pid());
        return 1;
    }
    auto next_signal = [sfd]() -> int {
        signalfd_siginfo si{};
        return ::read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si) ? static_cast<int>(si.ssi_signo) : 0;
    };

    RestartPolicy policy;
    bool stopping = false, announced = false;
    int exit_code = 0;
    while (!stopping) {
        int rp[2];
        if (::pipe2(rp, O_CLOEXEC) != 0) {
            say(fmt::format("pipe: {}", std::strerror(errno)));
            exit_code = 1;
            break;
        }
        const auto started = Clock::now();
        pid_t child = spawn_server(paths, rp[1], port, original);
        ::close(rp[1]);
        if (child < 0) {
            ::close(rp[0]);
            say(fmt::format("fork: {}", std::strerror(errno)));
            exit_code = 1;
            break;
        }
        int ready_r = rp[0];
        std::string ready;
        int status = 0;
        for (bool done = false; !done;) {
            pollfd p[2] = {{sfd, POLLIN, 0}, {ready_r, POLLIN, 0}};
            if (::poll(p, ready_r >= 0 ? 2 : 1, -1) < 0) continue;  // EINTR
            if (ready_r >= 0 && p[1].revents) {
                char buf[512];
                auto n = ::read(ready_r, buf, sizeof buf);
                if (n > 0) ready.append(buf, static_cast<std::size_t>(n));
                if (n <= 0 || ready.find('\n') != std::string::npos) {
                    ::close(ready_r);
                    ready_r = -1;
                    if (ready.rfind("ready", 0) == 0) {
                        if (!announced && ready_fd >= 0) {
                            (void)!::write(ready_fd, ready.data(), ready.size());
                            ::close(ready_fd);
                            ready_fd = -1;
                        } else if (announced) {
                            say(fmt::format("the proxy is back (pid {})", child));
                        }
                        announced = true;
                    }
                }
            }
            if (p[0].revents) {
                switch (next_signal()) {
                    case SIGTERM:
                    case SIGINT:
                        stopping = true;
                        ::kill(child, SIGTERM);
                        break;
                    case SIGHUP: ::kill(child, SIGHUP); break;
                    case SIGCHLD:
                        for (;;) {
                            pid_t w = ::waitpid(child, &status, WNOHANG);
                            if (w == child) done = true;
                            if (w >= 0 || errno != EINTR) break;
                        }
                        break;
                    default: break;
                }
            }
        }
        if (ready_r >= 0) ::close(ready_r);
        if (stopping) break;
        if (!announced) {  // the first server never listened: `proxy start` reports why
            exit_code = 1;
            break;
        }
        auto ran = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            say(fmt::format("the proxy (pid {}) stopped; the supervisor stops too", child));
            break;
        }
        auto delay = policy.on_crash(ran);
        if (!delay) {
            say(fmt::format("the proxy (pid {}) {} after {}; it died {} times in a row within {} of starting, so "
                            "the supervisor gives up: fix the cause (see the lines above) and run 'airlock proxy start'",
                            child, describe_exit(status), seconds_text(ran), policy.fast_crashes(),
                            seconds_text(policy.options().fast)));
            exit_code = 1;
            break;
        }
        say(fmt::format("the proxy (pid {}) {} after {}; starting it again in {}", child, describe_exit(status),
                        seconds_text(ran), seconds_text(*delay)));
        const auto deadline = Clock::now() + *delay;
        while (!stopping) {
            auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) break;
            pollfd p{sfd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            int sig = next_signal();
            if (sig == SIGTERM || sig == SIGINT) stopping = true;
            if (sig == SIGUSR1) break;  // `proxy start`: now
        }
    }
    ::close(sfd);
    if (ready_fd >= 0) ::close(ready_fd);
    remove_pid_file(paths.proxy_supervisor_pid());
    return exit_code;
}

}  // namespace airlock
