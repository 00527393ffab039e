#include "session/manager.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <fstream>
#include <map>

#include "backends/docker/container_spec.hpp"
#include "session/names.hpp"
#include "session/network.hpp"
#include "session/session_repo.hpp"
#include "session/worktree.hpp"

namespace airlock::session {

namespace fs = std::filesystem;

namespace {

// A docker image reference: [registry[:port]/]path[:tag][@digest], path lowercase.
Status validate_image_reference(const std::string& ref) {
    auto bad = [&](std::string_view why) {
        return make_error(fmt::format("invalid image reference '{}': {}; expected e.g. node:22 or "
                                      "ghcr.io/org/image:tag",
                                      ref, why));
    };
    if (ref.empty()) return bad("it is empty");
    if (ref.size() > 255) return bad("it is longer than 255 characters");
    std::string name = ref;
    if (auto at = name.find('@'); at != std::string::npos) {
        auto digest = name.substr(at + 1);
        if (digest.find(':') == std::string::npos) return bad("the digest must look like sha256:<hex>");
        name = name.substr(0, at);
    }
    auto slash = name.rfind('/');
    auto colon = name.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        auto tag = name.substr(colon + 1);
        if (tag.empty() || tag.size() > 128) return bad("the tag is empty or too long");
        for (char c : tag)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
                return bad("the tag may hold only letters, digits, '_', '.' and '-'");
        name = name.substr(0, colon);
    }
    if (name.empty()) return bad("the name is empty");
    // The first component may be a registry host (with '.' or ':' or "localhost").
    std::size_t start = 0;
    auto first_slash = name.find('/');
    if (first_slash != std::string::npos) {
        auto first = name.substr(0, first_slash);
        if (first.find_first_of(".:") != std::string::npos || first == "localhost") start = first_slash + 1;
    }
    std::string path = name.substr(start);
    if (path.empty() || path.front() == '/' || path.back() == '/' || path.find("//") != std::string::npos)
        return bad("empty path component");
    for (char c : path) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
        if (!ok) return bad("the repository name may hold only lowercase letters, digits, '.', '_', '-' and '/'");
    }
    return {};
}

// Held by a running create for its session; a row in state "creating" whose lock nobody
// holds belongs to a create that was killed.
class CreateLock {
public:
    static Result<CreateLock> take(const fs::path& file) {
        std::error_code ec;
        fs::create_directories(file.parent_path(), ec);
        int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return make_error(fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            return make_error(fmt::format("another airlock is working on this session ({} is locked)", file.string()));
        }
        return CreateLock(file, fd);
    }
    static bool held(const fs::path& file) {
        int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return false;
        bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
        ::close(fd);
        return held;
    }
    CreateLock(CreateLock&& o) noexcept : file_(std::move(o.file_)), fd_(std::exchange(o.fd_, -1)) {}
    // Whatever the outcome, the lock file goes with the lock: nothing is left behind.
    ~CreateLock() {
        if (fd_ < 0) return;
        std::error_code ec;
        fs::remove(file_, ec);
        ::close(fd_);
    }

private:
    CreateLock(fs::path file, int fd) : file_(std::move(file)), fd_(fd) {}
    fs::path file_;
    int fd_;
};

// Steps taken so far, undone in reverse on failure.
class Undo {
public:
    void push(std::function<void()> step) { steps_.push_back(std::move(step)); }
    void run() {
        for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
        steps_.clear();
    }
    void dismiss() { steps_.clear(); }
    ~Undo() { run(); }

private:
    std::vector<std::function<void()>> steps_;
};

std::string lock_file(const ManagerSettings& s, const std::string& name) {
    return (fs::path(s.sessions_dir) / (name + ".lock")).string();
}

std::string sync_lock_file(const ManagerSettings& s, const std::string& name) {
    return (fs::path(s.sessions_dir) / (name + ".sync.lock")).string();
}

// Held while a session's branch is brought across and while its repository is removed, so a
// sync (list, show, stop, the watcher of a stopping container) never races a delete.
class SyncLock {
public:
    explicit SyncLock(const std::string& file) {
        std::error_code ec;
        fs::create_directories(fs::path(file).parent_path(), ec);
        fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ >= 0)
            while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
            }
    }
    SyncLock(const SyncLock&) = delete;
    SyncLock& operator=(const SyncLock&) = delete;
    ~SyncLock() {
        if (fd_ >= 0) ::close(fd_);
    }

