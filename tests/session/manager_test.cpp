// SessionManager::list / show / reconcile against a fake engine: the state each row shows,
// and what list writes back to the store for rows whose container is gone.

#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "session/manager.hpp"
#include "session/store.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using airlock::session::Session;
using airlock::session::SessionManager;
using airlock::session::SessionStatus;
using airlock::session::SessionStore;
using airlock::session::SessionView;

namespace {

using airlock::testing::TempDir;

// An engine that knows only the containers in `containers`; counts list() calls.
class FakeBackend final : public Backend {
public:
    std::vector<ContainerState> containers;
    int lists = 0;
    bool down = false;                  // list() fails as with the engine unreachable
    std::vector<std::string> removed;   // ids remove() was called with
    std::vector<std::string> started;   // ids start() was called with

    Result<std::string> version() override { return std::string("fake"); }
    Result<std::optional<ImageInfo>> inspect_image(const std::string&) override {
        return std::optional<ImageInfo>{};
    }
    Status pull_image(const std::string&, std::function<void(const std::string&)>) override {
        return make_error("fake: no pulls");
    }
    Result<std::string> create_container(const ContainerSpec&) override { return make_error("fake: no create"); }
    Status start(const std::string& id) override {
        started.push_back(id);
        for (auto& c : containers)
            if (c.id == id) c.status = "running";
        return {};
    }
    Status stop(const std::string&, int) override { return {}; }
    Status remove(const std::string& id, bool) override {
        removed.push_back(id);
        std::erase_if(containers, [&](const ContainerState& c) { return c.id == id; });
        return {};
    }
    Result<std::optional<ContainerState>> inspect(const std::string& ref) override {
        for (const auto& c : containers)
            if (c.id == ref || c.name == ref) return std::optional<ContainerState>(c);
        return std::optional<ContainerState>{};
    }
    Result<std::vector<ContainerState>> list(const LabelFilter& filter) override {
        ++lists;
        if (down) return make_error("cannot reach the Docker engine at unix:///nonexistent");
        std::vector<ContainerState> out;
        for (const auto& c : containers) {
            bool match = true;
            for (const auto& [k, v] : filter) {
                auto it = c.labels.find(k);
                match = match && it != c.labels.end() && (v.empty() || it->second == v);
            }
            if (match) out.push_back(c);
        }
        return out;
    }
    Status logs(const std::string&, bool, std::function<bool(OutputStream, std::string_view)>) override {
        return {};
    }
    Result<int> wait(const std::string&) override { return 0; }
    Status rename(const std::string&, const std::string&) override { return {}; }
    Status create_volume(const std::string&, const std::map<std::string, std::string>&) override { return {}; }
    Result<std::vector<VolumeInfo>> list_volumes(const LabelFilter&) override {
        return std::vector<VolumeInfo>{};
    }
    Status remove_volume(const std::string&) override { return {}; }
    Result<std::vector<std::string>> bridge_gateways() override {
        return std::vector<std::string>{"172.17.0.1"};
    }
    std::set<std::string> paths;  // what path_exists() finds (in any container)
    struct Written {
        std::string id, dir;
        std::vector<FileEntry> files;
        std::uint32_t uid, gid;
    };
    std::vector<Written> written;
    Result<bool> path_exists(const std::string&, const std::string& path) override { return paths.contains(path); }
    Status write_files(const std::string& id, const std::string& dir, const std::vector<FileEntry>& files,
                       std::uint32_t uid, std::uint32_t gid) override {
        written.push_back({id, dir, files, uid, gid});
        for (const auto& f : files) paths.insert(dir + "/" + f.path);
        return {};
    }
};

class FakeClients final : public session::ProxyClients {
public:
    Result<std::string> add(const std::string&, const std::vector<std::string>&, const std::string&) override {
        return std::string("token");
    }
    Result<std::string> rotate(const std::string&) override { return std::string("token"); }
    Status remove(const std::string&) override { return {}; }
};

SessionStore open_store(const fs::path& db) {
    auto s = SessionStore::open(db);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(s).value();
}

Session row(const std::string& name, SessionStatus status) {
    Session s;
    s.name = name;
    s.repo_root = "/nonexistent/repo";
    s.git_common_dir = "/nonexistent/repo/.git";
    s.worktree = "/nonexistent/worktrees/" + name;
    s.branch = "airlock/" + name;
    s.base_commit = "0123456789abcdef0123456789abcdef01234567";
    s.image = "busybox:latest";
    s.image_id = "sha256:abc";
    s.agent = "shell";
    s.agent_command = {"sh", "-c"};
    s.prompt = "sleep 3600";
    s.container_id = "cid-" + name;
    s.home_volume = "airlock-home-" + name;
    s.status = status;
    return s;
}

ContainerState container(const std::string& name, const std::string& status, int exit_code = 0) {
    ContainerState c;
    c.id = "cid-" + name;
    c.name = "airlock-" + name;
    c.image_id = "sha256:abc";
    c.status = status;
    c.exit_code = exit_code;
    c.labels = {{"dev.airlock.session", name}, {"dev.airlock.home-id", "testhome01"}};
    return c;
}

constexpr int kStale = 500;

// 500 rows whose container is gone, plus one of each other kind.
struct World {
    TempDir dir;
    SessionStore store = open_store(dir.path / "sessions.db");
    FakeBackend backend;
    FakeClients clients;
    SessionManager manager{backend, store, clients, settings(dir.path)};

