#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "session/worktree.hpp"

namespace fs = std::filesystem;
using namespace airlock::session;
using airlock::Result;

namespace {

using airlock::testing::TempDir;

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

struct Run {
    int status;
    std::string out;
};

// Runs `git -C dir <args>` with a fixed identity and no user/system config; output
// includes stderr.
Run git(const fs::path& dir, const std::string& args) {
    std::string cmd = "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
                      "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com "
                      "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com git -C " +
                      quote(dir.string()) + " " + args + " 2>&1";
    Run r{0, {}};
    std::FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string git_ok(const fs::path& dir, const std::string& args) {
    auto r = git(dir, args);
    INFO("git " << args << ": " << r.out);
    REQUIRE(r.status == 0);
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r.out;
}

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << text;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A repository at <tmp>/repo with two commits on main, a tag v1 on the first, a
// .gitignore for *.log and a subdirectory pkg/web.
struct TestRepo {
    TempDir tmp;
    fs::path root;
    std::string first;
    std::string second;
    TestRepo() : root(tmp.path / "repo") {
        fs::create_directories(root);
        git_ok(root, "init -q -b main");
        write_file(root / "README.md", "hello\n");
        write_file(root / ".gitignore", "*.log\n");
        write_file(root / "pkg" / "web" / "index.js", "x\n");
        git_ok(root, "add -A");
        git_ok(root, "commit -q -m first");
        first = git_ok(root, "rev-parse HEAD");
        git_ok(root, "tag -a v1 -m v1");
        write_file(root / "README.md", "hello again\n");
        git_ok(root, "commit -q -am second");
        second = git_ok(root, "rev-parse HEAD");
    }
};

template <class T>
T expect_ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

void expect_ok(const airlock::Status& st) {
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
}

template <class R>
std::string expect_error(const R& r) {
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("discover_repo: root, subdirectory, common git dir, head") {
    TestRepo repo;
    auto info = expect_ok(discover_repo(repo.root));
    CHECK(info.root == repo.root);
    CHECK(info.common_git_dir == repo.root / ".git");
    CHECK(info.subdir.empty());
    CHECK(info.head_commit == repo.second);

    auto sub = expect_ok(discover_repo(repo.root / "pkg" / "web"));
    CHECK(sub.root == repo.root);
    CHECK(sub.subdir == fs::path("pkg/web"));
    CHECK(sub.common_git_dir == repo.root / ".git");

    // A relative path works too.
    auto cwd = fs::current_path();
    fs::current_path(repo.root / "pkg");
    auto rel = discover_repo(".");
    fs::current_path(cwd);
    CHECK(expect_ok(std::move(rel)).subdir == fs::path("pkg"));
}

TEST_CASE("discover_repo: errors") {
    TempDir tmp;
    auto plain = tmp.path / "plain";
    fs::create_directories(plain);
    auto msg = expect_error(discover_repo(plain));
    CHECK(msg == "'" + plain.string() +
                     "' is not inside a git repository; run airlock from a repository or pass "
                     "--repo");

    CHECK(contains(expect_error(discover_repo(tmp.path / "missing")), "does not exist"));

    auto empty = tmp.path / "empty";
    fs::create_directories(empty);
    git_ok(empty, "init -q -b main");
    msg = expect_error(discover_repo(empty));
    CHECK(contains(msg, "has no commits yet; commit something first"));

    auto bare = tmp.path / "bare.git";
    fs::create_directories(bare);
    git_ok(bare, "init -q --bare -b main");
    CHECK(contains(expect_error(discover_repo(bare)), "is bare"));

    TestRepo repo;
    CHECK(contains(expect_error(discover_repo(repo.root / ".git" / "refs")),
                   "inside the git directory"));
}

TEST_CASE("resolve_base: branch, tag, sha, HEAD, unknown") {
    TestRepo repo;
    git_ok(repo.root, "branch feature " + repo.first);
    CHECK(expect_ok(resolve_base(repo.root, "")) == repo.second);
    CHECK(expect_ok(resolve_base(repo.root, "HEAD")) == repo.second);
    CHECK(expect_ok(resolve_base(repo.root, "main")) == repo.second);
    CHECK(expect_ok(resolve_base(repo.root, "feature")) == repo.first);
    CHECK(expect_ok(resolve_base(repo.root, "v1")) == repo.first);  // annotated tag, peeled
    CHECK(expect_ok(resolve_base(repo.root, repo.first)) == repo.first);
    CHECK(expect_ok(resolve_base(repo.root, repo.first.substr(0, 8))) == repo.first);
    CHECK(expect_ok(resolve_base(repo.root, "HEAD~1")) == repo.first);

    auto msg = expect_error(resolve_base(repo.root, "no-such-branch"));
    CHECK(contains(msg, "--base 'no-such-branch'"));
    CHECK(contains(msg, repo.root.string()));

    auto tree = git_ok(repo.root, "rev-parse HEAD^{tree}");
    CHECK(contains(expect_error(resolve_base(repo.root, tree)), "does not name a commit"));
}

TEST_CASE("add_worktree: a linked worktree git sees, with absolute links") {
    TestRepo repo;
    auto home = repo.tmp.path / "home";
    auto wt_path = home / "worktrees" / "fix-k3x9";
    auto wt = expect_ok(add_worktree(repo.root, "fix-k3x9", wt_path, "airlock/fix-k3x9",
                                     repo.first));
    CHECK(wt.name == "fix-k3x9");
    CHECK(wt.path == wt_path);
    CHECK(wt.branch == "airlock/fix-k3x9");
    CHECK(wt.base_commit == repo.first);
    CHECK(wt.git_dir == repo.root / ".git" / "worktrees" / "fix-k3x9");

    // Checked out at the base commit, on the branch.
    CHECK(read_file(wt_path / "README.md") == "hello\n");
    CHECK(git_ok(wt_path, "rev-parse --abbrev-ref HEAD") == "airlock/fix-k3x9");
    CHECK(git_ok(wt_path, "rev-parse HEAD") == repo.first);
    CHECK(git_ok(wt_path, "status --porcelain").empty());

    // The .git file and the back link are absolute, so the container can mount the
    // common git dir at the same path.
    // (libgit2 writes the directory with a trailing '/'; git reads both.)
    auto dotgit = read_file(wt_path / ".git");
    CHECK((dotgit == "gitdir: " + wt.git_dir.string() + "\n" ||
           dotgit == "gitdir: " + wt.git_dir.string() + "/\n"));
    auto back = read_file(wt.git_dir / "gitdir");
    CHECK(back.rfind((wt_path / ".git").string(), 0) == 0);

    // git worktree list shows both.
    auto list = git_ok(repo.root, "worktree list --porcelain");
    CHECK(contains(list, "worktree " + repo.root.string()));
    CHECK(contains(list, "worktree " + wt_path.string()));
    CHECK(contains(list, "branch refs/heads/airlock/fix-k3x9"));

    // A commit made in the worktree with the git CLI lands on the branch.
    write_file(wt_path / "new.txt", "from the agent\n");
    git_ok(wt_path, "add new.txt");
    git_ok(wt_path, "commit -q -m agent-work");
    auto head = git_ok(wt_path, "rev-parse HEAD");
    CHECK(git_ok(repo.root, "rev-parse airlock/fix-k3x9") == head);
    CHECK(expect_ok(branch_head(repo.root, "airlock/fix-k3x9")) == head);
    CHECK(git_ok(repo.root, "rev-parse main") == repo.second);  // main untouched
    CHECK(git_ok(repo.root, "status --porcelain").empty());

    // Remove: directory and metadata gone, git sees only the main worktree.
    expect_ok(remove_worktree(repo.root, "fix-k3x9", wt_path));
    CHECK_FALSE(fs::exists(wt_path));
    CHECK_FALSE(fs::exists(wt.git_dir));
    list = git_ok(repo.root, "worktree list --porcelain");
    CHECK_FALSE(contains(list, wt_path.string()));
    CHECK(git_ok(repo.root, "worktree list").find('\n') == std::string::npos);  // one line
    CHECK(git_ok(repo.root, "worktree prune --dry-run -v").empty());
    // The branch (and the agent's commit) survive until deleted.
    CHECK(expect_ok(branch_head(repo.root, "airlock/fix-k3x9")) == head);
    expect_ok(delete_branch(repo.root, "airlock/fix-k3x9"));
    CHECK(contains(expect_error(branch_head(repo.root, "airlock/fix-k3x9")),
                   "no branch 'airlock/fix-k3x9'"));
    CHECK(git(repo.root, "rev-parse --verify -q refs/heads/airlock/fix-k3x9").status != 0);

    // Both are idempotent.
    expect_ok(remove_worktree(repo.root, "fix-k3x9", wt_path));
    expect_ok(delete_branch(repo.root, "airlock/fix-k3x9"));

    // The same name can be used again after cleanup.
    expect_ok(add_worktree(repo.root, "fix-k3x9", wt_path, "airlock/fix-k3x9", repo.second));
    CHECK(read_file(wt_path / "README.md") == "hello again\n");
    expect_ok(remove_worktree(repo.root, "fix-k3x9", wt_path));
    expect_ok(delete_branch(repo.root, "airlock/fix-k3x9"));
}

TEST_CASE("add_worktree: from a subdirectory's repo root, with the git CLI's own worktree") {
    // A repository whose user already has a CLI-made linked worktree: ours coexists.
    TestRepo repo;
    git_ok(repo.root, "worktree add -q " + quote((repo.tmp.path / "mine").string()) +
                          " -b mine");
    auto info = expect_ok(discover_repo(repo.tmp.path / "mine" / "pkg"));
    CHECK(info.root == repo.tmp.path / "mine");
    CHECK(info.common_git_dir == repo.root / ".git");
    CHECK(info.subdir == fs::path("pkg"));
    auto wt_path = repo.tmp.path / "wt" / "s1";
    auto wt = expect_ok(add_worktree(info.root, "s1", wt_path, "airlock/s1", info.head_commit));
    CHECK(wt.git_dir == repo.root / ".git" / "worktrees" / "s1");
    CHECK(git_ok(wt_path, "rev-parse --abbrev-ref HEAD") == "airlock/s1");
    expect_ok(remove_worktree(info.root, "s1", wt_path));
    expect_ok(delete_branch(info.root, "airlock/s1"));
    auto list = git_ok(repo.root, "worktree list");
    CHECK(contains(list, (repo.tmp.path / "mine").string()));
    CHECK_FALSE(contains(list, wt_path.string()));
}

TEST_CASE("add_worktree: errors leave nothing behind") {
    TestRepo repo;
    auto wt_path = repo.tmp.path / "worktrees" / "s";

    SUBCASE("existing branch") {
        git_ok(repo.root, "branch airlock/s");
        auto msg = expect_error(add_worktree(repo.root, "s", wt_path, "airlock/s", repo.first));
        CHECK(contains(msg, "the branch 'airlock/s' already exists"));
        CHECK(contains(msg, "--name"));
        CHECK_FALSE(fs::exists(wt_path));
        CHECK(git_ok(repo.root, "rev-parse airlock/s") == repo.second);  // untouched
    }
    SUBCASE("unknown base commit") {
        auto msg = expect_error(add_worktree(repo.root, "s", wt_path, "airlock/s",
                                             "0000000000000000000000000000000000000001"));
        CHECK(contains(msg, "base commit"));
        CHECK(git(repo.root, "rev-parse --verify -q refs/heads/airlock/s").status != 0);
    }
    SUBCASE("existing directory with files") {
        write_file(wt_path / "keep.txt", "x");
        auto msg = expect_error(add_worktree(repo.root, "s", wt_path, "airlock/s", repo.first));
        CHECK(contains(msg, "already exists"));
        CHECK(read_file(wt_path / "keep.txt") == "x");
        CHECK(git(repo.root, "rev-parse --verify -q refs/heads/airlock/s").status != 0);
    }
    SUBCASE("an existing empty directory is fine") {
        fs::create_directories(wt_path);
        expect_ok(add_worktree(repo.root, "s", wt_path, "airlock/s", repo.first));
        CHECK(fs::exists(wt_path / "README.md"));
    }
    SUBCASE("worktree name git already knows") {
        expect_ok(add_worktree(repo.root, "s", wt_path, "airlock/s", repo.first));
        auto msg = expect_error(
            add_worktree(repo.root, "s", repo.tmp.path / "other", "airlock/other", repo.first));
        CHECK(contains(msg, "already has a worktree named 's'"));
        CHECK_FALSE(fs::exists(repo.tmp.path / "other"));
        CHECK(git(repo.root, "rev-parse --verify -q refs/heads/airlock/other").status != 0);
    }
    SUBCASE("invalid branch and worktree names") {
        CHECK(contains(expect_error(add_worktree(repo.root, "s", wt_path, "airlock/a..b",
                                                 repo.first)),
                       "not a valid git branch name"));
        CHECK(contains(expect_error(add_worktree(repo.root, "../x", wt_path, "airlock/x",
                                                 repo.first)),
                       "cannot name a git worktree"));
        CHECK_FALSE(fs::exists(wt_path));
    }
    SUBCASE("not a repository") {
        CHECK(contains(expect_error(add_worktree(repo.tmp.path, "s", wt_path, "airlock/s",
                                                 repo.first)),
                       "could not open the git repository"));
    }
}

TEST_CASE("delete_branch refuses a checked-out branch") {
    TestRepo repo;
    auto wt_path = repo.tmp.path / "w";
    expect_ok(add_worktree(repo.root, "w", wt_path, "airlock/w", repo.first));
    auto msg = expect_error(delete_branch(repo.root, "airlock/w"));
    CHECK(contains(msg, "remove that worktree first"));
    expect_ok(remove_worktree(repo.root, "w", wt_path));
    expect_ok(delete_branch(repo.root, "airlock/w"));
}

TEST_CASE("remove_worktree: finishes an interrupted delete, refuses the repository itself") {
    TestRepo repo;
    auto wt_path = repo.tmp.path / "w";
    expect_ok(add_worktree(repo.root, "w", wt_path, "airlock/w", repo.first));

    SUBCASE("directory already gone") {
        fs::remove_all(wt_path);
        expect_ok(remove_worktree(repo.root, "w", wt_path));
        CHECK_FALSE(fs::exists(repo.root / ".git" / "worktrees" / "w"));
        CHECK_FALSE(contains(git_ok(repo.root, "worktree list"), wt_path.string()));
    }
    SUBCASE("metadata already gone") {
        fs::remove_all(repo.root / ".git" / "worktrees" / "w");
        expect_ok(remove_worktree(repo.root, "w", wt_path));
        CHECK_FALSE(fs::exists(wt_path));
    }
    SUBCASE("the repository itself") {
        CHECK(contains(expect_error(remove_worktree(repo.root, "w", repo.root)), "refusing"));
        CHECK(contains(expect_error(remove_worktree(repo.root, "w", repo.tmp.path)),
                       "refusing"));
        CHECK(fs::exists(repo.root / "README.md"));
        expect_ok(remove_worktree(repo.root, "w", wt_path));
    }
    SUBCASE("locked worktree") {
        git_ok(repo.root, "worktree lock " + quote(wt_path.string()));
        expect_ok(remove_worktree(repo.root, "w", wt_path));
        CHECK_FALSE(fs::exists(repo.root / ".git" / "worktrees" / "w"));
    }
    expect_ok(delete_branch(repo.root, "airlock/w"));
    CHECK(git_ok(repo.root, "worktree list").find('\n') == std::string::npos);
}

TEST_CASE("has_uncommitted_changes: modified, staged, untracked, ignored") {
    TestRepo repo;
    auto wt_path = repo.tmp.path / "w";
    expect_ok(add_worktree(repo.root, "w", wt_path, "airlock/w", repo.second));
    CHECK_FALSE(expect_ok(has_uncommitted_changes(wt_path)));

    SUBCASE("ignored files do not count") {
        write_file(wt_path / "debug.log", "noise");
        CHECK_FALSE(expect_ok(has_uncommitted_changes(wt_path)));
    }
    SUBCASE("modified") {
        write_file(wt_path / "README.md", "changed\n");
        CHECK(expect_ok(has_uncommitted_changes(wt_path)));
    }
    SUBCASE("staged") {
        write_file(wt_path / "README.md", "changed\n");
        git_ok(wt_path, "add README.md");
        CHECK(expect_ok(has_uncommitted_changes(wt_path)));
    }
    SUBCASE("untracked, in a new directory") {
        write_file(wt_path / "newdir" / "deep" / "file.txt", "x");
        CHECK(expect_ok(has_uncommitted_changes(wt_path)));
    }
    SUBCASE("deleted") {
        fs::remove(wt_path / "README.md");
        CHECK(expect_ok(has_uncommitted_changes(wt_path)));
    }
    SUBCASE("committed work is not uncommitted") {
        write_file(wt_path / "README.md", "changed\n");
        git_ok(wt_path, "commit -q -am done");
        CHECK_FALSE(expect_ok(has_uncommitted_changes(wt_path)));
    }
    expect_ok(remove_worktree(repo.root, "w", wt_path));
    expect_ok(delete_branch(repo.root, "airlock/w"));

    CHECK_FALSE(has_uncommitted_changes(repo.tmp.path / "nowhere").ok());
}

TEST_CASE("resolve_base: the suggested command quotes the user's text, so pasting it runs nothing else") {
    TestRepo repo;
    auto msg = expect_error(resolve_base(repo.root, "x'; touch pwned; echo '"));
    CHECK(contains(msg, "rev-parse --verify 'x'\\''; touch pwned; echo '\\'''"));
    auto suggested = msg.substr(msg.find("git -C "));
    auto r = git(repo.root, suggested.substr(std::string("git -C ").size() + quote(repo.root.string()).size() + 1));
    CHECK(r.status != 0);
    CHECK_FALSE(fs::exists(repo.root / "pwned"));
}

TEST_CASE("is_merged: HEAD and its ancestors are merged, a commit off to the side is not") {
    TestRepo repo;
    CHECK(expect_ok(is_merged(repo.root, repo.second)));
    CHECK(expect_ok(is_merged(repo.root, repo.first)));
    git_ok(repo.root, "checkout -q -b side " + repo.first);
    write_file(repo.root / "side.txt", "side\n");
    git_ok(repo.root, "add side.txt");
    git_ok(repo.root, "commit -q -m side");
    auto side = git_ok(repo.root, "rev-parse HEAD");
    git_ok(repo.root, "checkout -q main");
    CHECK_FALSE(expect_ok(is_merged(repo.root, side)));
    git_ok(repo.root, "merge -q --no-edit side");
    CHECK(expect_ok(is_merged(repo.root, side)));
    CHECK_FALSE(is_merged(repo.root, "not-a-sha").ok());
}