private:
    int fd_ = -1;
};

}  // namespace

SessionManager::SessionManager(Backend& backend, SessionStore& store, ProxyClients& clients, ManagerSettings settings)
    : backend_(backend), store_(store), clients_(clients), settings_(std::move(settings)) {}

Result<Session> SessionManager::get(const std::string& name) {
    auto row = store_.get(name);
    if (!row) return row.error();
    if (!*row) return make_error(fmt::format("there is no session named '{}'; see 'airlock list'", name));
    return std::move(**row);
}

Status SessionManager::ensure_image(const std::string& image, PullPolicy policy, const Progress& progress,
                                    bool refresh) {
    auto local = backend_.inspect_image(image);
    if (!local) return local.error();
    bool present = local->has_value();
    if (policy == PullPolicy::never) {
        if (!present)
            return make_error(fmt::format("image '{}' is not present and --pull-policy is never; build it or use "
                                          "--pull-policy if-not-present",
                                          image));
        return {};
    }
    if (policy == PullPolicy::if_not_present && present) return {};
    progress(fmt::format("pulling {}", image));
    auto pulled = backend_.pull_image(image, progress);
    if (pulled) return {};
    if (present) {
        progress(fmt::format("{} could not be pulled ({}); using the local image", image,
                             refresh ? "no registry reachable or none behind the name" : pulled.error().message));
        return {};
    }
    return pulled.error();
}

