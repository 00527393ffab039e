// A session's own repository (session/session_repo.hpp) against the real git CLI: what the
// user's repository gains, commits made as the container's git makes them, bringing the
// branch back (fast-forward, refusals, --force), tampering by the agent, the user's gc.

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "session/session_repo.hpp"
#include "session/worktree.hpp"
#include "tests/support/git_cli.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace airlock::session;
using airlock::testing::read_text_file;
using airlock::testing::run_git;
using airlock::testing::run_git_ok;
using airlock::testing::shell_quote;
using airlock::testing::TempDir;
using airlock::testing::write_text_file;

namespace {

template <class T>
T expect_ok(airlock::Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}
void expect_ok(const airlock::Status& st) { REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message)); }
template <class R>
std::string expect_error(const R& r) {
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
std::string sorted_lines(const std::string& text) {
    std::set<std::string> lines;
    std::size_t at = 0;
    while (at <= text.size()) {
        auto nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        if (nl > at) lines.insert(text.substr(at, nl - at));
        at = nl + 1;
    }
    std::string out;
    for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
    return out;
}

// A user repository with two commits on main and a tag, and a session "s" on it.
struct World {
    TempDir tmp;
    fs::path root = tmp.path / "repo";
    std::string first, second;
    SessionRepoPaths p;

    World() {
        fs::create_directories(root);
        run_git_ok(root, "init -q -b main");
        write_text_file(root / "README.md", "hello\n");
        write_text_file(root / "pkg" / "a.txt", "a\n");
        run_git_ok(root, "add -A");
        run_git_ok(root, "commit -q -m first");
        first = run_git_ok(root, "rev-parse HEAD");
        run_git_ok(root, "tag v1");
        write_text_file(root / "README.md", "hello again\n");
        run_git_ok(root, "commit -q -am second");
        second = run_git_ok(root, "rev-parse HEAD");
        p.name = "s";
        p.branch = "airlock/s";
        p.user_git_dir = root / ".git";
        p.git_dir = tmp.path / "home" / "sessions" / "s" / "git";
        p.worktree = tmp.path / "home" / "worktrees" / "s";
    }
    // git as the container runs it: the session's repository and its work tree.
    std::string agent(const std::string& args) {
        return run_git_ok(p.worktree, "--git-dir=" + shell_quote(p.git_dir.string()) +
                                          " --work-tree=" + shell_quote(p.worktree.string()) + " " + args);
    }
    std::string refs() { return sorted_lines(run_git_ok(root, "for-each-ref --format='%(refname) %(objectname)'")); }
    std::string user(const std::string& args) { return run_git_ok(root, args); }
    void agent_commit(const std::string& file, const std::string& text) {
        write_text_file(p.worktree / file, text);
        agent("add -A");
        agent("commit -q -m " + shell_quote("agent: " + file));
    }
};

}  // namespace

TEST_CASE("create_session_repo: the agent's repository borrows objects; the user's gains only refs") {
    World w;
    auto before = w.refs();
    expect_ok(create_session_repo(w.p, w.first));

    // The user's repository: branch airlock/s and the base keep ref, nothing else; no worktree.
    CHECK(w.refs() == sorted_lines(before + "\nrefs/airlock/s/base " + w.first + "\nrefs/heads/airlock/s " + w.first));
    CHECK_FALSE(fs::exists(w.root / ".git" / "worktrees"));
    CHECK(w.user("worktree list").find('\n') == std::string::npos);

    // The session's repository: alternates to the user's objects, branch checked out at the base.
    CHECK(read_text_file(w.p.git_dir / "objects" / "info" / "alternates") == (w.root / ".git" / "objects").string() + "\n");
    CHECK(read_text_file(w.p.worktree / ".git") == std::string("gitdir: ") + kContainerGitDir + "\n");
    CHECK(read_text_file(w.p.worktree / "README.md") == "hello\n");
    CHECK(w.agent("rev-parse --abbrev-ref HEAD") == "airlock/s");
    CHECK(w.agent("rev-parse HEAD") == w.first);
    CHECK(w.agent("status --porcelain").empty());
    CHECK(fs::is_directory(w.p.git_dir / "hooks"));
    CHECK(fs::is_regular_file(w.p.git_dir / "config"));
    CHECK_FALSE(expect_ok(session_has_uncommitted_changes(w.p)));

    // Plain git on the host in the session's directory finds no repository: the .git file
    // names a path that exists only in the container.
    auto host = run_git(w.p.worktree, "status");
    CHECK(host.status != 0);
    CHECK(contains(host.out, "not a git repository"));

    // The agent commits; the user's branch moves only when airlock brings it across.
    w.agent_commit("new.txt", "from the agent\n");
    auto tip = w.agent("rev-parse HEAD");
    CHECK(w.user("rev-parse airlock/s") == w.first);
    CHECK(w.user("cat-file -t " + tip + " 2>&1 || true") != "commit");
    auto r = expect_ok(sync_session_branch(w.p, false));
    CHECK(r.action == SyncAction::fast_forward);
    CHECK(r.old_tip == w.first);
    CHECK(r.new_tip == tip);
    CHECK(w.user("rev-parse airlock/s") == tip);
    CHECK(w.user("rev-parse refs/airlock/s/tip") == tip);
    CHECK(w.user("rev-parse main") == w.second);
    CHECK(w.user("show airlock/s:new.txt") == "from the agent");
    CHECK(w.user("fsck --strict --no-progress").empty());
    CHECK(w.user("reflog show --format=%gs airlock/s").rfind("airlock sync: fast-forward", 0) == 0);
    CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::up_to_date);

    // The log and diff airlock shows, read from the session's repository.
    auto log = expect_ok(session_log(w.p, w.first, 10));
    CHECK(log.tip == tip);
    REQUIRE(log.commits.size() == 1);
    CHECK(log.total == 1);
    CHECK(log.commits[0].summary == "agent: new.txt");
    CHECK(log.commits[0].author == "t <t@example.com>");
    auto patch = expect_ok(session_diff(w.p, w.first, false));
    CHECK(contains(patch, "+from the agent"));
    CHECK(contains(patch, "new.txt"));
    CHECK_FALSE(contains(patch, "hello again"));  // the user's later commit is not the agent's work

    write_text_file(w.p.worktree / "README.md", "changed, not committed\n");
    CHECK(expect_ok(session_has_uncommitted_changes(w.p)));
    auto wpatch = expect_ok(session_diff(w.p, w.first, true));
    CHECK(contains(wpatch, "+changed, not committed"));
    CHECK(contains(wpatch, "+from the agent"));
    CHECK_FALSE(contains(expect_ok(session_diff(w.p, w.first, false)), "changed, not committed"));
}