    static session::ManagerSettings settings(const fs::path& home, int max_containers = 0) {
        session::ManagerSettings m{home.string(), (home / "worktrees").string(), (home / "sessions").string(), {}};
        m.host.home_id = "testhome01";
        m.max_containers = max_containers;
        return m;
    }

    World() {
        auto st = store.transaction([&]() -> Status {
            for (int i = 0; i < kStale; ++i)
                if (auto r = store.insert(row(fmt::format("stale-{:03}", i),
                                              i % 2 ? SessionStatus::running : SessionStatus::stopped));
                    !r)
                    return r;
            for (auto [name, status] : std::vector<std::pair<std::string, SessionStatus>>{
                     {"alive", SessionStatus::running},
                     {"done", SessionStatus::running},
                     {"already-lost", SessionStatus::lost},
                     {"being-deleted", SessionStatus::deleting},
                     {"killed-create", SessionStatus::creating}})
                if (auto r = store.insert(row(name, status)); !r) return r;
            return {};
        });
        REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
        backend.containers = {container("alive", "running"), container("done", "exited", 3)};
    }
};

std::map<std::string, SessionView> by_name(const std::vector<SessionView>& views) {
    std::map<std::string, SessionView> out;
    for (const auto& v : views) out[v.session.name] = v;
    return out;
}

}  // namespace

TEST_CASE("list: many rows whose container is gone show as lost and are marked so, once") {
    World w;
    auto before = w.store.list();
    REQUIRE(before.ok());
    std::map<std::string, Session> stored_before;
    for (const auto& s : *before) stored_before[s.name] = s;

    auto first = w.manager.list();
    REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
    CHECK(w.backend.lists == 1);
    REQUIRE(first->size() == kStale + 5);
    CHECK((*first)[0].session.name == "stale-000");  // the store's order
    auto views = by_name(*first);
    for (int i = 0; i < kStale; ++i) {
        const auto& v = views.at(fmt::format("stale-{:03}", i));
        CHECK(v.state == "lost");
        CHECK(v.session.status == SessionStatus::lost);
        // The view is the row as it was read, with only the status changed.
        Session expected = stored_before.at(v.session.name);
        expected.status = SessionStatus::lost;
        CHECK(v.session == expected);
    }
    CHECK(views.at("alive").state == "running");
    CHECK(views.at("alive").session.status == SessionStatus::running);
    CHECK(views.at("done").state == "exited (3)");
    CHECK(views.at("already-lost").state == "lost");
    CHECK(views.at("being-deleted").state == "interrupted");  // a delete whose lock nobody holds
    CHECK(views.at("being-deleted").session.status == SessionStatus::deleting);
    CHECK(views.at("killed-create").state == "interrupted");

    // The store now records every stale row as lost; nothing else changed.
    auto after = w.store.list();
    REQUIRE(after.ok());
    REQUIRE(after->size() == kStale + 5);
    int lost = 0;
    for (const auto& s : *after) {
        const auto& old = stored_before.at(s.name);
        if (s.name.starts_with("stale-")) {
            ++lost;
            CHECK(s.status == SessionStatus::lost);
            CHECK(s.last_error == "container not found in the engine");
            Session same = s;
            same.status = old.status;
            same.last_error = old.last_error;
            same.updated_at = old.updated_at;
            CHECK(same == old);
        } else {
            CHECK(s == old);
        }
    }
    CHECK(lost == kStale);

    // A second list shows the same and writes nothing more.
    auto stored_after = *after;
    auto second = w.manager.list();
    REQUIRE(second.ok());
    REQUIRE(second->size() == first->size());
    for (std::size_t i = 0; i < second->size(); ++i) {
        CHECK((*second)[i].session.name == (*first)[i].session.name);
        CHECK((*second)[i].state == (*first)[i].state);
        CHECK((*second)[i].session.status == (*first)[i].session.status);
    }
    auto again = w.store.list();
    REQUIRE(again.ok());
    CHECK(*again == stored_after);

    // show is list narrowed to one row.
    auto one = w.manager.show("stale-123");
    REQUIRE(one.ok());
    CHECK(one->state == "lost");
    CHECK(one->session.status == SessionStatus::lost);
    CHECK_FALSE(w.manager.show("nobody").ok());
}

