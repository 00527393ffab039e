// Which refs airlock brings back from a session's repository, when it may move the user's
// branch, and reading refs as text (session/branch_sync.hpp): pure decisions.

#include <doctest/doctest.h>

#include <string>

#include "session/branch_sync.hpp"

using namespace airlock::session;

namespace {
const std::string A(40, 'a');
const std::string B(40, 'b');
}  // namespace

TEST_CASE("may_fetch: only the session's own branch, exactly") {
    CHECK(may_fetch("fix-k3x9", "refs/heads/airlock/fix-k3x9"));
    CHECK_FALSE(may_fetch("fix-k3x9", "refs/heads/main"));
    CHECK_FALSE(may_fetch("fix-k3x9", "refs/heads/airlock/other"));
    CHECK_FALSE(may_fetch("fix-k3x9", "refs/heads/airlock/fix-k3x9-2"));
    CHECK_FALSE(may_fetch("fix-k3x9", "refs/heads/airlock/fix-k3x9/x"));
    CHECK_FALSE(may_fetch("fix-k3x9", "refs/tags/airlock/fix-k3x9"));
    CHECK_FALSE(may_fetch("fix-k3x9", "refs/airlock/fix-k3x9/tip"));
    CHECK_FALSE(may_fetch("fix-k3x9", "HEAD"));
    CHECK_FALSE(may_fetch("fix-k3x9", "airlock/fix-k3x9"));
    CHECK_FALSE(may_fetch("", "refs/heads/airlock/"));
    CHECK(session_branch_ref("s") == "refs/heads/airlock/s");
    CHECK(base_keep_ref("s") == "refs/airlock/s/base");
    CHECK(tip_keep_ref("s") == "refs/airlock/s/tip");
}

TEST_CASE("plan_sync: create, fast-forward, refusals, --force") {
    SyncFacts f;
    CHECK(plan_sync(f) == SyncAction::refuse_no_branch);
    f.user_tip = A;
    CHECK(plan_sync(f) == SyncAction::refuse_no_branch);  // the agent deleted its branch: nothing moves

    f = {};
    f.session_tip = A;
    CHECK(plan_sync(f) == SyncAction::create);
    f.user_tip = A;
    CHECK(plan_sync(f) == SyncAction::up_to_date);
    f.checked_out = true;
    CHECK(plan_sync(f) == SyncAction::up_to_date);  // nothing would change

    f = {};
    f.session_tip = B;
    f.user_tip = A;
    f.user_tip_is_ancestor = true;
    CHECK(plan_sync(f) == SyncAction::fast_forward);
    f.user_tip_is_ancestor = false;
    CHECK(plan_sync(f) == SyncAction::refuse_diverged);
    f.force = true;
    CHECK(plan_sync(f) == SyncAction::force_update);
    f.checked_out = true;  // never under the user's feet, not even with --force
    CHECK(plan_sync(f) == SyncAction::refuse_checked_out);
    f.user_tip_is_ancestor = true;
    CHECK(plan_sync(f) == SyncAction::refuse_checked_out);

    CHECK(moves_branch(SyncAction::create));
    CHECK(moves_branch(SyncAction::fast_forward));
    CHECK(moves_branch(SyncAction::force_update));
    CHECK_FALSE(moves_branch(SyncAction::up_to_date));
    CHECK_FALSE(moves_branch(SyncAction::refuse_diverged));
    CHECK_FALSE(moves_branch(SyncAction::refuse_checked_out));
    CHECK_FALSE(moves_branch(SyncAction::refuse_no_branch));
}

TEST_CASE("parse_loose_ref: a full object id, nothing else") {
    CHECK(parse_loose_ref(A + "\n").value() == A);
    CHECK(parse_loose_ref(A).value() == A);
    CHECK_FALSE(parse_loose_ref("ref: refs/heads/main\n").ok());
    CHECK(parse_loose_ref("ref: refs/heads/main\n").error().message.find("symbolic") != std::string::npos);
    CHECK_FALSE(parse_loose_ref("").ok());
    CHECK_FALSE(parse_loose_ref(A.substr(0, 39) + "\n").ok());
    CHECK_FALSE(parse_loose_ref(A + "\n\n").ok());
    CHECK_FALSE(parse_loose_ref(std::string(40, 'A')).ok());  // git writes lowercase
    CHECK_FALSE(parse_loose_ref(std::string(39, 'a') + "g").ok());
    CHECK_FALSE(parse_loose_ref(A + " extra").ok());
}

TEST_CASE("find_packed_ref: the line naming exactly that ref") {
    const std::string text = "# pack-refs with: peeled fully-peeled sorted \n" + A + " refs/heads/airlock/s-2\n" + B +
                             " refs/heads/airlock/s\n^" + A + "\n" + A + " refs/tags/v1\n";
    CHECK(find_packed_ref(text, "refs/heads/airlock/s").value() == B);
    CHECK(find_packed_ref(text, "refs/heads/airlock/s-2").value() == A);
    CHECK_FALSE(find_packed_ref(text, "refs/heads/airlock").has_value());
    CHECK_FALSE(find_packed_ref(text, "refs/heads/main").has_value());
    CHECK_FALSE(find_packed_ref("", "refs/heads/airlock/s").has_value());
    CHECK_FALSE(find_packed_ref("zzzz refs/heads/airlock/s\n", "refs/heads/airlock/s").has_value());
    CHECK(find_packed_ref(B + " refs/heads/airlock/s", "refs/heads/airlock/s").value() == B);  // no final newline
    CHECK(find_packed_ref(B + " refs/heads/airlock/s\r\n", "refs/heads/airlock/s").value() == B);
}

TEST_CASE("terminal_safe: no escape sequence from the agent reaches the terminal") {
    CHECK(terminal_safe("fix: the test\n\tok") == "fix: the test\n\tok");
    CHECK(terminal_safe("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 text stays
    CHECK(terminal_safe("\x1b]52;c;ZWNobyBwd25lZA==\x07") == "\\x1b]52;c;ZWNobyBwd25lZA==\\x07");
    CHECK(terminal_safe("a\rb") == "a\\x0db");
    CHECK(terminal_safe(std::string("a\0b", 3)) == "a\\x00b");
    CHECK(terminal_safe("\x7f") == "\\x7f");
    CHECK(terminal_safe("\xc2\x9b" "31m") == "\\u009b31m");  // C1 CSI as UTF-8
    CHECK(terminal_safe("\xc2\xa0") == "\xc2\xa0");          // U+00A0 is text
}