TEST_CASE("sync_session_branch: only airlock/<name>; diverged and checked-out refused; --force") {
    World w;
    expect_ok(create_session_repo(w.p, w.second));
    w.agent_commit("a.txt", "1\n");
    // The agent makes other refs in its repository: none of them reaches the user's.
    w.agent("branch main");
    w.agent("tag -f v1");
    w.agent("tag evil");
    auto before = w.refs();
    expect_ok(sync_session_branch(w.p, false));
    CHECK(w.user("rev-parse main") == w.second);
    CHECK(w.user("rev-parse v1") == w.first);
    CHECK(run_git(w.root, "rev-parse -q --verify refs/tags/evil").status != 0);

    SUBCASE("the user moved airlock/s: refused, nothing moves; --force replaces it") {
        auto mine = w.user("commit-tree -p airlock/s -m user-work HEAD^{tree}");
        w.user("update-ref refs/heads/airlock/s " + mine);
        w.agent_commit("b.txt", "2\n");
        auto tip = w.agent("rev-parse HEAD");
        auto r = expect_ok(sync_session_branch(w.p, false));
        CHECK(r.action == SyncAction::refuse_diverged);
        CHECK(w.user("rev-parse airlock/s") == mine);
        r = expect_ok(sync_session_branch(w.p, true));
        CHECK(r.action == SyncAction::force_update);
        CHECK(w.user("rev-parse airlock/s") == tip);
    }
    SUBCASE("the agent rewrote its branch (reset): refused unless --force") {
        w.agent("reset -q --hard " + w.second);
        CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::refuse_diverged);
        CHECK(expect_ok(sync_session_branch(w.p, true)).action == SyncAction::force_update);
        CHECK(w.user("rev-parse airlock/s") == w.second);
    }
    SUBCASE("checked out in the user's work tree: never moved under the user's feet") {
        w.user("checkout -q airlock/s");
        w.agent_commit("c.txt", "3\n");
        auto head = w.user("rev-parse HEAD");
        CHECK(expect_ok(sync_session_branch(w.p, true)).action == SyncAction::refuse_checked_out);
        CHECK(w.user("rev-parse HEAD") == head);
        CHECK(w.user("status --porcelain").empty());
    }
    SUBCASE("the user deleted airlock/s: created again") {
        w.user("branch -D airlock/s");
        CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::create);
        CHECK(w.user("rev-parse airlock/s") == w.agent("rev-parse HEAD"));
    }
    SUBCASE("the agent packed its refs") {
        w.agent_commit("d.txt", "4\n");
        w.agent("pack-refs --all");
        CHECK_FALSE(fs::exists(w.p.git_dir / "refs" / "heads" / "airlock" / "s"));
        CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::fast_forward);
        CHECK(w.user("rev-parse airlock/s") == w.agent("rev-parse HEAD"));
    }
    CHECK(w.user("fsck --strict --no-progress").empty());
}

