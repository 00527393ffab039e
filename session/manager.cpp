#include "session/manager.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>

#include "backends/docker/container_spec.hpp"
#include "session/agent_files.hpp"
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

// "1000:1000" -> (1000, 1000); nullopt for "" or a name.
std::optional<std::pair<std::uint32_t, std::uint32_t>> numeric_user(const std::string& user) {
    auto colon = user.find(':');
    if (colon == std::string::npos) return std::nullopt;
    auto number = [](std::string_view t) -> std::optional<std::uint32_t> {
        if (t.empty() || t.size() > 9) return std::nullopt;
        std::uint32_t v = 0;
        for (char c : t) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<std::uint32_t>(c - '0');
        }
        return v;
    };
    auto uid = number(std::string_view(user).substr(0, colon));
    auto gid = number(std::string_view(user).substr(colon + 1));
    if (!uid || !gid) return std::nullopt;
    return std::pair{*uid, *gid};
}

std::string short_commit(const std::string& id) { return id.substr(0, 12); }

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


std::string SessionManager::lock_file(const std::string& name) const {
    return (fs::path(settings_.sessions_dir) / (name + ".lock")).string();
}

// This home's containers of one session (any state), by label.
Result<std::vector<ContainerState>> SessionManager::session_containers(const std::string& name) {
    return backend_.list({{kSessionLabel, name}, {kHomeIdLabel, home_id()}});
}

// The session's home volume, labelled for this home. An existing volume of that name that
// belongs to another home is never used (nor touched).
Status SessionManager::ensure_home_volume(const Session& s) {
    auto existing = backend_.inspect_volume(s.home_volume);
    if (!existing) return existing.error();
    if (*existing) {
        const auto& labels = (*existing)->labels;
        auto session = labels.find(kSessionLabel);
        if (!belongs_to_home(labels, home_id()) || session == labels.end() || session->second != s.name)
            return make_error(fmt::format("volume '{}' exists on the engine but does not belong to session '{}' of "
                                          "this airlock home; remove or rename it, or pick another --name",
                                          s.home_volume, s.name));
        return {};
    }
    return backend_.create_volume(s.home_volume,
                                  {{kSessionLabel, s.name}, {kHomeLabel, settings_.home}, {kHomeIdLabel, home_id()}});
}

// The home and cache mount points owned by the uid:gid the container runs as (a fresh
// volume is root's, or whatever the image's directory was).
Status SessionManager::prepare_ownership(const std::string& container_id, const ContainerSpec& spec) {
    auto ids = numeric_user(settings_.host.user);
    if (!ids) return {};
    // The home, each cache's mount point, and the directories between them (~/.cargo for
    // ~/.cargo/registry: the engine makes those as root when it mounts the cache).
    std::vector<std::string> paths = {kAgentHome};
    const std::string home = std::string(kAgentHome) + "/";
    for (const auto& c : settings_.host.caches) {
        std::string target = c.target;
        while (target.size() > 1 && target.back() == '/') target.pop_back();
        if (target.starts_with(home))
            for (auto slash = target.find('/', home.size()); slash != std::string::npos;
                 slash = target.find('/', slash + 1))
                paths.push_back(target.substr(0, slash));
        paths.push_back(target);
    }
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    if (!spec.read_only_rootfs) return backend_.set_owner(container_id, paths, ids->first, ids->second);
    // The engine writes into a read-only root only inside volumes, and the owner of a volume's
    // root is set from its parent directory: a writable twin (never started) does it.
    ContainerSpec twin;
    twin.name = spec.name + "-prep";
    twin.image = spec.image;
    twin.cmd = {"/airlock-never-started"};
    twin.labels = spec.labels;
    twin.network = "none";
    for (const auto& m : spec.mounts)
        if (m.kind == Mount::volume) twin.mounts.push_back(m);
    if (auto stale = backend_.inspect(twin.name); stale && *stale && belongs_to_home((*stale)->labels, home_id()))
        (void)backend_.remove((*stale)->id, true);
    auto id = backend_.create_container(twin);
    if (!id) return id.error();
    auto st = backend_.set_owner(*id, paths, ids->first, ids->second);
    (void)backend_.remove(*id, true);
    return st;
}

