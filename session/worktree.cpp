#include "session/worktree.hpp"

#include <memory>
#include <mutex>
#include <system_error>

#include <fmt/format.h>
#include <git2.h>

namespace airlock::session {

namespace fs = std::filesystem;

namespace {

// libgit2 is initialized once per process and never shut down: its global state is
// shared by every caller, and shutting down while another thread uses it is unsafe.
void ensure_libgit2() {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

struct RepoFree {
    void operator()(git_repository* p) const noexcept { git_repository_free(p); }
};
struct RefFree {
    void operator()(git_reference* p) const noexcept { git_reference_free(p); }
};
struct ObjectFree {
    void operator()(git_object* p) const noexcept { git_object_free(p); }
};
struct CommitFree {
    void operator()(git_commit* p) const noexcept { git_commit_free(p); }
};
struct WorktreeFree {
    void operator()(git_worktree* p) const noexcept { git_worktree_free(p); }
};
struct StatusListFree {
    void operator()(git_status_list* p) const noexcept { git_status_list_free(p); }
};
struct BufDispose {
    void operator()(git_buf* b) const noexcept { git_buf_dispose(b); }
};
using RepoPtr = std::unique_ptr<git_repository, RepoFree>;
using RefPtr = std::unique_ptr<git_reference, RefFree>;
using ObjectPtr = std::unique_ptr<git_object, ObjectFree>;
using CommitPtr = std::unique_ptr<git_commit, CommitFree>;
using WorktreePtr = std::unique_ptr<git_worktree, WorktreeFree>;
using StatusListPtr = std::unique_ptr<git_status_list, StatusListFree>;

// libgit2's message for the last failure on this thread.
std::string git_message() {
    const git_error* e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

// One shell word: 'text' with every ' as '\'' (for commands we suggest to the user).
std::string shell_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

// "/repo/.git/" -> "/repo/.git" (libgit2 reports directories with a trailing '/').
fs::path dir_path(const char* p) {
    std::string s = p ? p : "";
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return fs::path(s);
}

std::string oid_hex(const git_oid& oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, &oid);
    return buf;
}

// Opens the repository whose work tree (or git dir) is exactly `path`.
Result<RepoPtr> open_repo(const fs::path& path) {
    ensure_libgit2();
    git_repository* raw = nullptr;
    int rc = git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    RepoPtr repo(raw);
    if (rc == GIT_EOWNER) {
        return make_error(fmt::format(
            "the git repository {} is owned by another user: {}; if you trust it, run "
            "'git config --global --add safe.directory {}'",
            path.string(), git_message(), path.string()));
    }
    if (rc != 0) {
        return make_error(
            fmt::format("could not open the git repository {}: {}", path.string(), git_message()));
    }
    return repo;
}

// A worktree name is one path component under <common git dir>/worktrees/.
Status check_worktree_name(std::string_view name) {
    if (name.empty() || name == "." || name == ".." ||
        name.find_first_of("/\\") != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
        return make_error(fmt::format(
            "'{}' cannot name a git worktree; use a session name (a-z, 0-9 and '-')", name));
    }
    return {};
}

}  // namespace

Result<RepoInfo> discover_repo(const fs::path& path) {
    ensure_libgit2();
    std::error_code ec;
    fs::path abs = fs::absolute(path, ec);
    if (ec) abs = path;
    if (!fs::exists(abs, ec)) {
        return make_error(fmt::format("'{}' does not exist; run airlock from a repository or pass "
                                      "--repo with an existing directory",
                                      abs.string()));
    }
    if (!fs::is_directory(abs, ec)) {
        return make_error(fmt::format("'{}' is not a directory; pass --repo with the "
                                      "repository's directory",
                                      abs.string()));
    }

    git_buf found = GIT_BUF_INIT;
    std::unique_ptr<git_buf, BufDispose> found_guard(&found);
    int rc = git_repository_discover(&found, abs.c_str(), 0, nullptr);
    if (rc == GIT_ENOTFOUND) {
        return make_error(fmt::format(
            "'{}' is not inside a git repository; run airlock from a repository or pass --repo",
            abs.string()));
    }
    if (rc != 0) {
        return make_error(fmt::format("could not look for a git repository at '{}': {}",
                                      abs.string(), git_message()));
    }
    auto repo = open_repo(dir_path(found.ptr));
    if (!repo) return repo.error();
    git_repository* r = repo->get();

    if (git_repository_is_bare(r)) {
        return make_error(fmt::format(
            "the git repository at '{}' is bare (it has no work tree); airlock needs a "
            "checked-out repository: clone it and run airlock there",
            dir_path(git_repository_path(r)).string()));
    }
    RepoInfo info;
    info.root = dir_path(git_repository_workdir(r));
    info.common_git_dir = dir_path(git_repository_commondir(r));

    fs::path canon_path = fs::weakly_canonical(abs, ec);
    if (ec) canon_path = abs.lexically_normal();
    fs::path canon_root = fs::weakly_canonical(info.root, ec);
    if (ec) canon_root = info.root;
    fs::path rel = canon_path.lexically_relative(canon_root);
    if (rel.empty() || *rel.begin() == "..") {
        return make_error(fmt::format(
            "'{}' is inside the git directory of {}, not its work tree; run airlock from the "
            "work tree",
            abs.string(), info.root.string()));
    }
    if (rel == ".") rel.clear();
    if (!rel.empty() && *rel.begin() == ".git") {
        return make_error(fmt::format(
            "'{}' is inside the git directory of {}, not its work tree; run airlock from the "
            "work tree",
            abs.string(), info.root.string()));
    }
    info.subdir = rel;

    int unborn = git_repository_head_unborn(r);
    if (unborn == 1) {
        return make_error(fmt::format(
            "the repository {} has no commits yet; commit something first", info.root.string()));
    }
    git_oid head{};
    if (unborn < 0 || git_reference_name_to_id(&head, r, "HEAD") != 0) {
        return make_error(fmt::format("could not read HEAD of the repository {}: {}",
                                      info.root.string(), git_message()));
    }
    info.head_commit = oid_hex(head);
    return info;
}

Result<std::string> resolve_base(const fs::path& repo_root, std::string_view ref) {
    auto repo = open_repo(repo_root);
    if (!repo) return repo.error();
    const std::string spec = ref.empty() ? "HEAD" : std::string(ref);
    git_object* raw = nullptr;
    int rc = git_revparse_single(&raw, repo->get(), spec.c_str());
    ObjectPtr obj(raw);
    if (rc != 0) {
        return make_error(fmt::format(
            "--base '{}' is not a branch, tag or commit in {}: {}; check the name with "
            "git -C {} rev-parse --verify {}",
            spec, repo_root.string(), git_message(), shell_quote(repo_root.string()), shell_quote(spec)));
    }
    git_object* peeled_raw = nullptr;
    rc = git_object_peel(&peeled_raw, obj.get(), GIT_OBJECT_COMMIT);
    ObjectPtr peeled(peeled_raw);
    if (rc != 0) {
        return make_error(fmt::format("--base '{}' in {} does not name a commit (it is a {}); "
                                      "give a branch, tag or commit",
                                      spec, repo_root.string(),
                                      git_object_type2string(git_object_type(obj.get()))));
    }
    return oid_hex(*git_object_id(peeled.get()));
}

Result<Worktree> add_worktree(const fs::path& repo_root, std::string_view name,
                              const fs::path& worktree_path, std::string_view branch,
                              std::string_view base_commit) {
    if (auto st = check_worktree_name(name); !st) return st.error();
    const std::string name_s(name);
    const std::string branch_s(branch);
    ensure_libgit2();

    int valid = 0;
    if (git_branch_name_is_valid(&valid, branch_s.c_str()) != 0 || !valid) {
        return make_error(fmt::format("'{}' is not a valid git branch name", branch_s));
    }

    std::error_code ec;
    fs::path wt_path = fs::absolute(worktree_path, ec).lexically_normal();
    if (ec) wt_path = worktree_path;
    while (!wt_path.has_filename() && wt_path.has_parent_path() &&
           wt_path != wt_path.root_path()) {
        wt_path = wt_path.parent_path();  // "/a/b/" -> "/a/b"
    }
    if (fs::exists(fs::symlink_status(wt_path, ec))) {
        if (!fs::is_directory(fs::symlink_status(wt_path, ec)) || !fs::is_empty(wt_path, ec)) {
            return make_error(fmt::format(
                "{} already exists; a session's worktree must be a new directory: delete the "
                "old session with 'airlock delete {}' or remove the directory",
                wt_path.string(), name_s));
        }
        fs::remove(wt_path, ec);  // an empty directory: libgit2 creates it itself
    }

    auto repo = open_repo(repo_root);
    if (!repo) return repo.error();
    git_repository* r = repo->get();

    Worktree out;
    out.name = name_s;
    out.path = wt_path;
    out.branch = branch_s;
    out.git_dir = dir_path(git_repository_commondir(r)) / "worktrees" / name_s;

    {
        git_worktree* existing = nullptr;
        int rc = git_worktree_lookup(&existing, r, name_s.c_str());
        WorktreePtr guard(existing);
        if (rc == 0 || fs::exists(out.git_dir, ec)) {
            return make_error(fmt::format(
                "git already has a worktree named '{}' ({}); remove it with 'git -C {} "
                "worktree remove --force {}' (or 'git worktree prune' if its directory is "
                "gone), or pick another --name",
                name_s, out.git_dir.string(), repo_root.string(), name_s));
        }
    }

    git_object* base_raw = nullptr;
    const std::string base_s(base_commit);
    if (git_revparse_single(&base_raw, r, base_s.c_str()) != 0) {
        return make_error(fmt::format("base commit '{}' is not in {}: {}", base_s,
                                      repo_root.string(), git_message()));
    }
    ObjectPtr base_obj(base_raw);
    git_object* commit_raw = nullptr;
    if (git_object_peel(&commit_raw, base_obj.get(), GIT_OBJECT_COMMIT) != 0) {
        return make_error(fmt::format("base '{}' in {} is not a commit: {}", base_s,
                                      repo_root.string(), git_message()));
    }
    CommitPtr commit(reinterpret_cast<git_commit*>(commit_raw));
    out.base_commit = oid_hex(*git_commit_id(commit.get()));

    git_reference* ref_raw = nullptr;
    int rc = git_branch_create(&ref_raw, r, branch_s.c_str(), commit.get(), 0);
    RefPtr ref(ref_raw);
    if (rc == GIT_EEXISTS) {
        return make_error(fmt::format(
            "the branch '{}' already exists in {}; pick another --name, or delete the branch "
            "with 'git -C {} branch -D {}' if you no longer need it",
            branch_s, repo_root.string(), repo_root.string(), branch_s));
    }
    if (rc != 0) {
        return make_error(fmt::format("could not create the branch '{}' in {}: {}", branch_s,
                                      repo_root.string(), git_message()));
    }

    auto undo_branch = [&] {
        ref.reset();
        git_reference* again = nullptr;
        if (git_branch_lookup(&again, r, branch_s.c_str(), GIT_BRANCH_LOCAL) == 0) {
            RefPtr g(again);
            git_branch_delete(again);
        }
    };

    if (wt_path.has_parent_path()) {
        fs::create_directories(wt_path.parent_path(), ec);
        if (ec) {
            undo_branch();
            return make_error(fmt::format("could not create {}: {}",
                                          wt_path.parent_path().string(), ec.message()));
        }
    }

    git_worktree_add_options opts;
    git_worktree_add_options_init(&opts, GIT_WORKTREE_ADD_OPTIONS_VERSION);
    opts.ref = ref.get();
    git_worktree* wt_raw = nullptr;
    rc = git_worktree_add(&wt_raw, r, name_s.c_str(), wt_path.c_str(), &opts);
    WorktreePtr wt(wt_raw);
    if (rc != 0) {
        std::string why = git_message();
        wt.reset();
        fs::remove_all(out.git_dir, ec);
        fs::remove_all(wt_path, ec);
        undo_branch();
        return make_error(fmt::format("could not create the worktree {} for branch '{}': {}",
                                      wt_path.string(), branch_s, why));
    }
    return out;
}

Status remove_worktree(const fs::path& repo_root, std::string_view name,
                       const fs::path& worktree_path) {
    if (auto st = check_worktree_name(name); !st) return st;
    const std::string name_s(name);
    auto repo = open_repo(repo_root);
    if (!repo) return repo.error();
    git_repository* r = repo->get();

    std::error_code ec;
    fs::path wt_path = fs::absolute(worktree_path, ec).lexically_normal();
    if (ec) wt_path = worktree_path;
    const fs::path root = dir_path(git_repository_workdir(r));
    const fs::path common = dir_path(git_repository_commondir(r));

    if (fs::exists(fs::symlink_status(wt_path, ec))) {
        auto same = [&](const fs::path& a, const fs::path& b) {
            std::error_code e2;
            return fs::equivalent(a, b, e2);
        };
        if (wt_path == wt_path.root_path() || same(wt_path, root) || same(wt_path, common) ||
            (!root.empty() && fs::exists(root, ec) &&
             fs::weakly_canonical(root, ec).string().starts_with(
                 fs::weakly_canonical(wt_path, ec).string() + "/"))) {
            return make_error(fmt::format(
                "refusing to delete {}: it is (or contains) the repository {} itself, not a "
                "session worktree",
                wt_path.string(), root.string()));
        }
        fs::remove_all(wt_path, ec);
        if (ec) {
            return make_error(fmt::format(
                "could not delete the worktree directory {}: {}; files created in the container "
                "may belong to another user: remove it by hand (e.g. with sudo) and run the "
                "delete again",
                wt_path.string(), ec.message()));
        }
    }

    git_worktree* wt_raw = nullptr;
    int rc = git_worktree_lookup(&wt_raw, r, name_s.c_str());
    WorktreePtr wt(wt_raw);
    if (rc == 0) {
        git_worktree_prune_options opts;
        git_worktree_prune_options_init(&opts, GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
        opts.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED;
        if (git_worktree_prune(wt.get(), &opts) != 0) {
            return make_error(fmt::format(
                "could not remove git's record of the worktree '{}' in {}: {}; run 'git -C {} "
                "worktree prune'",
                name_s, common.string(), git_message(), root.string()));
        }
    }
    // Whatever libgit2 did not recognise as a worktree (half-written metadata) goes too.
    const fs::path meta = common / "worktrees" / name_s;
    if (fs::exists(fs::symlink_status(meta, ec))) {
        fs::remove_all(meta, ec);
        if (ec) {
            return make_error(fmt::format("could not delete {}: {}; run 'git -C {} worktree prune'",
                                          meta.string(), ec.message(), root.string()));
        }
    }
    return {};
}

Status delete_branch(const fs::path& repo_root, std::string_view branch) {
    auto repo = open_repo(repo_root);
    if (!repo) return repo.error();
    const std::string branch_s(branch);
    git_reference* raw = nullptr;
    int rc = git_branch_lookup(&raw, repo->get(), branch_s.c_str(), GIT_BRANCH_LOCAL);
    RefPtr ref(raw);
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) return {};
    if (rc != 0) {
        return make_error(fmt::format("could not look up the branch '{}' in {}: {}", branch_s,
                                      repo_root.string(), git_message()));
    }
    if (git_branch_delete(ref.get()) != 0) {
        return make_error(fmt::format(
            "could not delete the branch '{}' in {}: {}; if it is checked out in a worktree, "
            "remove that worktree first",
            branch_s, repo_root.string(), git_message()));
    }
    return {};
}

Result<bool> has_uncommitted_changes(const fs::path& worktree_path) {
    auto repo = open_repo(worktree_path);
    if (!repo) return repo.error();
    if (git_repository_is_bare(repo->get())) {
        return make_error(
            fmt::format("{} is a bare repository, not a worktree", worktree_path.string()));
    }
    git_status_options opts;
    git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED;  // ignored files are left out
    git_status_list* raw = nullptr;
    if (git_status_list_new(&raw, repo->get(), &opts) != 0) {
        return make_error(fmt::format("could not read the status of {}: {}",
                                      worktree_path.string(), git_message()));
    }
    StatusListPtr list(raw);
    return git_status_list_entrycount(list.get()) > 0;
}

Result<std::string> branch_head(const fs::path& repo_root, std::string_view branch) {
    auto repo = open_repo(repo_root);
    if (!repo) return repo.error();
    const std::string branch_s(branch);
    git_reference* raw = nullptr;
    int rc = git_branch_lookup(&raw, repo->get(), branch_s.c_str(), GIT_BRANCH_LOCAL);
    RefPtr ref(raw);
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) {
        return make_error(fmt::format("there is no branch '{}' in {}", branch_s,
                                      repo_root.string()));
    }
    if (rc != 0) {
        return make_error(fmt::format("could not look up the branch '{}' in {}: {}", branch_s,
                                      repo_root.string(), git_message()));
    }
    git_object* obj_raw = nullptr;
    if (git_reference_peel(&obj_raw, ref.get(), GIT_OBJECT_COMMIT) != 0) {
        return make_error(fmt::format("the branch '{}' in {} does not point to a commit: {}",
                                      branch_s, repo_root.string(), git_message()));
    }
    ObjectPtr obj(obj_raw);
    return oid_hex(*git_object_id(obj.get()));
}

}  // namespace airlock::session

namespace airlock::session {

Result<bool> is_merged(const fs::path& repo_root, std::string_view commit) {
    auto repo = open_repo(repo_root);
    if (!repo) return repo.error();
    git_oid target{};
    const std::string commit_s(commit);
    if (git_oid_fromstr(&target, commit_s.c_str()) != 0)
        return make_error(fmt::format("'{}' is not a commit id", commit_s));
    git_reference* raw = nullptr;
    if (git_repository_head(&raw, repo->get()) != 0) return false;  // unborn or detached oddly: not merged
    RefPtr head(raw);
    git_object* obj_raw = nullptr;
    if (git_reference_peel(&obj_raw, head.get(), GIT_OBJECT_COMMIT) != 0) return false;
    ObjectPtr obj(obj_raw);
    const git_oid* head_id = git_object_id(obj.get());
    if (git_oid_equal(head_id, &target)) return true;
    int rc = git_graph_descendant_of(repo->get(), head_id, &target);
    if (rc < 0)
        return make_error(fmt::format("could not compare '{}' with HEAD in {}: {}", commit_s, repo_root.string(),
                                      git_message()));
    return rc == 1;
}

}  // namespace airlock::session
