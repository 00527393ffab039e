#pragma once
// A session's own git repository (libgit2). The agent commits there, never in the user's
// repository: its objects borrow the user's object store through objects/info/alternates
// (mounted read-only into the container), its one branch airlock/<name> is brought back into
// the user's repository by airlock on the host (sync_session_branch), and the user's .git is
// never mounted writable.
//
// Host layout:  <home>/sessions/<name>/git   the session's repository (mounted rw at
//                                              kContainerGitDir; config and hooks read-only)
//               <home>/worktrees/<name>       its work tree (mounted rw at /workspace)
//               <home>/worktrees/<name>/.git  "gitdir: /airlock/git": a path that exists only
//                                              inside the container (mounted read-only over
//                                              itself), so plain git on the host finds no
//                                              repository there and runs nothing the agent wrote.
// The user's repository gains: branch airlock/<name>, and refs/airlock/<name>/base and /tip,
// which keep the objects the session borrows safe from the user's `git gc`.
//
// Nothing here runs hooks, filters or any other program. What the agent controls (the
// session's repository) is read as data: the branch ref as text, objects through an object
// database airlock assembles itself (the agent's alternates are not followed).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "session/branch_sync.hpp"

namespace airlock::session {

// Where the session's repository appears inside the container.
inline constexpr const char* kContainerGitDir = "/airlock/git";

struct SessionRepoPaths {
    std::string name;                     // the session's name
    std::string branch;                   // "airlock/<name>"
    std::filesystem::path user_git_dir;   // the user's common git dir, e.g. /repo/.git
    std::filesystem::path git_dir;        // the session's repository
    std::filesystem::path worktree;       // its work tree
};

// Creates the user's branch airlock/<name> and refs/airlock/<name>/base at `base_commit`,
// the session's repository (alternates -> the user's objects; the user's shallow file, if
// any; branch airlock/<name> checked out) and its work tree with base_commit's files.
// Errors name what is in the way (an existing branch, directory or repository, an invalid
// name, an unknown commit); on failure nothing is left behind.
Status create_session_repo(const SessionRepoPaths& p, std::string_view base_commit);

// A session created by an older airlock (a linked worktree of the user's repository): makes
// the session's repository at the branch's current commit with the worktree's index, points
// the work tree at it and removes git's record of the linked worktree. No-op when the
// session's repository exists already.
Status adopt_linked_worktree(const SessionRepoPaths& p, std::string_view base_commit);

// Deletes the work tree, the session's repository, and refs/airlock/<name>/* in the user's
// repository (and git's record of a linked worktree of that name left by an older airlock).
// Keeps the branch. Idempotent. Refuses a work tree that is (or contains) the user's repository.
Status remove_session_repo(const SessionRepoPaths& p);

// The object directories the session reads: the user's objects directory and, recursively,
// the ones its objects/info/alternates names (each mounted read-only at its own path).
std::vector<std::filesystem::path> borrowed_object_dirs(const std::filesystem::path& user_git_dir);

// Staged, unstaged or untracked changes (ignored files do not count) in the session's work tree.
Result<bool> session_has_uncommitted_changes(const SessionRepoPaths& p);

struct SyncResult {
    SyncAction action = SyncAction::up_to_date;
    std::string old_tip;  // the user's airlock/<name> before ("" = none)
    std::string new_tip;  // the session's branch ("" = none)
};

// Brings the session's branch into the user's repository as airlock/<name>: only that ref,
// only fast-forwards (or creation) unless `force`, never a branch checked out in one of the
// user's worktrees. Copies the missing objects as a pack (verified by libgit2's indexer) and
// moves refs/airlock/<name>/tip along. A refusal is a result (see action), not an error;
// errors are I/O, a missing or non-commit tip, a tampered session repository.
Result<SyncResult> sync_session_branch(const SessionRepoPaths& p, bool force);

struct CommitSummary {
    std::string id;       // full hex
    std::string summary;  // first line of the message (as the agent wrote it)
    std::string author;   // "Name <email>"
    std::int64_t time = 0;  // author time, seconds since the epoch
};

struct BranchLog {
    std::string tip;                      // the session branch's commit ("" = no branch)
    std::vector<CommitSummary> commits;   // base..tip, newest first, at most `limit`
    std::size_t total = 0;                // how many base..tip has in all
};

// The session branch's commits since base_commit, read from the session's repository.
Result<BranchLog> session_log(const SessionRepoPaths& p, std::string_view base_commit, std::size_t limit);

// A unified patch: base_commit -> the session branch's tip (committed work), or, with
// `worktree`, base_commit -> the work tree (uncommitted changes too). No external diff
// driver or textconv runs.
Result<std::string> session_diff(const SessionRepoPaths& p, std::string_view base_commit, bool worktree);

}  // namespace airlock::session
