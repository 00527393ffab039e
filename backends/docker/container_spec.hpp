#pragma once
// ContainerSpec -> the Engine API's create-container request, and the parsers for the
// resource limits users type (--cpu-limit, --memory-limit, [docker] cpus / memory).
// Pure functions: no I/O.

#include <boost/json/object.hpp>

#include <cstdint>
#include <string_view>

#include "airlock/result.hpp"
#include "backends/backend.hpp"

namespace airlock::docker {

// The body of POST /containers/create?name=<spec.name> (the name goes in the query).
// Fields set: Image, Cmd (when non-empty), Env, Labels, WorkingDir, User, Tty, OpenStdin,
// StdinOnce=false, AttachStdin (= open_stdin), AttachStdout, AttachStderr, and HostConfig:
// Mounts, ExtraHosts, NetworkMode (when set), NanoCpus / Memory / PidsLimit (when > 0),
// ReadonlyRootfs, Init (when true), CapDrop, SecurityOpt, and Tmpfs {"/tmp": ...} when the
// root filesystem is read-only and no mount targets /tmp.
boost::json::object to_create_request(const ContainerSpec& spec);

// cpus -> NanoCpus (rounded to the nearest nanoCPU).
std::int64_t nano_cpus(double cpus);

// "123" (bytes), "1024k", "512m", "4g", "1t"; units are case-insensitive and may end in
// "b" ("512mb"). At least 6m (Docker refuses less). `what` names the setting in messages:
// "--memory-limit '4x': expected a number with an optional unit b, k, m, g or t (or kb, mb,
// gb, tb; powers of 1024), e.g. 512m or 4g".
Result<std::int64_t> parse_memory(std::string_view text, std::string_view what = "--memory-limit");

// The smallest process limit a session may have: the init, the agent and a shell need a few,
// and a limit of 1 kills the container at once (its init cannot fork).
inline constexpr std::int64_t kMinPidsLimit = 32;

// A process limit from --pids-limit or [docker] pids_limit: at least kMinPidsLimit. (0 and
// negative values are errors, not "unlimited".) `what` names the setting in messages.
Result<std::int64_t> check_pids_limit(std::int64_t value, std::string_view what = "--pids-limit");

// "2", "0.5", "1.25": a positive decimal with at most 9 decimal places.
Result<double> parse_cpus(std::string_view text, std::string_view what = "--cpu-limit");

}  // namespace airlock::docker