// The placeholder login of each login rule in the session's scope (host.home_files), written
// at create and refresh whatever is there: placeholders only, never a token.
Status SessionManager::write_login_files(const std::string& container_id, const Session& s) {
    std::vector<FileEntry> entries;
    for (const auto& f : settings_.host.home_files) {
        bool in_scope = s.credentials.empty() ||
                        std::find(s.credentials.begin(), s.credentials.end(), f.credential) != s.credentials.end();
        if (in_scope) entries.push_back({f.path, f.content, f.mode});
    }
    if (entries.empty()) return {};
    auto ids = numeric_user(settings_.host.user).value_or(std::pair<std::uint32_t, std::uint32_t>{0, 0});
    if (auto st = backend_.write_files(container_id, kAgentHome, entries, ids.first, ids.second); !st)
        return make_error(fmt::format("{} (the placeholder logins)", st.error().message));
    return {};
}

Status SessionManager::write_agent_files(const std::string& container_id, const Session& s,
                                         const Progress& progress) {
    auto agent = settings_.host.agents.find(s.agent);
    if (s.agent.empty() || agent == settings_.host.agents.end() || agent->second.files.empty()) return {};
    std::set<std::string> existing;
    for (const auto& f : agent->second.files) {
        if (f.overwrite) continue;
        auto there = backend_.path_exists(container_id, std::string(kAgentHome) + "/" + f.path);
        if (!there) return there.error();
        if (*there) existing.insert(f.path);
    }
    auto to_write = files_to_write(agent->second.files, existing);
    if (to_write.empty()) return {};
    // The container runs as the host user: its files are that user's (root's when the
    // container runs as the image's user, which is what a user-less session is).
    auto ids = numeric_user(settings_.host.user).value_or(std::pair<std::uint32_t, std::uint32_t>{0, 0});
    std::vector<FileEntry> entries;
    std::vector<std::string> names;
    for (const auto& f : to_write) {
        entries.push_back({f.path, f.content, f.mode});
        names.push_back(f.path);
    }
    if (auto st = backend_.write_files(container_id, kAgentHome, entries, ids.first, ids.second); !st)
        return make_error(fmt::format("{} (the files of [agent.{}] in config.toml)", st.error().message, s.agent));
    progress(fmt::format("wrote {} into the session's home ([agent.{}] files)", fmt::join(names, ", "), s.agent));
    return {};
}