Result<Session> SessionManager::create(const CreateRequest& r, const Progress& progress) {
    // Everything that can be checked before anything is made.
    std::string name = r.name.empty() ? slug_from_prompt(r.prompt, random_suffix(4)) : r.name;
    if (auto st = validate_session_name(name); !st) return st.error();
    if (auto st = validate_image_reference(r.image); !st) return st.error();
    if (!r.cpus.empty())
        if (auto c = docker::parse_cpus(r.cpus); !c) return c.error();
    if (!r.memory.empty())
        if (auto m = docker::parse_memory(r.memory); !m) return m.error();
    if (auto st = validate_network(r.network); !st) return st.error();
    if (is_confined(r.network) && settings_.host.relay_binary.empty())
        return make_error("airlock-relay was not found next to the airlock binary (or in ../libexec/airlock/), so a "
                          "confined session cannot reach the proxy; reinstall airlock, or choose --network open");
    if (r.agent_definition.command.empty())
        return make_error(fmt::format("agent '{}' has an empty command; fix [agent.{}] in config.toml", r.agent, r.agent));
    for (const auto& e : r.extra_env)
        if (e.find('=') == std::string::npos || e.front() == '=')
            return make_error(fmt::format("--env '{}': expected KEY=VALUE", e));
    auto existing = store_.get(name);
    if (!existing) return existing.error();
    if (*existing)
        return make_error(fmt::format("a session named '{}' already exists; pick another --name or delete it with "
                                      "'airlock delete {}'",
                                      name, name));
    auto repo = discover_repo(r.repo_path);
    if (!repo) return repo.error();
    auto base = resolve_base(repo->root, r.base);
    if (!base) return base.error();
    if (auto st = ensure_image(r.image, r.pull_policy, progress, false); !st) return st.error();
    if (r.max_containers > 0) {
        auto running = backend_.list({{kHomeLabel, settings_.home}});
        if (!running) return running.error();
        int n = 0;
        for (const auto& c : *running) n += c.status == "running";
        if (n >= r.max_containers)
            return make_error(fmt::format("{} sessions are running and [docker] max_containers is {}; stop one "
                                          "('airlock stop NAME') or raise the limit",
                                          n, r.max_containers));
    }
    auto lock = CreateLock::take(lock_file(settings_, name));
    if (!lock) return lock.error();

    Session s;
    s.name = name;
    s.repo_root = repo->root.string();
    s.git_common_dir = repo->common_git_dir.lexically_normal().string();
    while (s.git_common_dir.size() > 1 && s.git_common_dir.back() == '/') s.git_common_dir.pop_back();
    s.repo_subdir = repo->subdir.string();
    if (s.repo_subdir == ".") s.repo_subdir.clear();
    s.worktree = (fs::path(settings_.worktrees_dir) / name).string();
    s.branch = "airlock/" + name;
    s.base_commit = *base;
    s.image = r.image;
    s.agent = r.agent;
    s.agent_command = r.agent_definition.command;
    s.prompt_mode = r.agent_definition.prompt;
    s.prompt = r.prompt;
    s.cpus = r.cpus;
    s.memory = r.memory;
    s.pids_limit = r.pids_limit;
    s.pull_policy = r.pull_policy;
    s.network = r.network;
    s.read_only = r.read_only;
    s.extra_env = r.extra_env;
    s.credentials = r.credentials;
    s.home_volume = home_volume_name(name);
    s.status = SessionStatus::creating;

    Undo undo;
    if (auto st = store_.insert(s); !st) return st.error();
    undo.push([this, name] { (void)store_.remove(name); });

    progress(fmt::format("worktree {} on branch {}", s.worktree, s.branch));
    const auto paths = repo_paths(s);
    undo.push([dir = paths.git_dir.parent_path()] {
        std::error_code e;
        fs::remove(dir, e);  // <sessions>/<name>, once empty
    });
    if (auto st = create_session_repo(paths, s.base_commit); !st) return st.error();
    undo.push([this, s, paths] {
        (void)remove_session_repo(paths);
        (void)delete_branch(s.repo_root, s.branch);
    });
    std::error_code ec;
    fs::create_directories(settings_.host.hooks_dir, ec);

    HostSettings host = settings_.host;
    host.session_git_dir = paths.git_dir.string();
    for (const auto& dir : borrowed_object_dirs(paths.user_git_dir)) host.object_dirs.push_back(dir.string());
    if (s.prompt_mode == PromptMode::stdin_) {
        auto dir = fs::path(settings_.sessions_dir) / name;
        fs::create_directories(dir, ec);
        host.prompt_file = (dir / "prompt").string();
        std::ofstream(host.prompt_file, std::ios::binary) << s.prompt;
        undo.push([dir] {
            std::error_code e;
            fs::remove(dir / "prompt", e);
            fs::remove(dir, e);  // the session's repository in there goes with its own undo
        });
    }

    auto token = clients_.add(name, s.credentials, name);
    if (!token) return token.error();
    undo.push([this, name] { (void)clients_.remove(name); });

    std::map<std::string, std::string> labels = {{kSessionLabel, name}, {kHomeLabel, settings_.home}};
    if (auto st = backend_.create_volume(s.home_volume, labels); !st) return st.error();
    undo.push([this, v = s.home_volume] { (void)backend_.remove_volume(v); });
    for (const auto& c : host.caches)
        if (auto st = backend_.create_volume(cache_volume_name(c.name), {{kCacheLabel, c.name}}); !st) return st.error();

    auto spec = build_container_spec(s, host, *token);
    if (!spec) return spec.error();
    progress(fmt::format("container {} from {}", spec->name, s.image));
    auto id = backend_.create_container(*spec);
    if (!id) return id.error();
    undo.push([this, cid = *id] { (void)backend_.remove(cid, true); });
    if (auto st = backend_.start(*id); !st) return st.error();
    auto state = backend_.inspect(*id);
    if (!state) return state.error();

    s.container_id = *id;
    s.image_id = *state ? (*state)->image_id : "";
    s.status = SessionStatus::running;
    if (auto st = store_.update(s); !st) return st.error();
    undo.dismiss();
    return s;
}