TEST_CASE("sync_session_branch: what the agent tampers with is refused and changes nothing") {
    World w;
    expect_ok(create_session_repo(w.p, w.second));
    w.agent_commit("a.txt", "1\n");
    const fs::path ref = w.p.git_dir / "refs" / "heads" / "airlock" / "s";
    auto before = w.refs();

    SUBCASE("the branch is a symbolic link to one of the user's refs") {
        fs::remove(ref);
        fs::create_symlink(w.root / ".git" / "refs" / "heads" / "main", ref);
        CHECK(contains(expect_error(sync_session_branch(w.p, true)), "symbolic link"));
    }
    SUBCASE("a directory on the way is a symbolic link") {
        fs::remove_all(w.p.git_dir / "refs" / "heads");
        fs::create_directory_symlink(w.root / ".git" / "refs" / "heads", w.p.git_dir / "refs" / "heads");
        CHECK(contains(expect_error(sync_session_branch(w.p, true)), "symbolic link"));
    }
    SUBCASE("the branch is a symbolic ref") {
        write_text_file(ref, "ref: refs/heads/main\n");
        CHECK(contains(expect_error(sync_session_branch(w.p, true)), "symbolic ref"));
    }
    SUBCASE("the branch names a tree") {
        write_text_file(ref, w.user("rev-parse HEAD^{tree}") + "\n");
        CHECK(contains(expect_error(sync_session_branch(w.p, true)), "not a commit"));
    }
    SUBCASE("the branch names an object that does not exist") {
        write_text_file(ref, std::string(40, '1') + "\n");
        CHECK(contains(expect_error(sync_session_branch(w.p, true)), "not a commit"));
    }
    SUBCASE("the agent deleted its objects") {
        for (const auto& e : fs::directory_iterator(w.p.git_dir / "objects"))
            if (e.path().filename() != "info" && e.path().filename() != "pack") fs::remove_all(e.path());
        CHECK_FALSE(sync_session_branch(w.p, true).ok());
    }
    SUBCASE("the agent deleted the parent of its tip: nothing with a broken history comes across") {
        w.agent_commit("b.txt", "2\n");
        auto parent = w.agent("rev-parse HEAD~1");
        fs::remove(w.p.git_dir / "objects" / parent.substr(0, 2) / parent.substr(2));
        CHECK_FALSE(sync_session_branch(w.p, true).ok());
    }
    SUBCASE("alternates pointing elsewhere are not followed; a commondir file is refused") {
        write_text_file(w.p.git_dir / "objects" / "info" / "alternates", "/nonexistent/objects\n");
        CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::fast_forward);
        before = w.refs();
        write_text_file(w.p.git_dir / "commondir", (w.tmp.path / "evil").string() + "\n");
        CHECK(contains(expect_error(session_has_uncommitted_changes(w.p)), "commondir"));
        CHECK(contains(expect_error(session_diff(w.p, w.second, true)), "commondir"));
        // The branch is read as data, so bringing it across still works.
        CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::up_to_date);
    }
    CHECK(w.refs() == before);
    CHECK(w.user("rev-parse main") == w.second);
    CHECK(w.user("fsck --strict --no-progress").empty());
}

TEST_CASE("the user's gc keeps what the session borrows") {
    World w;
    // A base reachable only from a branch the user deletes afterwards.
    w.user("checkout -q -b topic");
    write_text_file(w.root / "topic.txt", "topic\n");
    w.user("add topic.txt");
    w.user("commit -q -m topic");
    auto topic = w.user("rev-parse HEAD");
    w.user("checkout -q main");
    expect_ok(create_session_repo(w.p, topic));
    w.user("branch -D topic airlock/s");
    w.user("reflog expire --expire=now --all");
    w.user("gc -q --prune=now");
    CHECK(w.user("cat-file -t " + topic) == "commit");  // kept by refs/airlock/s/base
    CHECK(w.agent("fsck --no-progress --connectivity-only").empty());
    w.agent_commit("more.txt", "x\n");
    CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::create);
    CHECK(w.user("show airlock/s:topic.txt") == "topic");
}

TEST_CASE("create_session_repo: errors leave nothing behind") {
    World w;
    auto before = w.refs();
    SUBCASE("existing branch") {
        w.user("branch airlock/s");
        before = w.refs();
        CHECK(contains(expect_error(create_session_repo(w.p, w.first)), "already exists"));
    }
    SUBCASE("unknown base") {
        CHECK(contains(expect_error(create_session_repo(w.p, std::string(40, '1'))), "base commit"));
    }
    SUBCASE("existing worktree directory") {
        write_text_file(w.p.worktree / "keep.txt", "x");
        CHECK(contains(expect_error(create_session_repo(w.p, w.first)), "already exists"));
        CHECK(fs::exists(w.p.worktree / "keep.txt"));
        fs::remove_all(w.p.worktree);
    }
    SUBCASE("a branch that is not the session's") {
        w.p.branch = "main";
        CHECK(contains(expect_error(create_session_repo(w.p, w.first)), "airlock/s"));
    }
    CHECK(w.refs() == before);
    CHECK_FALSE(fs::exists(w.p.git_dir));
    CHECK_FALSE(fs::exists(w.p.worktree));
}