Status SessionManager::start_counted(const std::string& container_id, const std::string& session,
                                     const std::function<Status()>& before_start) {
    auto lock = StartLock::take(fs::path(settings_.sessions_dir) / ".start.lock");
    if (!lock) return lock.error();
    if (settings_.max_containers > 0) {
        auto all = backend_.list({{kHomeIdLabel, home_id()}});
        if (!all) return all.error();
        int running = 0;
        for (const auto& c : *all) {
            auto label = c.labels.find(kSessionLabel);
            bool same = label != c.labels.end() && label->second == session;
            running += !same && (c.status == "running" || c.status == "restarting");
        }
        if (running >= settings_.max_containers)
            return make_error(fmt::format("{} sessions are running and [docker] max_containers is {}; stop one "
                                          "('airlock stop NAME') or raise the limit",
                                          running, settings_.max_containers));
    }
    if (before_start)
        if (auto st = before_start(); !st) return st;
    return backend_.start(container_id);
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
    if (auto p = docker::check_pids_limit(r.pids_limit); !p) return p.error();
    if (auto st = validate_network(r.network); !st) return st.error();
    if (is_confined(r.network) && settings_.host.relay_binary.empty())
        return make_error("airlock-relay was not found next to the airlock binary (or in ../libexec/airlock/), so a "
                          "confined session cannot reach the proxy; reinstall airlock, or choose --network open");
    if (r.agent_definition.command.empty())
        return make_error(fmt::format("agent '{}' has an empty command; fix [agent.{}] in config.toml", r.agent, r.agent));
    for (const auto& e : r.extra_env) {
        if (e.find('=') == std::string::npos || e.front() == '=')
            return make_error(fmt::format("--env '{}': expected KEY=VALUE", e));
        if (is_reserved_agent_env(e.substr(0, e.find('='))))
            return make_error(fmt::format("--env '{}': airlock sets {} itself (the proxy, the home, the session's "
                                          "name); leave it out",
                                          e, e.substr(0, e.find('='))));
    }
    if (home_id().empty()) return make_error("this airlock home has no id; cannot name its containers");
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
    if (r.max_containers > 0 && settings_.max_containers == 0) settings_.max_containers = r.max_containers;
    if (settings_.max_containers > 0) {  // early, to fail before making anything; start_counted decides
        auto running = backend_.list({{kHomeIdLabel, home_id()}});
        if (!running) return running.error();
        int n = 0;
        for (const auto& c : *running) n += c.status == "running";
        if (n >= settings_.max_containers)
            return make_error(fmt::format("{} sessions are running and [docker] max_containers is {}; stop one "
                                          "('airlock stop NAME') or raise the limit",
                                          n, settings_.max_containers));
    }
    auto lock = SessionLock::take(lock_file(name), Operation::create);
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
    s.home_volume = home_volume_name(home_id(), name);
    s.status = SessionStatus::creating;

    Undo undo;
    if (auto st = store_.insert(s); !st) return st.error();
    undo.push([this, name] { (void)store_.remove(name); });
    crash_point("create:row");

    progress(fmt::format("worktree {} on branch {}", s.worktree, s.branch));
    const auto paths = repo_paths(s);
    undo.push([dir = paths.git_dir.parent_path()] {
        std::error_code e;
        fs::remove(dir, e);  // <sessions>/<name>, once empty
    });
    if (auto st = create_session_repo(paths, s.base_commit); !st) return st.error();
    undo.push([this, s, paths] {
        (void)remove_session_repo(paths);
        if (auto head = branch_head(s.repo_root, s.branch); head && *head == s.base_commit)
            (void)delete_branch(s.repo_root, s.branch);
    });
    crash_point("create:worktree");
    std::error_code ec;
    fs::create_directories(settings_.host.hooks_dir, ec);

    HostSettings host = host_for(s);
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
    crash_point("create:client");

    if (auto st = ensure_home_volume(s); !st) return st.error();
    undo.push([this, v = s.home_volume] { (void)backend_.remove_volume(v); });
    for (const auto& c : host.caches)
        if (auto st = backend_.create_volume(cache_volume_name(c.name), {{kCacheLabel, c.name}}); !st) return st.error();
    crash_point("create:volumes");

    auto spec = build_container_spec(s, host, *token);
    if (!spec) return spec.error();
    progress(fmt::format("container {} from {}", spec->name, s.image));
    auto id = backend_.create_container(*spec);
    if (!id) return id.error();
    undo.push([this, cid = *id] { (void)backend_.remove(cid, true); });
    auto state = backend_.inspect(*id);
    if (!state) return state.error();
    s.container_id = *id;
    s.image_id = *state ? (*state)->image_id : "";
    if (auto st = store_.update(s); !st) return st.error();
    crash_point("create:container");
    if (auto st = prepare_ownership(*id, *spec); !st) return st.error();
    if (auto st = write_agent_files(*id, s, progress); !st) return st.error();
    if (auto st = write_login_files(*id, s); !st) return st.error();

    // The last step: the row says running (committed) before the agent can run, and the
    // start is counted against max_containers under the start lock.
    auto started = start_counted(*id, name, [&]() -> Status {
        s.status = SessionStatus::running;
        if (auto st = store_.update(s); !st) return st;
        crash_point("create:committed");
        return {};
    });
    if (!started) return started.error();
    crash_point("create:started");
    undo.dismiss();
    return s;
}

