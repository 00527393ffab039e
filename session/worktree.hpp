#pragma once
// Git for sessions, through libgit2: find the user's repository, resolve the base
// commit, and give each session a linked worktree on its own branch airlock/<name>.
//
// Every path written into git metadata is absolute, so a container that mounts the
// common git directory at the same path (and the worktree anywhere) sees a working
// repository: <worktree>/.git says "gitdir: <common git dir>/worktrees/<name>".
//
// Thread-safety: the functions share no state (libgit2 is initialized once, thread-
// safely); do not run two of them on the same repository at once.

#include <filesystem>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::session {

struct RepoInfo {
    std::filesystem::path root;            // the work tree of the repository, absolute
    std::filesystem::path common_git_dir;  // absolute, e.g. /repo/.git (shared by worktrees)
    std::filesystem::path subdir;          // where `path` is, relative to root; "" = root
    std::string head_commit;               // full hex id of HEAD
};

struct Worktree {
    std::string name;                // the worktree's name in git (= the session name)
    std::filesystem::path path;      // its directory, absolute
    std::filesystem::path git_dir;   // <common git dir>/worktrees/<name>
    std::string branch;              // e.g. "airlock/fix-the-test-k3x9"
    std::string base_commit;         // full hex id the branch was created at
};

// The repository containing `path` (a directory; it may itself be a linked worktree,
// then root is that worktree and common_git_dir the main repository's git dir).
// Errors: `path` does not exist; it is not inside a git repository ("'/x' is not inside a
// git repository; run airlock from a repository or pass --repo"); the repository is bare;
// `path` is inside the .git directory; the repository has no commits yet.
Result<RepoInfo> discover_repo(const std::filesystem::path& path);

// The commit `ref` names in the repository at `repo_root`: a branch, a remote branch, a
// tag (peeled to its commit), a full or abbreviated sha, or anything git rev-parse takes
// ("HEAD~2"). "" means HEAD. Returns the full hex id. Error names the ref.
Result<std::string> resolve_base(const std::filesystem::path& repo_root, std::string_view ref);

// Creates the branch `branch` (e.g. "airlock/<name>") at `base_commit` and a linked
// worktree named `name` at `worktree_path` with that branch checked out. The parent of
// worktree_path is created if needed; worktree_path itself must not exist (or be an
// empty directory). Errors name what is in the way: an invalid branch name, a branch
// that exists ("delete it or pick another --name"), a worktree `name` that git already
// knows, an existing worktree_path, an unknown base commit. On failure nothing is left
// behind (the branch is deleted again).
Result<Worktree> add_worktree(const std::filesystem::path& repo_root, std::string_view name,
                              const std::filesystem::path& worktree_path,
                              std::string_view branch, std::string_view base_commit);

// Deletes the directory worktree_path (everything in it, uncommitted work included: ask
// first, see has_uncommitted_changes) and git's metadata for the worktree `name`
// (<common git dir>/worktrees/<name>). Idempotent: a missing directory or missing
// metadata is not an error, so it can finish an interrupted delete. Refuses to delete
// worktree_path when it is the repository's own work tree. Does not touch the branch.
Status remove_worktree(const std::filesystem::path& repo_root, std::string_view name,
                       const std::filesystem::path& worktree_path);

// Deletes the local branch `branch`. A missing branch is not an error. Error when the
// branch is checked out in a worktree (remove the worktree first).
Status delete_branch(const std::filesystem::path& repo_root, std::string_view branch);

// True when the worktree has staged or unstaged changes or untracked files (ignored
// files do not count). Errors: not a git work tree.
Result<bool> has_uncommitted_changes(const std::filesystem::path& worktree_path);

// The full hex id the local branch `branch` points to. Error when it does not exist.
Result<std::string> branch_head(const std::filesystem::path& repo_root, std::string_view branch);

// Is `commit` (full hex id) HEAD of the repository at `repo_root`, or an ancestor of it?
// ("merged" as `git branch -d` means it.) An unborn HEAD: false.
Result<bool> is_merged(const std::filesystem::path& repo_root, std::string_view commit);

}  // namespace airlock::session
