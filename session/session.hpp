#pragma once
// The session model: one agent run, its worktree, its branch and its container, as
// plain data. The store (store.hpp) persists it; the manager fills it at `create` and
// `refresh` rebuilds the container from it alone, so everything the container spec
// depends on that is specific to this session is here. Host-wide inputs (proxy port,
// CA path, hooks, cache volumes) come from the configuration at (re)creation time.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/settings.hpp"

namespace airlock::session {

enum class SessionStatus {
    creating,  // row written, worktree/container not ready yet
    running,   // container started
    stopped,   // container stopped by airlock (or the user)
    exited,    // the agent process ended on its own
    lost,      // the store says it exists, the engine does not know the container
    failed,    // creation or refresh failed; last_error says why
    deleting,  // delete in progress (crash here: delete again to finish)
};

// "creating", "running", ... as stored and shown by `airlock list`.
inline std::string_view to_string(SessionStatus status) {
    switch (status) {
        case SessionStatus::creating: return "creating";
        case SessionStatus::running: return "running";
        case SessionStatus::stopped: return "stopped";
        case SessionStatus::exited: return "exited";
        case SessionStatus::lost: return "lost";
        case SessionStatus::failed: return "failed";
        case SessionStatus::deleting: return "deleting";
    }
    return "unknown";
}

// The inverse of to_string; nullopt for anything else.
inline std::optional<SessionStatus> parse_session_status(std::string_view text) {
    for (auto s : {SessionStatus::creating, SessionStatus::running, SessionStatus::stopped,
                   SessionStatus::exited, SessionStatus::lost, SessionStatus::failed,
                   SessionStatus::deleting}) {
        if (to_string(s) == text) return s;
    }
    return std::nullopt;
}

struct Session {
    std::string name;  // validated by validate_session_name (names.hpp); the primary key

    // Where it came from.
    std::string repo_root;       // the repository's work tree, absolute
    std::string git_common_dir;  // absolute, e.g. /repo/.git; mounted at the same path
    std::string repo_subdir;     // where the user ran airlock, relative to repo_root; "" = root
    std::string worktree;        // absolute, $AIRLOCK_HOME/worktrees/<name>
    std::string branch;          // "airlock/<name>"
    std::string base_commit;     // full hex id the branch started from

    // The container, as asked for (strings as the user or config gave them).
    std::string backend = "docker";
    std::string image;     // reference as given, e.g. "node:22"
    std::string image_id;  // what the engine resolved it to ("sha256:..."), "" until created
    std::string agent;     // agent name from config ("claude"), or "" for a raw command
    std::vector<std::string> agent_command;  // argv, without the prompt
    PromptMode prompt_mode = PromptMode::arg;
    std::string prompt;
    std::string cpus;    // "" = no limit
    std::string memory;  // "" = no limit
    std::int64_t pids_limit = 0;  // 0 = no limit
    PullPolicy pull_policy = PullPolicy::if_not_present;
    std::string network = "confined";  // confined | open | none | <network name> (network.hpp)
    bool read_only = false;
    std::vector<std::string> extra_env;    // "K=V", never secrets
    std::vector<std::string> credentials;  // credential rule names in scope; empty = all

    // What exists.
    std::string container_id;  // "" until created
    std::string home_volume;   // the session's home volume name
    SessionStatus status = SessionStatus::creating;
    std::string created_at;  // UTC, "2026-01-31T12:00:00.123Z"; set by the store if empty
    std::string updated_at;  // UTC, same format; set by the store on every write
    std::string last_error;  // "" unless something failed

    bool operator==(const Session&) const = default;
};

}  // namespace airlock::session
