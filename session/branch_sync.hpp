#pragma once
// Bringing a session's branch back into the user's repository: which refs airlock reads and
// writes, whether it may move the user's branch, and reading refs as plain text. Pure
// functions over plain data (session_repo.cpp does the I/O).
//
// The agent owns its session's repository entirely, so everything read there is data from
// the attacker: airlock reads exactly one ref (refs/heads/airlock/<name>), as text, and never
// interprets that repository's config, hooks, commondir or alternates.

#include <optional>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::session {

// "refs/heads/airlock/<session>": the one ref read in the session's repository and the one
// branch written in the user's.
std::string session_branch_ref(std::string_view session);

// "refs/airlock/<session>/base" and "refs/airlock/<session>/tip" in the user's repository:
// they keep what the session's repository borrows from the user's object store (the base
// commit, the last tip brought across) reachable, so the user's `git gc` keeps it.
std::string base_keep_ref(std::string_view session);
std::string tip_keep_ref(std::string_view session);

// True only for `ref` == session_branch_ref(session): no other branch, tag or ref of the
// session's repository ever reaches the user's.
bool may_fetch(std::string_view session, std::string_view ref);

// What is known about both sides before moving anything.
struct SyncFacts {
    std::string session_tip;            // "" = the session's repository has no such branch
    std::string user_tip;               // "" = the user's repository has no airlock/<name>
    bool user_tip_is_ancestor = false;  // user_tip is reachable from session_tip
    bool checked_out = false;           // the user's branch is checked out in a worktree
    bool force = false;                 // airlock sync --force
};

enum class SyncAction {
    up_to_date,          // both name the same commit
    create,              // the user has no airlock/<name>: create it
    fast_forward,        // the session's tip descends from the user's
    force_update,        // diverged, but --force
    refuse_diverged,     // diverged: the user moved airlock/<name> (or the agent rewrote it)
    refuse_checked_out,  // the branch is checked out in one of the user's worktrees
    refuse_no_branch,    // the session's repository has no airlock/<name> (nothing to bring)
};

SyncAction plan_sync(const SyncFacts& facts);
std::string_view to_string(SyncAction action);
bool moves_branch(SyncAction action);  // create, fast_forward, force_update

// A loose ref file's text -> its full hex object id. Errors: a symbolic ref ("ref: ..."),
// anything but 40 hex digits and an optional newline.
Result<std::string> parse_loose_ref(std::string_view text);

// The object id packed-refs text gives `ref` ("<40 hex> <ref>" lines; '#' and '^' lines
// skipped); nullopt when it is not there.
std::optional<std::string> find_packed_ref(std::string_view packed_refs, std::string_view ref);

// Text from the agent (commit subjects, diffs) made safe to print on the user's terminal:
// control characters other than newline and tab become "\x1b"-style escapes, so no escape
// sequence the agent wrote reaches the terminal.
std::string terminal_safe(std::string_view text);

}  // namespace airlock::session