Result<SessionManager::Refreshed> SessionManager::refresh(const std::string& name, const Progress& progress) {
    auto s = get(name);
    if (!s) return s.error();
    auto lock = SessionLock::take(lock_file(name), Operation::refresh);
    if (!lock) return lock.error();
    if (auto again = get(name); !again) return again.error();
    else s = std::move(again);
    if (s->status == SessionStatus::creating || s->status == SessionStatus::deleting)
        return make_error(fmt::format("session '{}' is being {} (or that was interrupted); run 'airlock doctor --fix' "
                                      "first",
                                      name, s->status == SessionStatus::creating ? "created" : "deleted"));
    Refreshed out;
    out.old_image_id = s->image_id;
    out.old_container_id = s->container_id;
    if (auto st = ensure_image(s->image, PullPolicy::always, progress, true); !st) return st.error();

    // A session made by an older airlock (a linked worktree of the user's repository) gets its
    // own repository now, keeping its work.
    if (auto st = adopt_linked_worktree(repo_paths(*s), s->base_commit); !st) return st.error();
    HostSettings host = host_for(*s);
    if (auto check = build_container_spec(*s, host, "check"); !check) return check.error();
    if (s->home_volume.empty()) s->home_volume = home_volume_name(home_id(), name);
    if (auto st = ensure_home_volume(*s); !st) return st.error();
    for (const auto& c : host.caches)
        if (auto st = backend_.create_volume(cache_volume_name(c.name), {{kCacheLabel, c.name}}); !st) return st.error();

    auto token = clients_.rotate(name);
    if (!token) token = clients_.add(name, s->credentials, name);  // the client was lost: make it again
    if (!token) return token.error();
    crash_point("refresh:token");
    auto spec = build_container_spec(*s, host, *token);
    if (!spec) return spec.error();

    // The new container exists (not started) and is recorded before the old one goes; it
    // takes the name afterwards. From the record on, an interruption is finished forward.
    const std::string final_name = spec->name;
    spec->name = final_name + "-next";
    if (auto stale = backend_.inspect(spec->name); stale && *stale) {
        if (!belongs_to_home((*stale)->labels, home_id()))
            return make_error(fmt::format("container '{}' exists but belongs to another airlock home; not touching it",
                                          spec->name));
        (void)backend_.remove((*stale)->id, true);
    }
    auto id = backend_.create_container(*spec);
    if (!id) return make_error(fmt::format("{}; the session's proxy token was renewed, so run 'airlock refresh {}' again "
                                           "once this is fixed",
                                           id.error().message, name));
    crash_point("refresh:created");
    auto state = backend_.inspect(*id);
    s->container_id = *id;
    s->image_id = state && *state ? (*state)->image_id : "";
    if (auto st = store_.update(*s); !st) {
        (void)backend_.remove(*id, true);
        return st.error();
    }
    crash_point("refresh:recorded");
    if (auto st = finish_refresh(*s, [](const std::string&) {}); !st) return st.error();  // quietly: the old one goes
    auto now = get(name);
    if (!now) return now.error();
    out.new_image_id = now->image_id;
    out.new_container_id = *id;
    out.session = *now;
    return out;
}

