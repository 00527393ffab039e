#pragma once
// The supervisor `airlock proxy start` runs in the background: it starts the server
// (`airlock proxy run`), and when the server dies abnormally (a crash, kill -9) starts it
// again after a growing delay, so sessions get their API access back by themselves.
//
// Files in AIRLOCK_HOME: proxy.pid holds the server's pid (the process that serves and
// takes SIGHUP for reload), proxy-supervisor.pid the supervisor's. SIGTERM to the
// supervisor stops both (the server gets SIGTERM and its grace period); SIGHUP is passed
// on; SIGUSR1 skips a pending restart delay.

#include <chrono>
#include <cstdint>
#include <optional>

#include "paths.hpp"

namespace airlock {

// When to start the server again after it died abnormally. Pure.
// The delay doubles with each crash in a row (first_delay, 2x, 4x ... max_delay); a server
// that ran at least `stable` before dying starts the count afresh. After `give_up_after`
// crashes in a row that each came within `fast` of starting, it gives up (nullopt): the
// cause (a broken config, a port taken) will not go away by waiting.
class RestartPolicy {
public:
    struct Options {
        std::chrono::milliseconds first_delay{250};
        std::chrono::milliseconds max_delay{30'000};
        std::chrono::milliseconds stable{60'000};
        std::chrono::milliseconds fast{10'000};
        unsigned give_up_after = 5;
    };
    RestartPolicy() : RestartPolicy(Options{}) {}
    explicit RestartPolicy(Options options) : options_(options) {}

    // The server died after running `ran`: the delay before starting it again, or nullopt.
    std::optional<std::chrono::milliseconds> on_crash(std::chrono::milliseconds ran);
    unsigned fast_crashes() const { return fast_crashes_; }
    const Options& options() const { return options_; }

private:
    Options options_;
    unsigned crashes_ = 0;       // in a row, since the last stable run
    unsigned fast_crashes_ = 0;  // in a row, each within `fast` of starting
};

// The supervisor's main loop (`airlock proxy supervise`, hidden). Writes "ready ..." to
// ready_fd once the first server listens (and closes it); returns 1 if the first server
// never got there (the starter reports proxy.log's last line), 0 after a stop.
int run_supervisor(const Paths& paths, int ready_fd, std::uint16_t port);

}  // namespace airlock