Result<SessionManager::Refreshed> SessionManager::refresh(const std::string& name, const Progress& progress) {
    auto s = get(name);
    if (!s) return s.error();
    auto lock = CreateLock::take(lock_file(settings_, name));
    if (!lock) return lock.error();
    Refreshed out;
    out.old_image_id = s->image_id;
    out.old_container_id = s->container_id;
    if (auto st = ensure_image(s->image, PullPolicy::always, progress, true); !st) return st.error();

    HostSettings host = settings_.host;
    if (s->prompt_mode == PromptMode::stdin_) host.prompt_file = (fs::path(settings_.sessions_dir) / name / "prompt").string();
    const auto paths = repo_paths(*s);
    // A session made by an older airlock (a linked worktree of the user's repository) gets its
    // own repository now, keeping its work.
    if (auto st = adopt_linked_worktree(paths, s->base_commit); !st) return st.error();
    host.session_git_dir = paths.git_dir.string();
    for (const auto& dir : borrowed_object_dirs(paths.user_git_dir)) host.object_dirs.push_back(dir.string());
    auto token = clients_.rotate(name);
    if (!token) token = clients_.add(name, s->credentials, name);  // the client was lost: make it again
    if (!token) return token.error();
    auto spec = build_container_spec(*s, host, *token);
    if (!spec) return spec.error();
    if (auto st = backend_.create_volume(s->home_volume, {{kSessionLabel, name}, {kHomeLabel, settings_.home}}); !st)
        return st.error();

    // The new container exists before the old one goes; it takes the name afterwards.
    const std::string final_name = spec->name;
    spec->name = final_name + "-next";
    if (auto stale = backend_.inspect(spec->name); stale && *stale) (void)backend_.remove((*stale)->id, true);
    auto id = backend_.create_container(*spec);
    if (!id) return id.error();
    if (!s->container_id.empty()) {
        (void)backend_.stop(s->container_id, 10);
        if (auto st = backend_.remove(s->container_id, true); !st) {
            (void)backend_.remove(*id, true);
            return st.error();
        }
    }
    if (auto old = backend_.inspect(final_name); old && *old) (void)backend_.remove((*old)->id, true);
    if (auto st = backend_.rename(*id, final_name); !st) return st.error();
    if (auto st = backend_.start(*id); !st) return st.error();
    auto state = backend_.inspect(*id);
    if (!state) return state.error();

    s->container_id = *id;
    s->image_id = *state ? (*state)->image_id : "";
    s->status = SessionStatus::running;
    s->last_error.clear();
    if (auto st = store_.update(*s); !st) return st.error();
    out.new_image_id = s->image_id;
    out.new_container_id = *id;
    out.session = *s;
    return out;
}

Status SessionManager::remove(const std::string& name, bool force, bool remove_branch) {
    auto s = get(name);
    if (!s) return s.error();
    const auto paths = repo_paths(*s);
    const bool own_repo = fs::exists(paths.git_dir);
    if (!force && fs::exists(s->worktree)) {
        auto dirty = own_repo ? session_has_uncommitted_changes(paths) : has_uncommitted_changes(s->worktree);
        if (dirty && *dirty)
            return make_error(fmt::format("session '{}' has uncommitted changes in {}; commit them on {} or delete "
                                          "with --force",
                                          name, s->worktree, s->branch));
    }
    // First bring the session's last commits into the branch (which stays unless asked; a
    // check for unmerged work then sees all of it).
    if (own_repo) {
        auto synced = [&] {
            SyncLock held(sync_lock_file(settings_, name));
            return sync_session_branch(paths, false);
        }();
        if (!force && !synced)
            return make_error(fmt::format("session '{}': its commits could not be brought into {} ({}); delete with "
                                          "--force to lose them",
                                          name, s->branch, synced.error().message));
        if (!force && synced && !moves_branch(synced->action) && synced->action != SyncAction::up_to_date &&
            synced->action != SyncAction::refuse_no_branch)
            return make_error(fmt::format("session '{}' has commits that are not on {} in your repository ({}); run "
                                          "'airlock sync {} --force' (or 'airlock diff {}' to look first), or delete "
                                          "with --force to lose them",
                                          name, s->branch, to_string(synced->action), name, name));
    }
    (void)store_.set_status(name, SessionStatus::deleting);
    return teardown(*s, remove_branch, false);
}

// Everything a session owns, in the order that leaves no dangling reference: containers
// (also a refresh's "-next"), worktree, branch (when asked), home volume, proxy client,
// files, row. best_effort: go on past errors (undoing a killed create).
Status SessionManager::teardown(const Session& s, bool remove_branch, bool best_effort) {
    auto step = [best_effort](Status st) { return best_effort ? Status{} : st; };
    std::vector<std::string> containers = {s.container_id.empty() ? container_name(s.name) : s.container_id,
                                           container_name(s.name) + "-next"};
    for (const auto& ref : containers)
        if (auto c = backend_.inspect(ref); c && *c)
            if (auto st = step(backend_.remove((*c)->id, true)); !st) return st;
    if (!s.repo_root.empty()) {
        SyncLock held(sync_lock_file(settings_, s.name));
        if (auto st = step(remove_session_repo(repo_paths(s))); !st) return st;
        if (remove_branch)
            if (auto st = step(delete_branch(s.repo_root, s.branch)); !st) return st;
    }
    if (auto st = step(backend_.remove_volume(s.home_volume)); !st) return st;
    if (auto st = step(clients_.remove(s.name)); !st) return st;
    std::error_code ec;
    fs::remove_all(fs::path(settings_.sessions_dir) / s.name, ec);
    fs::remove(lock_file(settings_, s.name), ec);
    auto removed = store_.remove(s.name);
    fs::remove(sync_lock_file(settings_, s.name), ec);
    return removed;
}