TEST_CASE("list: a container that comes back shows its engine state again") {
    World w;
    REQUIRE(w.manager.list().ok());
    w.backend.containers.push_back(container("stale-007", "running"));
    auto views = w.manager.list();
    REQUIRE(views.ok());
    CHECK(by_name(*views).at("stale-007").state == "running");
    CHECK(by_name(*views).at("stale-008").state == "lost");
}

TEST_CASE("reconcile: reports lost containers; --fix marks them all lost") {
    World w;
    auto report = w.manager.reconcile(false, [](const std::string&) {});
    REQUIRE(report.ok());
    std::size_t lost_reports = 0;
    for (const auto& p : *report) lost_reports += p.what.find("has lost its container") != std::string::npos;
    CHECK(lost_reports == kStale + 1);  // the stale rows and already-lost
    auto unchanged = w.store.get("stale-001");
    REQUIRE(unchanged.ok());
    CHECK((*unchanged)->status == SessionStatus::running);  // without --fix nothing is written

    std::vector<std::string> progress;
    auto fixed = w.manager.reconcile(true, [&](const std::string& line) { progress.push_back(line); });
    REQUIRE_MESSAGE(fixed.ok(), (fixed.ok() ? "" : fixed.error().message));
    std::size_t marked = 0;
    for (const auto& line : progress) marked += line.starts_with("marking ");
    CHECK(marked == kStale);
    auto rows = w.store.list();
    REQUIRE(rows.ok());
    std::set<std::string> names;
    for (const auto& s : *rows) {
        names.insert(s.name);
        if (s.name.starts_with("stale-")) {
            CHECK(s.status == SessionStatus::lost);
            CHECK(s.last_error == "container not found in the engine");
        }
    }
    CHECK(names.count("killed-create") == 0);   // the interrupted create was undone
    CHECK(names.count("being-deleted") == 0);   // and the interrupted delete finished
    CHECK(names.count("alive") == 1);
}

// ---- Interrupted operations: each recovered as what it was ---------------------------------

