#include <doctest/doctest.h>

#include "session/session.hpp"

using airlock::session::parse_session_status;
using airlock::session::Session;
using airlock::session::SessionStatus;

TEST_CASE("session status names round-trip") {
    for (auto s : {SessionStatus::creating, SessionStatus::running, SessionStatus::stopped,
                   SessionStatus::exited, SessionStatus::lost, SessionStatus::failed,
                   SessionStatus::deleting}) {
        auto parsed = parse_session_status(to_string(s));
        REQUIRE(parsed.has_value());
        CHECK(*parsed == s);
    }
    CHECK(to_string(SessionStatus::running) == "running");
    CHECK_FALSE(parse_session_status("Running").has_value());
    CHECK_FALSE(parse_session_status("").has_value());
    CHECK_FALSE(parse_session_status("gone").has_value());
}

TEST_CASE("session defaults") {
    Session s;
    CHECK(s.backend == "docker");
    CHECK(s.status == SessionStatus::creating);
    CHECK(s.network == "confined");
    CHECK_FALSE(s.read_only);
}