Status SessionManager::start(const std::string& name) {
    auto s = get(name);
    if (!s) return s.error();
    if (auto st = backend_.start(s->container_id); !st) return st.error();
    return store_.set_status(name, SessionStatus::running);
}

Status SessionManager::stop(const std::string& name) {
    auto s = get(name);
    if (!s) return s.error();
    if (auto st = backend_.stop(s->container_id, 10); !st) return st.error();
    if (auto st = store_.set_status(name, SessionStatus::stopped); !st) return st;
    (void)sync(name, false);  // what it could not bring, sync and list report
    return {};
}

SessionRepoPaths SessionManager::repo_paths(const Session& s) const {
    SessionRepoPaths p;
    p.name = s.name;
    p.branch = s.branch;
    p.user_git_dir = s.git_common_dir;
    p.git_dir = fs::path(settings_.sessions_dir) / s.name / "git";
    p.worktree = s.worktree;
    return p;
}

Result<SyncResult> SessionManager::sync(const std::string& name, bool force) {
    if (auto known = get(name); !known) return known.error();
    SyncLock held(sync_lock_file(settings_, name));
    auto s = get(name);  // again under the lock: a delete that held it has removed the row
    if (!s) {
        std::error_code ec;
        fs::remove(sync_lock_file(settings_, name), ec);  // the delete removed it already; we may have made it again
        return s.error();
    }
    if (s->status == SessionStatus::creating || s->status == SessionStatus::deleting)
        return make_error(fmt::format("session '{}' is being {}; try again when that is done", name,
                                      s->status == SessionStatus::creating ? "created" : "deleted"));
    const auto paths = repo_paths(*s);
    if (!fs::exists(paths.git_dir) && fs::exists(fs::path(s->git_common_dir) / "worktrees" / name))
        return SyncResult{SyncAction::up_to_date, "", ""};  // an older airlock's linked worktree commits in place
    return sync_session_branch(paths, force);
}

Result<std::vector<SessionView>> SessionManager::list() {
    auto rows = store_.list();
    if (!rows) return rows.error();
    auto containers = backend_.list({{kHomeLabel, settings_.home}});
    if (!containers) return containers.error();
    std::map<std::string, const ContainerState*> by_id;
    for (const auto& c : *containers) by_id[c.id] = &c;
    std::vector<SessionView> out;
    std::vector<std::string> newly_lost;
    for (auto& s : *rows) {
        SessionView v;
        auto it = by_id.find(s.container_id);
        if (s.status == SessionStatus::creating) {
            v.state = CreateLock::held(lock_file(settings_, s.name)) ? "creating" : "interrupted";
        } else if (it == by_id.end()) {
            v.state = "lost";
            if (s.status != SessionStatus::lost && s.status != SessionStatus::deleting) {
                newly_lost.push_back(s.name);
                s.status = SessionStatus::lost;
            }
        } else {
            v.state = it->second->status;
            if (v.state == "exited") v.state = fmt::format("exited ({})", it->second->exit_code);
        }
        if (s.status != SessionStatus::creating && s.status != SessionStatus::deleting) {
            const auto paths = repo_paths(s);
            if (fs::exists(paths.git_dir)) {
                auto synced = [&] {
                    SyncLock held(sync_lock_file(settings_, s.name));
                    return fs::exists(paths.git_dir) ? sync_session_branch(paths, false)
                                                     : Result<SyncResult>(SyncResult{});
                }();
                if (!synced) v.branch_note = synced.error().message;
                else if (synced->action == SyncAction::refuse_diverged)
                    v.branch_note = fmt::format("{} has moved in your repository; the session's commits were not "
                                                "brought across: 'airlock sync {} --force' replaces it",
                                                s.branch, s.name);
                else if (synced->action == SyncAction::refuse_checked_out)
                    v.branch_note = fmt::format("{} is checked out in your repository; switch away from it, then "
                                                "'airlock sync {}'",
                                                s.branch, s.name);
            }
        }
        v.session = std::move(s);
        out.push_back(std::move(v));
    }
    mark_lost(newly_lost);
    return out;
}