namespace {

// The lock file a killed airlock leaves: it names the operation, nobody holds it.
void leave_lock(const fs::path& home, const std::string& name, session::Operation op) {
    auto lock = session::SessionLock::take(home / "sessions" / (name + ".lock"), op);
    REQUIRE(lock.ok());
    lock->keep_file();  // as if the process died here: the file stays, the flock goes
}

bool has_line(const std::vector<std::string>& lines, std::string_view text) {
    for (const auto& l : lines)
        if (l.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("reconcile --fix: a killed delete is finished as a delete, never undone as a create") {
    World w;
    // The delete was killed after it marked the row, and also one killed before it did.
    leave_lock(w.dir.path, "being-deleted", session::Operation::remove);
    leave_lock(w.dir.path, "alive", session::Operation::remove);
    auto report = w.manager.reconcile(false, [](const std::string&) {});
    REQUIRE(report.ok());
    bool named = false;
    for (const auto& p : *report) named = named || p.what == "the delete of session alive was interrupted";
    CHECK(named);
    CHECK(w.manager.show("alive")->state == "interrupted");

    std::vector<std::string> progress;
    auto fixed = w.manager.reconcile(true, [&](const std::string& line) { progress.push_back(line); });
    REQUIRE_MESSAGE(fixed.ok(), (fixed.ok() ? "" : fixed.error().message));
    CHECK(has_line(progress, "finishing the interrupted delete of alive (its branch airlock/alive is kept)"));
    CHECK(has_line(progress, "finishing the interrupted delete of being-deleted"));
    CHECK_FALSE(has_line(progress, "undoing the interrupted create of alive"));
    CHECK_FALSE(has_line(progress, "undoing the interrupted create of being-deleted"));
    CHECK(has_line(progress, "undoing the interrupted create of killed-create"));
    CHECK_FALSE((*w.store.get("alive")).has_value());
    CHECK_FALSE(fs::exists(w.dir.path / "sessions" / "alive.lock"));
}

TEST_CASE("reconcile --fix leaves a session alone while another airlock holds its lock (a refresh)") {
    World w;
    // A refresh in progress: the row still names the old container, a new one exists.
    auto next = container("alive", "created");
    next.id = "cid-alive-new";
    next.name = "airlock-alive-testhome01-next";
    w.backend.containers.push_back(next);
    auto held = session::SessionLock::take(w.dir.path / "sessions" / "alive.lock", session::Operation::refresh);
    REQUIRE(held.ok());
    w.backend.containers.erase(w.backend.containers.begin());  // the old one is already gone
    auto fixed = w.manager.reconcile(true, [](const std::string&) {});
    REQUIRE(fixed.ok());
    CHECK(std::find(w.backend.removed.begin(), w.backend.removed.end(), "cid-alive-new") == w.backend.removed.end());
    CHECK((*w.store.get("alive"))->status == SessionStatus::running);  // not marked lost
    CHECK(w.manager.show("alive")->state == "refreshing");
}

TEST_CASE("reconcile --fix finishes a killed refresh: the recorded new container stays and starts, the old goes") {
    World w;
    auto next = container("alive", "created");
    next.id = "cid-alive-new";
    next.name = "airlock-alive-testhome01-next";
    w.backend.containers.push_back(next);
    auto row = *w.store.get("alive");
    row->container_id = "cid-alive-new";  // recorded before the old one was removed
    REQUIRE(w.store.update(*row).ok());
    leave_lock(w.dir.path, "alive", session::Operation::refresh);
    CHECK(w.manager.show("alive")->state == "interrupted");  // not "lost"
    auto fixed = w.manager.reconcile(true, [](const std::string&) {});
    REQUIRE_MESSAGE(fixed.ok(), (fixed.ok() ? "" : fixed.error().message));
    CHECK(w.backend.removed == std::vector<std::string>{"cid-alive"});
    CHECK(w.backend.started == std::vector<std::string>{"cid-alive-new"});
    CHECK((*w.store.get("alive"))->status == SessionStatus::running);
}

TEST_CASE("reconcile --fix after a refresh killed before it recorded the new container keeps the running agent") {
    World w;
    auto next = container("alive", "created");
    next.id = "cid-alive-new";
    next.name = "airlock-alive-testhome01-next";
    w.backend.containers.push_back(next);
    leave_lock(w.dir.path, "alive", session::Operation::refresh);
    auto fixed = w.manager.reconcile(true, [](const std::string&) {});
    REQUIRE(fixed.ok());
    CHECK(w.backend.removed == std::vector<std::string>{"cid-alive-new"});  // the unrecorded half-made one
    CHECK(w.backend.started.empty());  // the old agent was running all along
    CHECK((*w.store.get("alive"))->status == SessionStatus::running);
}

TEST_CASE("reconcile never touches a container labelled for another home") {
    World w;
    auto alien = container("ghost", "running");
    alien.id = "cid-alien";
    alien.labels["dev.airlock.home-id"] = "otherhome1";
    w.backend.containers.push_back(alien);
    auto fixed = w.manager.reconcile(true, [](const std::string&) {});
    REQUIRE(fixed.ok());
    CHECK(std::find(w.backend.removed.begin(), w.backend.removed.end(), "cid-alien") == w.backend.removed.end());
}

TEST_CASE("list with the engine down: the store's view, marked as such") {
    World w;
    w.backend.down = true;
    auto views = w.manager.list();
    REQUIRE_MESSAGE(views.ok(), (views.ok() ? "" : views.error().message));
    auto by = by_name(*views);
    CHECK_FALSE(by.at("alive").from_engine);
    CHECK(by.at("alive").state == "running");
    CHECK(by.at("stale-001").state == "running");  // nothing is marked lost without the engine
    CHECK((*w.store.get("stale-001"))->status == SessionStatus::running);
}

TEST_CASE("start counts the running containers of this home against max_containers") {
    TempDir dir;
    SessionStore store = open_store(dir.path / "sessions.db");
    FakeBackend backend;
    FakeClients clients;
    SessionManager manager{backend, store, clients, World::settings(dir.path, 2)};
    for (const char* n : {"a", "b", "c"}) REQUIRE(store.insert(row(n, SessionStatus::stopped)).ok());
    backend.containers = {container("a", "running"), container("b", "running"), container("c", "exited")};
    auto other = container("x", "running");  // another home's: not counted
    other.labels["dev.airlock.home-id"] = "otherhome1";
    backend.containers.push_back(other);
    auto refused = manager.start("c");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message == "2 sessions are running and [docker] max_containers is 2; stop one ('airlock stop "
                                     "NAME') or raise the limit");
    CHECK(backend.started.empty());
    backend.containers[1].status = "exited";
    CHECK(manager.start("c").ok());
    CHECK(backend.started == std::vector<std::string>{"cid-c"});
}

TEST_CASE("start, stop and logs of a lost session say to refresh it") {
    World w;
    auto id = w.manager.container_of("stale-001");
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().message == "session 'stale-001' has lost its container; run 'airlock refresh stale-001' to make a new "
                                "one (or 'airlock delete stale-001')");
    CHECK(w.manager.start("stale-001").error().message == id.error().message);
    CHECK(w.manager.stop("stale-001").error().message == id.error().message);
}

// A session with its own repository (session_repo.hpp), against a real user repository: what
// list, sync, stop and remove do with the branch.
TEST_CASE("list, sync, stop and remove bring the session's branch across; refusals are notes and errors") {
    TempDir dir;
    const fs::path repo = dir.path / "repo";
    auto sh = [&](const std::string& cmd) {
        std::string full = "cd '" + repo.string() + "' && GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
                           "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t "
                           "GIT_COMMITTER_EMAIL=t@example.com " + cmd + " >/dev/null 2>&1";
        REQUIRE_MESSAGE(std::system(full.c_str()) == 0, cmd);
    };
    fs::create_directories(repo);
    sh("git init -q -b main && echo hi > a.txt && git add a.txt && git commit -q -m first");
    SessionStore store = open_store(dir.path / "sessions.db");
    FakeBackend backend;
    FakeClients clients;
    SessionManager manager{backend, store, clients,
                           session::ManagerSettings{dir.path.string(), (dir.path / "worktrees").string(),
                                                    (dir.path / "sessions").string(), {}}};
    Session s = row("s", SessionStatus::running);
    s.repo_root = repo.string();
    s.git_common_dir = (repo / ".git").string();
    s.worktree = (dir.path / "worktrees" / "s").string();
    REQUIRE(store.insert(s).ok());
    backend.containers = {container("s", "running")};
    const auto paths = manager.repo_paths(s);
    CHECK(paths.git_dir == dir.path / "sessions" / "s" / "git");
    std::string base;
    {
        std::FILE* p = ::popen(("git -C '" + repo.string() + "' rev-parse HEAD").c_str(), "r");
        char buf[64] = {};
        REQUIRE(std::fgets(buf, sizeof buf, p) != nullptr);
        ::pclose(p);
        base.assign(buf, 40);
    }
    REQUIRE(session::create_session_repo(paths, base).ok());
    auto agent = [&](const std::string& cmd) {
        sh("git --git-dir='" + paths.git_dir.string() + "' --work-tree='" + paths.worktree.string() + "' " + cmd);
    };
    auto user_tip = [&] {
        std::FILE* p = ::popen(("git -C '" + repo.string() + "' rev-parse airlock/s").c_str(), "r");
        char buf[64] = {};
        std::string out = std::fgets(buf, sizeof buf, p) ? std::string(buf, 40) : "";
        ::pclose(p);
        return out;
    };

    // list brings a new commit across.
    sh("echo work > '" + paths.worktree.string() + "/w.txt'");
    agent("add w.txt");
    agent("commit -q -m work");
    auto views = manager.list();
    REQUIRE(views.ok());
    CHECK(by_name(*views).at("s").branch_note.empty());
    CHECK(user_tip() != base);
    auto synced = manager.sync("s", false);
    REQUIRE(synced.ok());
    CHECK(synced->action == session::SyncAction::up_to_date);

    // The user commits on airlock/s: list notes it, delete refuses, sync --force replaces it.
    sh("git update-ref refs/heads/airlock/s $(git commit-tree -p airlock/s -m mine airlock/s^{tree})");
    agent("commit -q --allow-empty -m more");
    views = manager.list();
    REQUIRE(views.ok());
    CHECK(by_name(*views).at("s").branch_note.find("sync s --force") != std::string::npos);
    auto refused = manager.remove("s", false, false);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("sync s --force") != std::string::npos);
    CHECK(fs::exists(paths.git_dir));
    CHECK(manager.sync("s", false)->action == session::SyncAction::refuse_diverged);
    CHECK(manager.sync("s", true)->action == session::SyncAction::force_update);

