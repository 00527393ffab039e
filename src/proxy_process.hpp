#pragma once
// The background proxy as a process: pid file, start (returns once it listens), stop
// (SIGTERM, then wait), status (through its control socket).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "airlock/result.hpp"
#include "paths.hpp"

namespace airlock {

Status write_pid_file(const std::filesystem::path& file);
void remove_pid_file(const std::filesystem::path& file);

// The pid of the running proxy of this home, or nullopt (no pid file, or a stale one).
std::optional<pid_t> running_proxy(const Paths& paths);

// Starts `airlock proxy run` in the background (log: proxy.log) and waits until it listens.
// Returns a line for the user; an error carries the proxy's own last log line.
// Already running is not an error.
Result<std::string> start_proxy(const Paths& paths, std::uint16_t port = 0);

// Asks the proxy to stop (SIGTERM) and waits for it to exit (grace + 5 s, then SIGKILL).
Result<std::string> stop_proxy(const Paths& paths, std::chrono::seconds grace);

// Reads the stats from the control socket and formats them for people.
Result<std::string> query_status(const std::filesystem::path& control_socket);

}  // namespace airlock