// The second half of a refresh, also how doctor --fix finishes an interrupted one: the
// row's container is the session's; every other container of the session goes, the row's
// takes the session's name and is started. Idempotent.
Status SessionManager::finish_refresh(Session s, const Progress& progress) {
    auto mine = session_containers(s.name);
    if (!mine) return mine.error();
    const std::string final_name = container_name(home_id(), s.name);
    const ContainerState* keep = nullptr;
    for (const auto& c : *mine)
        if (c.id == s.container_id) keep = &c;
    if (!keep) {
        (void)store_.set_status(s.name, SessionStatus::lost,
                                fmt::format("the refresh was interrupted and its container is gone; run 'airlock "
                                            "refresh {}'",
                                            s.name));
        return make_error(fmt::format("the container of session '{}' is gone; run 'airlock refresh {}'", s.name,
                                      s.name));
    }
    for (const auto& c : *mine) {
        if (c.id == keep->id) continue;
        progress(fmt::format("removing the replaced container {}", c.name));
        (void)backend_.stop(c.id, 10);
        if (auto st = backend_.remove(c.id, true); !st) return st;
    }
    crash_point("refresh:old-removed");
    if (keep->name != final_name) {
        // A container of that name that is not this session's (another home's, a user's):
        // never removed; the refresh fails with its name.
        if (auto other = backend_.inspect(final_name); other && *other && (*other)->id != keep->id)
            return make_error(fmt::format("container name '{}' is taken by a container that is not this session's; "
                                          "not touching it",
                                          final_name));
        if (auto st = backend_.rename(keep->id, final_name); !st) return st;
    }
    crash_point("refresh:renamed");
    HostSettings host = host_for(s);
    if (auto spec = build_container_spec(s, host, "ownership"); spec)
        if (auto st = prepare_ownership(keep->id, *spec); !st) return st;
    if (auto st = write_agent_files(keep->id, s, progress); !st) return st;
    if (auto st = write_login_files(keep->id, s); !st) return st;
    if (keep->status != "running") {
        if (auto st = start_counted(keep->id, s.name); !st) {
            (void)store_.set_status(s.name, SessionStatus::stopped,
                                    fmt::format("refreshed but not started: {}", st.error().message));
            return st;
        }
    }
    crash_point("refresh:started");
    return store_.set_status(s.name, SessionStatus::running);
}

