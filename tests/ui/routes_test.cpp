#include "ui/routes.hpp"

#include <doctest/doctest.h>

using namespace airlock::ui;

TEST_CASE("route: assets") {
    auto r = route("GET", "/", false);
    CHECK(r.kind == RouteKind::asset);
    CHECK(r.asset == "index.html");
    CHECK(route("GET", "/?token=abc", false).query.at("token") == "abc");
    CHECK(route("GET", "/vendor/xterm.js", false).asset == "vendor/xterm.js");
    for (const char* bad : {"/../etc/passwd", "/vendor/../../x", "/%2e%2e/x", "/.hidden", "//x", "/a//b", "/a\\b",
                            "/%00", "x"})
        CHECK_MESSAGE(route("GET", bad, false).kind == RouteKind::not_found, bad);
    CHECK(route("POST", "/app.js", false).kind == RouteKind::bad_method);
}

TEST_CASE("route: the API") {
    CHECK(route("GET", "/api/sessions", false).kind == RouteKind::sessions);
    CHECK(route("POST", "/api/sessions", false).kind == RouteKind::create_session);
    auto put = route("PUT", "/api/sessions", false);
    CHECK(put.kind == RouteKind::bad_method);
    CHECK(put.allow == "GET, POST");
    auto show = route("GET", "/api/sessions/fix-tests", false);
    CHECK(show.kind == RouteKind::session);
    CHECK(show.name == "fix-tests");
    auto del = route("DELETE", "/api/sessions/fix-tests?force=1", false);
    CHECK(del.kind == RouteKind::delete_session);
    CHECK(query_flag(del.query, "force"));
    CHECK(!query_flag(del.query, "delete_branch"));
    for (const char* action : {"stop", "start", "refresh", "sync"}) {
        auto a = route("POST", std::string("/api/sessions/s/") + action, false);
        CHECK(a.kind == RouteKind::session_action);
        CHECK(a.action == action);
        CHECK(route("GET", std::string("/api/sessions/s/") + action, false).kind == RouteKind::bad_method);
    }
    CHECK(route("GET", "/api/sessions/s/diff?worktree=1", false).kind == RouteKind::diff);
    auto req = route("GET", "/api/sessions/s/requests?limit=20&window=600", false);
    CHECK(req.kind == RouteKind::requests);
    CHECK(query_int(req.query, "limit", 500, 1, 5000) == 20);
    CHECK(query_int(req.query, "window", 3600, 60, 86400) == 600);
    CHECK(query_int(req.query, "other", 7, 1, 10) == 7);
    CHECK(query_int({{"limit", "99999"}}, "limit", 500, 1, 5000) == 5000);
    CHECK(query_int({{"limit", "12x"}}, "limit", 500, 1, 5000) == 500);
    CHECK(route("GET", "/api/stats", false).kind == RouteKind::stats);
    CHECK(route("GET", "/api/proxy", false).kind == RouteKind::proxy);
    CHECK(route("GET", "/api/config", false).kind == RouteKind::config);
    CHECK(route("GET", "/api/events", false).kind == RouteKind::events);
    CHECK(route("POST", "/api/events", false).kind == RouteKind::bad_method);
    CHECK(route("GET", "/api/nope", false).kind == RouteKind::not_found);
    CHECK(route("GET", "/api/sessions/s/nope", false).kind == RouteKind::not_found);
    CHECK(route("GET", "/api/sessions/s/diff/x", false).kind == RouteKind::not_found);
    CHECK(route("GET", "/api/sessions/a%2Fb", false).kind == RouteKind::not_found);
    CHECK(route("GET", "/api/sessions/s?x=%zz", false).kind == RouteKind::bad_request);
}

TEST_CASE("route: WebSockets only where they belong") {
    auto t = route("GET", "/api/sessions/s/terminal", true);
    CHECK(t.kind == RouteKind::terminal);
    CHECK(t.name == "s");
    CHECK(route("GET", "/api/sessions/s/logs?tail=10", true).kind == RouteKind::logs);
    CHECK(route("GET", "/api/sessions/s/terminal", false).kind == RouteKind::bad_request);
    CHECK(route("GET", "/api/sessions", true).kind == RouteKind::not_found);
    CHECK(route("GET", "/", true).kind == RouteKind::not_found);
}

TEST_CASE("percent_decode") {
    CHECK(percent_decode("a%20b+c", true) == "a b c");
    CHECK(percent_decode("a%20b+c", false) == "a b+c");
    CHECK(!percent_decode("%", true));
    CHECK(!percent_decode("%4", true));
    CHECK(!percent_decode("%g0", true));
    CHECK(!percent_decode("%00", true));
}
