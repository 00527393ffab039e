#pragma once
// Where airlock keeps its state: the data directory ($AIRLOCK_HOME, default ~/.airlock)
// and the fixed layout inside it (see docs/configuration.md, "Data directory").
// Pure path arithmetic: nothing here touches the filesystem.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "airlock/result.hpp"

namespace airlock {

struct Paths {
    std::filesystem::path home;  // absolute, lexically normal

    std::filesystem::path config() const { return home / "config.toml"; }
    std::filesystem::path ca_dir() const { return home / "ca"; }
    std::filesystem::path ca_lock() const { return home / "ca.lock"; }  // flock: one creator at a time
    std::filesystem::path store() const { return home / "sessions.db"; }
    std::filesystem::path worktrees() const { return home / "worktrees"; }
    std::filesystem::path hooks() const { return home / "hooks"; }
    std::filesystem::path secrets() const { return home / "secrets"; }
    std::filesystem::path proxy_pid() const { return home / "proxy.pid"; }  // the serving process
    std::filesystem::path proxy_supervisor_pid() const { return home / "proxy-supervisor.pid"; }
    std::filesystem::path proxy_lock() const { return home / "proxy.lock"; }  // flock: one starter at a time
    std::filesystem::path proxy_log() const { return home / "proxy.log"; }
    std::filesystem::path audit_log() const { return home / "audit.jsonl"; }
    // The running proxy's control socket: its stats as one JSON line (proxy status).
    std::filesystem::path control_socket() const { return home / "proxy.sock"; }
    // The proxy's Unix socket for confined sessions, alone in its directory (mode 0700),
    // which is what containers mount.
    std::filesystem::path run_dir() const { return home / "run"; }
    std::filesystem::path proxy_socket() const { return run_dir() / "proxy.sock"; }

    // A path from the configuration (secret file, upstream_ca): relative paths are
    // relative to home, absolute paths stay as they are, a leading "~/" is $HOME
    // (configured_path in airlock/home_path.hpp; error when $HOME is needed but unset).
    Result<std::filesystem::path> in_home(const std::string& configured, std::string_view what) const;
};

// Where airlock-relay may be, given the airlock executable's path, in the order to try:
// beside it (installed into one directory), ../libexec/airlock/ (installed), ../relay/ (the
// build tree).
std::vector<std::filesystem::path> relay_candidates(const std::filesystem::path& exe);

// The first candidate that exists for the running executable; "" when none does.
std::string find_relay_binary();

// Creates $AIRLOCK_HOME/run with mode 0700 (only the owner, the container's uid, may use the
// socket in it), or fixes its mode.
Status ensure_run_dir(const Paths& paths);

// Error when `socket` does not fit a Unix socket address (108 bytes with its NUL).
Status check_socket_path(const std::filesystem::path& socket);

// Looks up an environment variable; nullopt when unset. The seam for tests.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment (std::getenv).
std::optional<std::string> process_env(const char* name);

// The data directory: --home flag > $AIRLOCK_HOME > $HOME/.airlock. Empty values count
// as unset (except an empty --home, which is an error). A leading "~/" is expanded with
// $HOME; relative paths are made absolute against the current directory.
// Error when none of the three is available.
Result<Paths> resolve_paths(std::optional<std::string> home_flag, const EnvLookup& env = process_env);

}  // namespace airlock
