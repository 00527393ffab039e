#pragma once
// Creating, refreshing and deleting sessions as ordered steps with undo: any failure inside
// create() undoes the steps already taken (container, volume, worktree, branch, proxy
// client, row), so nothing half-made remains. Each of create, refresh and delete holds the
// session's lock (locks.hpp), which names the operation; one that is killed outright leaves
// the lock file unheld, and reconcile() recovers it by kind: a create is undone (its branch
// deleted only while it still points at the base commit), a refresh finished (the new
// container kept, started, and named; never the running agent killed), a delete finished
// (the branch kept). The agent's container is started only as create's last step, after the
// row is committed, and every start counts the running containers against max_containers
// under one lock. Nothing a user committed is deleted without `force`.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "backends/backend.hpp"
#include "session/container.hpp"
#include "session/locks.hpp"
#include "session/session_repo.hpp"
#include "session/session.hpp"
#include "session/store.hpp"

namespace airlock::session {

// The proxy's client registry as the session layer needs it (src/ wires it to the proxy's
// store, so session/ does not depend on proxy/).
class ProxyClients {
public:
    virtual ~ProxyClients() = default;
    virtual Result<std::string> add(const std::string& name, const std::vector<std::string>& credentials,
                                    const std::string& session) = 0;  // -> token
    virtual Result<std::string> rotate(const std::string& name) = 0;  // -> new token
    virtual Status remove(const std::string& name) = 0;              // missing: ok
};

struct CreateRequest {
    std::string repo_path = ".";
    std::string name;             // "" = slug of the prompt
    std::string base;             // "" = HEAD
    std::string image;
    std::string agent;            // name in config.agents
    AgentDefinition agent_definition;
    std::string prompt;
    std::string cpus, memory;
    std::int64_t pids_limit = 0;
    PullPolicy pull_policy = PullPolicy::if_not_present;
    std::string network = "confined";
    bool read_only = false;
    std::vector<std::string> extra_env;
    std::vector<std::string> credentials;
    int max_containers = 0;       // 0 = no limit
};

// Where the manager keeps per-session files on the host.
struct ManagerSettings {
    std::string home;             // $AIRLOCK_HOME
    std::string worktrees_dir;    // $AIRLOCK_HOME/worktrees
    std::string sessions_dir;     // $AIRLOCK_HOME/sessions (prompt files, locks)
    HostSettings host;            // everything else the container needs (host.home_id: this home)
    int max_containers = 0;       // running containers of this home at most; 0 = no limit
};

using Progress = std::function<void(const std::string& line)>;

// One session as the engine reports it now.
struct SessionView {
    Session session;
    std::string state;  // engine state (running, exited, ...) or "lost" / "creating" / "interrupted"
    bool from_engine = true;  // false: the engine did not answer; state is the store's view
    std::string branch_note;  // "" or why the branch was not brought across (see sync)
};

// What delete did with the branch.
struct Removed {
    std::string branch_commit;  // where the branch pointed ("" when it did not exist)
    bool branch_deleted = false;
};

class SessionManager {
public:
    SessionManager(Backend& backend, SessionStore& store, ProxyClients& clients, ManagerSettings settings);

    Result<Session> create(const CreateRequest& request, const Progress& progress);

    struct Refreshed {
        Session session;
        std::string old_image_id, new_image_id;
        std::string old_container_id, new_container_id;
    };
    Result<Refreshed> refresh(const std::string& name, const Progress& progress);

    // Removes container, worktree, the session's repository, home volume and proxy client
    // (and the branch with delete_branch). Brings the branch across first. Refuses
    // uncommitted changes, commits that could not be brought across, and with delete_branch
    // a branch whose commits are not merged into the repository's HEAD, unless force.
    Result<Removed> remove(const std::string& name, bool force, bool delete_branch);

    Status start(const std::string& name);
    Status stop(const std::string& name);  // and brings the branch across (best effort)

    // Brings the session's branch into the user's repository as airlock/<name> now
    // (session_repo.hpp: fast-forward only unless force).
    Result<SyncResult> sync(const std::string& name, bool force);

    // Where the session's own repository and work tree are.
    SessionRepoPaths repo_paths(const Session& s) const;

    // The id of the session's container; error "... run 'airlock refresh S'" when it is gone.
    Result<std::string> container_of(const std::string& name);

    // Sessions with the state the engine reports now; rows whose container is gone show as
    // "lost" (and are marked so in the store, all in one transaction). Brings each session's
    // branch across (best effort; branch_note says what stopped it). When the engine does
    // not answer: the store's view, every row with from_engine = false.
    Result<std::vector<SessionView>> list();
    Result<SessionView> show(const std::string& name);

    // Store vs engine. Without fix: describes each problem. With fix: removes orphan
    // containers (labelled for this home, no row), undoes killed creates, marks lost rows.
    struct Problem {
        std::string what;
        std::string fix;  // the command that fixes it
    };
    Result<std::vector<Problem>> reconcile(bool fix, const Progress& progress);

    Result<Session> get(const std::string& name);

private:
    enum class BranchMode { keep, if_unchanged, remove };
    Status ensure_image(const std::string& image, PullPolicy policy, const Progress& progress, bool refresh);
    Status teardown(const Session& s, BranchMode branch, bool best_effort);
    Status ensure_home_volume(const Session& s);
    Status prepare_ownership(const std::string& container_id, const ContainerSpec& spec);
    // The session's agent definition's files ([agent.<name>] files) into its home volume,
    // through the container (created, not yet started): absent ones, and present ones
    // only when marked overwrite (agent_files.hpp).
    Status write_agent_files(const std::string& container_id, const Session& s, const Progress& progress);
    // The placeholder login files (host.home_files) of the login rules in the session's
    // scope into its home volume, replacing what is there.
    Status write_login_files(const std::string& container_id, const Session& s);
    // Starts the container unless max_containers running containers of this home (other
    // than `session`'s) run already; the count and the start are one step under the start lock.
    Status start_counted(const std::string& container_id, const std::string& session,
                         const std::function<Status()>& before_start = {});
    Result<std::vector<ContainerState>> session_containers(const std::string& name);
    Status recover(const std::string& name, Operation op, const Progress& progress);
    Status finish_refresh(Session s, const Progress& progress);
    HostSettings host_for(const Session& s) const;
    void mark_lost(const std::vector<std::string>& names);  // one transaction, best effort
    std::string lock_file(const std::string& name) const;
    const std::string& home_id() const { return settings_.host.home_id; }

    Backend& backend_;
    SessionStore& store_;
    ProxyClients& clients_;
    ManagerSettings settings_;
};

}  // namespace airlock::session