    // stop brings what came after across; remove keeps the branch and leaves no lock file.
    agent("commit -q --allow-empty -m last");
    auto before_stop = user_tip();
    REQUIRE(manager.stop("s").ok());
    CHECK(user_tip() != before_stop);
    REQUIRE(manager.remove("s", false, false).ok());
    CHECK_FALSE(fs::exists(paths.git_dir));
    CHECK_FALSE(fs::exists(paths.worktree));
    CHECK_FALSE(fs::exists(dir.path / "sessions" / "s.sync.lock"));
    CHECK_FALSE(user_tip().empty());
    CHECK_FALSE(manager.sync("s", false).ok());
    CHECK_FALSE(fs::exists(dir.path / "sessions" / "s.sync.lock"));
}

TEST_CASE("finishing a refresh writes the agent's files that are absent, keeps the ones the agent changed") {
    World w;
    auto next = container("alive", "created");
    next.id = "cid-alive-new";
    next.name = "airlock-alive-testhome01-next";
    w.backend.containers.push_back(next);
    auto row = *w.store.get("alive");
    row->agent = "codex";
    row->container_id = "cid-alive-new";
    REQUIRE(w.store.update(*row).ok());
    leave_lock(w.dir.path, "alive", session::Operation::refresh);

    auto settings = World::settings(w.dir.path);
    settings.host.user = "1234:5678";
    AgentDefinition codex;
    codex.command = {"codex"};
    codex.files = {{".codex/config.toml", "mine", 0644, false},
                   {".codex/auth.json", "key", 0600, false},
                   {".codex/forced", "always", 0644, true}};
    settings.host.agents["codex"] = codex;
    SessionManager manager{w.backend, w.store, w.clients, settings};
    // The agent changed its config.toml in the home volume; auth.json is gone.
    w.backend.paths = {"/home/agent/.codex/config.toml", "/home/agent/.codex/forced"};

    auto fixed = manager.reconcile(true, [](const std::string&) {});
    REQUIRE_MESSAGE(fixed.ok(), (fixed.ok() ? "" : fixed.error().message));
    REQUIRE(w.backend.written.size() == 1);
    const auto& written = w.backend.written[0];
    CHECK(written.id == "cid-alive-new");  // before it starts
    CHECK(w.backend.started == std::vector<std::string>{"cid-alive-new"});
    CHECK(written.dir == "/home/agent");
    CHECK(written.uid == 1234);
    CHECK(written.gid == 5678);
    REQUIRE(written.files.size() == 2);
    CHECK(written.files[0].path == ".codex/auth.json");
    CHECK(written.files[0].mode == 0600);
    CHECK(written.files[1].path == ".codex/forced");  // overwrite = true
    CHECK(written.files[1].content == "always");
}