Result<Removed> SessionManager::remove(const std::string& name, bool force, bool remove_branch) {
    auto first = get(name);
    if (!first) return first.error();
    auto lock = SessionLock::take(lock_file(name), Operation::remove);
    if (!lock) return lock.error();
    auto s = get(name);
    if (!s) return s.error();
    const auto paths = repo_paths(*s);
    const bool own_repo = fs::exists(paths.git_dir);
    if (!force && fs::exists(s->worktree)) {
        auto dirty = own_repo ? session_has_uncommitted_changes(paths) : has_uncommitted_changes(s->worktree);
        if (!dirty)
            return make_error(fmt::format("cannot check {} for uncommitted changes ({}); delete with --force to remove "
                                          "it anyway",
                                          s->worktree, dirty.error().message));
        if (*dirty)
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
    Removed out;
    bool repo_there = !s->repo_root.empty() && fs::exists(s->repo_root);
    if (repo_there)
        if (auto head = branch_head(s->repo_root, s->branch)) out.branch_commit = *head;
    if (remove_branch && !force && !out.branch_commit.empty() && out.branch_commit != s->base_commit) {
        auto merged = is_merged(s->repo_root, out.branch_commit);
        if (!merged || !*merged)
            return make_error(fmt::format("branch {} (at {}) has commits not merged into HEAD of {}; merge them, or "
                                          "delete with --force to throw them away",
                                          s->branch, short_commit(out.branch_commit), s->repo_root));
    }
    if (auto st = store_.set_status(name, SessionStatus::deleting); !st) return st.error();
    crash_point("delete:marked");
    auto mode = remove_branch ? BranchMode::remove : BranchMode::keep;
    if (auto st = teardown(*s, mode, false); !st) return st.error();
    out.branch_deleted = remove_branch && !out.branch_commit.empty();
    return out;
}

// Everything a session owns, in the order that leaves no dangling reference: containers
// (also a refresh's "-next"), worktree, branch (per `branch`), home volume, proxy client,
// files, row. Objects on the engine are removed only when their labels say they are this
// home's. best_effort: go on past errors (undoing a killed create).
Status SessionManager::teardown(const Session& s, BranchMode branch, bool best_effort) {
    auto step = [best_effort](Status st) { return best_effort ? Status{} : st; };
    auto mine = session_containers(s.name);
    if (!mine) {
        if (auto st = step(mine.error()); !st) return st;
    } else {
        for (const auto& c : *mine)
            if (auto st = step(backend_.remove(c.id, true)); !st) return st;
    }
    crash_point("teardown:containers");
    bool repo_there = !s.repo_root.empty() && fs::exists(s.git_common_dir);
    if (repo_there) {
        SyncLock held(sync_lock_file(settings_, s.name));
        if (auto st = step(remove_session_repo(repo_paths(s))); !st) return st;
    } else {
        // The user's repository moved or is gone: the work tree and the session's repository
        // (ours, under $AIRLOCK_HOME) go; the user's refs/airlock/<name>/* stay in it.
        auto wt = fs::path(s.worktree).lexically_normal();
        auto root = fs::path(settings_.worktrees_dir).lexically_normal();
        std::error_code ec;
        if (wt.parent_path() == root) fs::remove_all(wt, ec);
        fs::remove_all(repo_paths(s).git_dir, ec);
    }
    crash_point("teardown:worktree");
    if (repo_there && branch != BranchMode::keep) {
        auto head = branch_head(s.repo_root, s.branch);
        bool unchanged = head && *head == s.base_commit;
        if (branch == BranchMode::remove || unchanged)
            if (auto st = step(delete_branch(s.repo_root, s.branch)); !st) return st;
    }
    if (!s.home_volume.empty()) {
        auto v = backend_.inspect_volume(s.home_volume);
        bool ours = v && *v &&
                    (belongs_to_home((*v)->labels, home_id()) ||
                     (!(*v)->labels.count(kHomeIdLabel) && (*v)->labels.count(kHomeLabel) &&
                      (*v)->labels.at(kHomeLabel) == settings_.home));
        if (ours)
            if (auto st = step(backend_.remove_volume(s.home_volume)); !st) return st;
    }
    crash_point("teardown:volume");
    if (auto st = step(clients_.remove(s.name)); !st) return st;
    std::error_code ec;
    fs::remove_all(fs::path(settings_.sessions_dir) / s.name, ec);
    auto removed = store_.remove(s.name);
    fs::remove(sync_lock_file(settings_, s.name), ec);
    return removed;
}

Result<std::string> SessionManager::container_of(const std::string& name) {
    auto s = get(name);
    if (!s) return s.error();
    auto lost = [&] {
        return make_error(fmt::format("session '{}' has lost its container; run 'airlock refresh {}' to make a new one "
                                      "(or 'airlock delete {}')",
                                      name, name, name));
    };
    if (s->container_id.empty()) return lost();
    auto c = backend_.inspect(s->container_id);
    if (!c) return c.error();
    if (!*c) return lost();
    return s->container_id;
}

Status SessionManager::start(const std::string& name) {
    auto id = container_of(name);
    if (!id) return id.error();
    auto c = backend_.inspect(*id);
    if (c && *c && (*c)->status == "running") return store_.set_status(name, SessionStatus::running);
    if (auto st = start_counted(*id, name); !st) return st.error();
    return store_.set_status(name, SessionStatus::running);
}

Status SessionManager::stop(const std::string& name) {
    auto id = container_of(name);
    if (!id) return id.error();
    if (auto st = backend_.stop(*id, 10); !st) return st.error();
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

// The host settings for this session's container: its repository, the objects it borrows,
// its prompt file.
HostSettings SessionManager::host_for(const Session& s) const {
    HostSettings host = settings_.host;
    const auto paths = repo_paths(s);
    host.session_git_dir = paths.git_dir.string();
    for (const auto& dir : borrowed_object_dirs(paths.user_git_dir)) host.object_dirs.push_back(dir.string());
    if (s.prompt_mode == PromptMode::stdin_) host.prompt_file = (fs::path(settings_.sessions_dir) / s.name / "prompt").string();
    return host;
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
    auto containers = backend_.list({{kHomeIdLabel, home_id()}});
    std::vector<SessionView> out;
    if (!containers) {
        for (auto& s : *rows) {
            SessionView v;
            v.state = std::string(to_string(s.status));
            v.from_engine = false;
            v.session = std::move(s);
            out.push_back(std::move(v));
        }
        return out;
    }
    std::map<std::string, const ContainerState*> by_id;
    for (const auto& c : *containers) by_id[c.id] = &c;
    std::vector<std::string> newly_lost;
    for (auto& s : *rows) {
        SessionView v;
        auto it = by_id.find(s.container_id);
        auto file = lock_file(s.name);
        bool busy = SessionLock::held(file);
        auto interrupted = busy ? std::nullopt : SessionLock::interrupted(file);
        if (interrupted == Operation::create && s.status != SessionStatus::creating)
            interrupted.reset();  // the create had committed its row: nothing to recover
        if (busy) {
            v.state = s.status == SessionStatus::creating || s.status == SessionStatus::deleting
                          ? std::string(to_string(s.status))
                          : "refreshing";
        } else if (interrupted || s.status == SessionStatus::creating || s.status == SessionStatus::deleting) {
            v.state = "interrupted";
        } else if (it == by_id.end()) {
            v.state = to_string(SessionStatus::lost);
            if (s.status != SessionStatus::lost) {
                newly_lost.push_back(s.name);
                s.status = SessionStatus::lost;
            }
        } else {
            v.state = it->second->status;
            if (v.state == "exited") {
                v.state = fmt::format("exited ({})", it->second->exit_code);
                if ((it->second->exit_code == 127 || it->second->exit_code == 126) && s.last_error.empty())
                    s.last_error = fmt::format("the agent's command '{}' was not found or not executable in image {} "
                                               "(exit {})",
                                               s.agent_command.empty() ? "" : s.agent_command.front(), s.image,
                                               it->second->exit_code);
            }
        }
        if (!busy && !interrupted && s.status != SessionStatus::creating && s.status != SessionStatus::deleting) {
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

// Recovers an operation a killed process left behind (the caller holds the session's lock).
Status SessionManager::recover(const std::string& name, Operation op, const Progress& progress) {
    auto row = store_.get(name);
    if (!row) return row.error();
    if (!*row) return {};  // nothing recorded: orphans on the engine are found by label
    Session s = std::move(**row);
    switch (op) {
        case Operation::create:
            if (s.status != SessionStatus::creating) return {};  // the create had committed its row
            progress(fmt::format("undoing the interrupted create of {}", name));
            return teardown(s, BranchMode::if_unchanged, true);  // the branch only while nobody committed on it
        case Operation::remove: {
            progress(fmt::format("finishing the interrupted delete of {} (its branch {} is kept)", name, s.branch));
            // The session's commits come across first; when they cannot, its repository stays.
            const auto paths = repo_paths(s);
            if (fs::exists(paths.git_dir) && fs::exists(s.git_common_dir)) {
                auto synced = [&] {
                    SyncLock held(sync_lock_file(settings_, name));
                    return sync_session_branch(paths, false);
                }();
                if (!synced || (!moves_branch(synced->action) && synced->action != SyncAction::up_to_date &&
                                synced->action != SyncAction::refuse_no_branch))
                    return make_error(fmt::format("its commits could not be brought into {} ({}); run 'airlock sync {} "
                                                  "--force' or 'airlock delete {} --force'",
                                                  s.branch, synced ? std::string(to_string(synced->action))
                                                                   : synced.error().message,
                                                  name, name));
            }
            return teardown(s, BranchMode::keep, false);
        }
        case Operation::refresh: {
            progress(fmt::format("finishing the interrupted refresh of {}", name));
            auto mine = session_containers(name);
            if (!mine) return mine.error();
            bool next_recorded = false, other = false;
            for (const auto& c : *mine) {
                if (c.id == s.container_id) next_recorded = c.name.ends_with("-next");
                else other = true;
            }
            auto st = finish_refresh(s, progress);
            if (st && !next_recorded && !other)
                // Killed before a new container was made: the old one runs on, but its proxy
                // token may have been renewed already.
                (void)store_.set_status(name, SessionStatus::running,
                                        fmt::format("a refresh was interrupted; if the agent's requests fail with 407, "
                                                    "run 'airlock refresh {}'",
                                                    name));
            return st;
        }
    }
    return {};
}

Result<std::vector<SessionManager::Problem>> SessionManager::reconcile(bool fix, const Progress& progress) {
    std::vector<Problem> problems;
    auto rows = store_.list();
    if (!rows) return rows.error();
    std::map<std::string, const Session*> by_name;
    for (const auto& s : *rows) by_name[s.name] = &s;

    // Interrupted operations first: each recovered under the session's lock.
    std::set<std::string> busy;
    std::vector<std::string> names;
    for (const auto& s : *rows) names.push_back(s.name);
    {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(settings_.sessions_dir, ec)) {
            auto file = e.path().filename().string();
            // <name>.lock only: not <name>.sync.lock, .start.lock or anything else.
            if (file.size() > 5 && file.ends_with(".lock") && validate_session_name(file.substr(0, file.size() - 5)))
                names.push_back(file.substr(0, file.size() - 5));
        }
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& name : names) {
        auto file = lock_file(name);
        if (SessionLock::held(file)) {
            busy.insert(name);
            continue;
        }
        auto row = by_name.find(name);
        auto op = SessionLock::interrupted(file);
        if (!op && row != by_name.end()) {  // a row left mid-way without a lock file
            if (row->second->status == SessionStatus::creating) op = Operation::create;
            if (row->second->status == SessionStatus::deleting) op = Operation::remove;
        }
        if (!op) continue;
        if (!fix) {
            if (row == by_name.end()) continue;  // a lock file alone: nothing to report
            if (*op == Operation::create && row->second->status != SessionStatus::creating) continue;
            problems.push_back({fmt::format("the {} of session {} was interrupted", to_string(*op), name),
                                "airlock doctor --fix"});
            busy.insert(name);
            continue;
        }
        std::optional<Operation> seen;
        auto lock = SessionLock::take(file, *op, &seen);
        if (!lock) {
            busy.insert(name);
            continue;
        }
        if (auto st = recover(name, *op, progress); !st) {
            lock->keep_file();
            problems.push_back({fmt::format("could not finish the interrupted {} of {}: {}", to_string(*op), name,
                                            st.error().message),
                                "airlock doctor --fix"});
            busy.insert(name);
        }
    }

    rows = store_.list();
    if (!rows) return rows.error();
    by_name.clear();
    for (const auto& s : *rows) by_name[s.name] = &s;
    auto containers = backend_.list({{kHomeIdLabel, home_id()}});
    if (!containers) return containers.error();

    for (const auto& c : *containers) {
        auto label = c.labels.find(kSessionLabel);
        std::string session = label == c.labels.end() ? "" : label->second;
        if (busy.count(session)) continue;
        auto row = by_name.find(session);
        bool orphan = row == by_name.end() || row->second->container_id != c.id;
        if (!orphan) continue;
        if (!fix) {
            problems.push_back({fmt::format("container {} belongs to no session", c.name), "airlock doctor --fix"});
            continue;
        }
        // Under the session's lock, and only if the store still does not know it.
        std::optional<SessionLock> lock;
        if (!session.empty() && validate_session_name(session)) {
            auto taken = SessionLock::take(lock_file(session), Operation::remove);
            if (!taken) continue;
            lock.emplace(std::move(*taken));
        }
        auto now = session.empty() ? Result<std::optional<Session>>(std::optional<Session>{}) : store_.get(session);
        if (!now || (*now && (*now)->container_id == c.id)) continue;
        progress(fmt::format("removing orphan container {}", c.name));
        if (auto st = backend_.remove(c.id, true); !st) return st.error();
    }
    std::map<std::string, bool> has_container;
    for (const auto& c : *containers) has_container[c.id] = true;
    std::vector<std::string> newly_lost;
    for (const auto& s : *rows) {
        if (busy.count(s.name)) continue;
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
    // Home volumes of this home without a session.
    auto volumes = backend_.list_volumes({{kHomeIdLabel, home_id()}});
    if (volumes) {
        for (const auto& v : *volumes) {
            auto label = v.labels.find(kSessionLabel);
            if (label == v.labels.end() || by_name.count(label->second) || busy.count(label->second)) continue;
            if (fix) {
                auto taken = SessionLock::take(lock_file(label->second), Operation::remove);
                if (!taken) continue;
                if (auto now = store_.get(label->second); !now || *now) continue;
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