TEST_CASE("remove_session_repo: work tree, repository and keep refs go; the branch stays") {
    World w;
    expect_ok(create_session_repo(w.p, w.first));
    w.agent_commit("a.txt", "1\n");
    expect_ok(sync_session_branch(w.p, false));
    auto tip = w.user("rev-parse airlock/s");
    expect_ok(remove_session_repo(w.p));
    CHECK_FALSE(fs::exists(w.p.worktree));
    CHECK_FALSE(fs::exists(w.p.git_dir));
    CHECK(run_git(w.root, "rev-parse -q --verify refs/airlock/s/base").status != 0);
    CHECK(run_git(w.root, "rev-parse -q --verify refs/airlock/s/tip").status != 0);
    CHECK(w.user("rev-parse airlock/s") == tip);
    expect_ok(remove_session_repo(w.p));  // idempotent

    auto self = w.p;
    self.worktree = w.tmp.path;  // contains the user's repository
    CHECK(contains(expect_error(remove_session_repo(self)), "refusing"));
    CHECK(fs::exists(w.root / "README.md"));
}

TEST_CASE("adopt_linked_worktree: a session of an older airlock keeps its work") {
    World w;
    expect_ok(add_worktree(w.root, "s", w.p.worktree, "airlock/s", w.first));
    write_text_file(w.p.worktree / "done.txt", "done\n");
    run_git_ok(w.p.worktree, "add done.txt");
    run_git_ok(w.p.worktree, "commit -q -m done");
    auto tip = run_git_ok(w.p.worktree, "rev-parse HEAD");
    write_text_file(w.p.worktree / "README.md", "uncommitted\n");
    write_text_file(w.p.worktree / "staged.txt", "staged\n");
    run_git_ok(w.p.worktree, "add staged.txt");

    expect_ok(adopt_linked_worktree(w.p, w.first));
    CHECK_FALSE(fs::exists(w.root / ".git" / "worktrees" / "s"));
    CHECK(read_text_file(w.p.worktree / ".git") == std::string("gitdir: ") + kContainerGitDir + "\n");
    CHECK(w.agent("rev-parse HEAD") == tip);
    auto status = w.agent("status --porcelain");
    CHECK(contains(status, " M README.md"));
    CHECK(contains(status, "A  staged.txt"));
    CHECK(w.user("rev-parse refs/airlock/s/base") == w.first);
    CHECK(expect_ok(sync_session_branch(w.p, false)).action == SyncAction::up_to_date);
    expect_ok(adopt_linked_worktree(w.p, w.first));  // no-op now
}

TEST_CASE("borrowed_object_dirs: the user's objects and their alternates") {
    World w;
    auto clone = w.tmp.path / "clone";
    run_git_ok(w.tmp.path, "clone -q --shared " + shell_quote(w.root.string()) + " " + shell_quote(clone.string()));
    auto dirs = borrowed_object_dirs(clone / ".git");
    REQUIRE(dirs.size() == 2);
    CHECK(dirs[0] == clone / ".git" / "objects");
    CHECK(fs::equivalent(dirs[1], w.root / ".git" / "objects"));
    CHECK(borrowed_object_dirs(w.root / ".git").size() == 1);
}

TEST_CASE("a shallow repository: the session commits and its branch comes back") {
    World w;
    auto shallow = w.tmp.path / "shallow";
    run_git_ok(w.tmp.path, "clone -q --depth 1 file://" + w.root.string() + " " + shell_quote(shallow.string()));
    REQUIRE(fs::exists(shallow / ".git" / "shallow"));
    w.root = shallow;
    w.p.user_git_dir = shallow / ".git";
    expect_ok(create_session_repo(w.p, w.second));
    CHECK(fs::exists(w.p.git_dir / "shallow"));
    w.agent_commit("s.txt", "shallow\n");
    CHECK(w.agent("log --oneline").find("agent: s.txt") != std::string::npos);
    auto r = sync_session_branch(w.p, false);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->action == SyncAction::fast_forward);
    CHECK(w.user("show airlock/s:s.txt") == "shallow");
    CHECK(w.user("fsck --no-dangling --no-progress").empty());
    auto log = session_log(w.p, w.second, 10);
    REQUIRE_MESSAGE(log.ok(), (log.ok() ? "" : log.error().message));
    CHECK(log->total == 1);
    CHECK(contains(expect_ok(session_diff(w.p, w.second, false)), "+shallow"));
}