TEST_CASE("an agent without files (or a raw command) writes nothing into the home") {
    World w;
    auto next = container("alive", "created");
    next.id = "cid-alive-new";
    next.name = "airlock-alive-testhome01-next";
    w.backend.containers.push_back(next);
    auto row = *w.store.get("alive");
    row->container_id = "cid-alive-new";
    REQUIRE(w.store.update(*row).ok());
    leave_lock(w.dir.path, "alive", session::Operation::refresh);
    REQUIRE(w.manager.reconcile(true, [](const std::string&) {}).ok());
    CHECK(w.backend.written.empty());
}

TEST_CASE("create refuses --env for a variable airlock owns, before making anything") {
    World w;
    session::CreateRequest r;
    r.name = "env-test";
    r.image = "busybox:latest";
    r.network = "open";
    r.pids_limit = 1024;
    r.agent = "shell";
    r.agent_definition = AgentDefinition{{"sh", "-c"}, PromptMode::arg, {}, {}};
    for (const char* e : {"HTTPS_PROXY=http://elsewhere:1", "no_proxy=*", "HOME=/root", "AIRLOCK_SESSION=other"}) {
        CAPTURE(e);
        r.extra_env = {e};
        auto made = w.manager.create(r, [](const std::string&) {});
        REQUIRE_FALSE(made.ok());
        CAPTURE(made.error().message);
        CHECK(made.error().message.find("airlock sets") != std::string::npos);
        CHECK(made.error().message.find(std::string("--env '") + e + "'") == 0);
    }
    CHECK_FALSE(w.store.get("env-test")->has_value());
}