// The output above does not depend on these writes (the views carry the new status
// already); they record the loss for later commands, e.g. reconcile's report. One
// transaction for all rows: one lock, one fsync instead of one per row. Best effort, as
// each write was before: a row deleted meanwhile is skipped, a busy store leaves the
// rows for the next list.
void SessionManager::mark_lost(const std::vector<std::string>& names) {
    if (names.empty()) return;
    (void)store_.transaction([&]() -> Status {
        for (const auto& name : names)
            (void)store_.set_status(name, SessionStatus::lost, "container not found in the engine");
        return {};
    });
}

Result<SessionView> SessionManager::show(const std::string& name) {
    auto all = list();
    if (!all) return all.error();
    for (auto& v : *all)
        if (v.session.name == name) return std::move(v);
    return make_error(fmt::format("there is no session named '{}'; see 'airlock list'", name));
}

Status SessionManager::undo_all(const std::string& name, const Progress& progress) {
    auto s = get(name);
    if (!s) return s.error();
    progress(fmt::format("undoing the interrupted create of {}", name));
    return teardown(*s, true, true);  // the branch was made by that create
}

Result<std::vector<SessionManager::Problem>> SessionManager::reconcile(bool fix, const Progress& progress) {
    std::vector<Problem> problems;
    auto rows = store_.list();
    if (!rows) return rows.error();
    auto containers = backend_.list({{kHomeLabel, settings_.home}});
    if (!containers) return containers.error();
    std::map<std::string, const Session*> by_name;
    for (const auto& s : *rows) by_name[s.name] = &s;

    for (const auto& c : *containers) {
        auto label = c.labels.find(kSessionLabel);
        std::string session = label == c.labels.end() ? "" : label->second;
        auto row = by_name.find(session);
        bool orphan = row == by_name.end() ||
                      (row->second->status != SessionStatus::creating && row->second->container_id != c.id &&
                       c.name != container_name(session) + "-next");
        if (!orphan) continue;
        if (fix) {
            progress(fmt::format("removing orphan container {}", c.name));
            if (auto st = backend_.remove(c.id, true); !st) return st.error();
        } else {
            problems.push_back({fmt::format("container {} belongs to no session", c.name), "airlock doctor --fix"});
        }
    }
    std::map<std::string, bool> has_container;
    for (const auto& c : *containers) has_container[c.id] = true;
    std::vector<std::string> newly_lost;
    for (const auto& s : *rows) {
        if (s.status == SessionStatus::creating || s.status == SessionStatus::deleting) {
            if (CreateLock::held(lock_file(settings_, s.name))) continue;
            if (fix) {
                if (auto st = undo_all(s.name, progress); !st) return st.error();
            } else {
                problems.push_back({fmt::format("session {} was interrupted while being {}", s.name,
                                                s.status == SessionStatus::creating ? "created" : "deleted"),
                                    "airlock doctor --fix"});
            }
            continue;
        }
        if (!has_container.count(s.container_id)) {
            if (fix && s.status != SessionStatus::lost) {
                progress(fmt::format("marking {} as lost (its container is gone)", s.name));
                newly_lost.push_back(s.name);
            }
            if (!fix || s.status == SessionStatus::lost)
                problems.push_back({fmt::format("session {} has lost its container", s.name),
                                    fmt::format("airlock refresh {} (or airlock delete {})", s.name, s.name)});
        }
    }
    mark_lost(newly_lost);
    // Home volumes without a session.
    auto volumes = backend_.list_volumes({{kHomeLabel, settings_.home}});
    if (volumes) {
        for (const auto& v : *volumes) {
            auto label = v.labels.find(kSessionLabel);
            if (label == v.labels.end() || by_name.count(label->second)) continue;
            if (fix) {
                progress(fmt::format("removing orphan volume {}", v.name));
                (void)backend_.remove_volume(v.name);
            } else {
                problems.push_back({fmt::format("volume {} belongs to no session", v.name), "airlock doctor --fix"});
            }
        }
    }
    return problems;
}

}  // namespace airlock::session
