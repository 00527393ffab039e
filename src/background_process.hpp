#pragma once
// Starting a long-running airlock process in the background (the proxy's supervisor, the
// dashboard) and waiting for the one line it writes when it is ready.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "airlock/result.hpp"

namespace airlock {

struct Background {
    pid_t pid = -1;
    // The first line the process wrote to its ready descriptor, without the newline; empty
    // when it exited or `wait` passed first (the process may still run: the caller decides).
    std::string ready_line;
};

// Runs `/proc/self/exe args... --ready-fd N` in a session of its own, stdin from /dev/null,
// stdout and stderr appended to `log` (created 0600), no other descriptor of ours inherited
// (a lock the caller holds, a pipe a test reads); waits up to `wait` for a line on N.
Result<Background> start_background(std::vector<std::string> args, const std::filesystem::path& log,
                                    std::chrono::milliseconds wait);

}  // namespace airlock
