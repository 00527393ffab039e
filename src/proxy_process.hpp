#pragma once
// The background proxy as processes: a supervisor (proxy_supervisor.hpp) that keeps the
// server running; pid files, start (returns once it listens), stop (SIGTERM, then wait),
// status (through its control socket). Start and stop take an flock on proxy.lock, so
// parallel `airlock create`s start one proxy and the others wait for it.

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

// The pid of the running proxy server of this home (proxy.pid), or nullopt (no pid file,
// or a stale one: e.g. the server was killed and its supervisor has not restarted it yet).
std::optional<pid_t> running_proxy(const Paths& paths);

// The pid of the running supervisor of this home (proxy-supervisor.pid), or nullopt.
std::optional<pid_t> running_supervisor(const Paths& paths);

// "" when the proxy serves; otherwise one line saying it is down, why, and what to do
// (for list, show and doctor).
std::string proxy_down_note(const Paths& paths);

// Starts the supervisor (`airlock proxy supervise`, which runs `airlock proxy run`) in the
// background (log: proxy.log) and waits until the server listens. Returns a line for the
// user; an error carries the proxy's own last log line. Already running is not an error;
// a supervisor waiting to restart a dead server is told to do it now, and waited for.
// Holds the home's proxy.lock throughout, so concurrent callers start one proxy.
Result<std::string> start_proxy(const Paths& paths, std::uint16_t port = 0);

// Asks the supervisor (or, without one, the server) to stop (SIGTERM) and waits for both
// to exit (grace + 5 s, then SIGKILL). Holds proxy.lock.
Result<std::string> stop_proxy(const Paths& paths, std::chrono::seconds grace);

// The stats from the control socket as the proxy sent them (one JSON object, proxy/server.hpp
// stats_json).
Result<std::string> query_status_json(const std::filesystem::path& control_socket);

// Reads the stats from the control socket and formats them for people.
Result<std::string> query_status(const std::filesystem::path& control_socket);

}  // namespace airlock
