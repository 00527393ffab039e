#include "ui/gate.hpp"

#include <doctest/doctest.h>

using namespace airlock::ui;
using Clock = std::chrono::steady_clock;

TEST_CASE("host_allowed: the loopback names with the port, nothing else (DNS rebinding)") {
    CHECK(host_allowed("127.0.0.1:7070", 7070));
    CHECK(host_allowed("localhost:7070", 7070));
    CHECK(host_allowed("[::1]:7070", 7070));
    for (const char* bad : {"evil.example", "evil.example:7070", "127.0.0.1", "127.0.0.1:7071", "127.0.0.1:70700",
                            "localhost", "localhost.evil.example:7070", "127.0.0.1:7070.evil", "127.0.0.2:7070",
                            "LOCALHOST:7070x", "", " 127.0.0.1:7070", "127.0.0.1:7070 ", "[::1]", "::1:7070",
                            "evil.example@127.0.0.1:7070", "127.0.0.1:07070"})
        CHECK_MESSAGE(!host_allowed(bad, 7070), bad);
}

TEST_CASE("origin_allowed: http:// and an allowed host") {
    CHECK(origin_allowed("http://127.0.0.1:7070", 7070));
    CHECK(origin_allowed("http://localhost:7070", 7070));
    for (const char* bad : {"", "null", "http://evil.example", "https://127.0.0.1:7070", "http://127.0.0.1:7070/",
                            "http://127.0.0.1:7071", "http://evil.example:7070", "file://", "127.0.0.1:7070"})
        CHECK_MESSAGE(!origin_allowed(bad, 7070), bad);
}

TEST_CASE("cookie_value") {
    CHECK(cookie_value("airlock_ui=abc", "airlock_ui") == "abc");
    CHECK(cookie_value("a=1; airlock_ui=abc; b=2", "airlock_ui") == "abc");
    CHECK(cookie_value("a=1;airlock_ui=x", "airlock_ui") == "x");
    CHECK(!cookie_value("xairlock_ui=abc", "airlock_ui"));
    CHECK(!cookie_value("airlock_uix=abc", "airlock_ui"));
    CHECK(!cookie_value("", "airlock_ui"));
    CHECK(!cookie_value("airlock_ui", "airlock_ui"));
}

TEST_CASE("random_hex: length, alphabet, not repeating") {
    auto a = random_hex(32), b = random_hex(32);
    CHECK(a.size() == 64);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a != b);
}

TEST_CASE("Tokens: a token is spent once, expires, and only issued cookies count") {
    Tokens t;
    auto now = Clock::now();
    auto token = t.issue(now);
    CHECK(token.size() == 64);
    CHECK(!t.cookie_valid(token));  // a token is not a cookie
    auto cookie = t.redeem(token, now);
    REQUIRE(cookie);
    CHECK(*cookie != token);
    CHECK(t.cookie_valid(*cookie));
    CHECK(!t.redeem(token, now));  // reused
    CHECK(!t.cookie_valid(std::string(64, '0')));
    CHECK(!t.cookie_valid(cookie->substr(0, 63)));
    CHECK(!t.redeem("", now));

    auto old = t.issue(now);
    CHECK(!t.redeem(old, now + Tokens::kTokenLife + std::chrono::seconds(1)));  // expired
    CHECK(!t.redeem(old, now));                                                // and spent by trying

    // At most kMaxPending wait: the oldest go first.
    auto first = t.issue(now);
    for (std::size_t i = 0; i < Tokens::kMaxPending; ++i) (void)t.issue(now + std::chrono::seconds(1 + i));
    CHECK(t.pending() == Tokens::kMaxPending);
    CHECK(!t.redeem(first, now + std::chrono::seconds(30)));
}

namespace {
RequestFacts get(std::string path, std::string cookie = "") {
    RequestFacts f;
    f.method = "GET";
    f.path = std::move(path);
    f.host = "127.0.0.1:7070";
    f.cookie = std::move(cookie);
    return f;
}
}  // namespace

TEST_CASE("check_request: sign in, then the cookie; Host first; Origin and JSON for changes") {
    Tokens t;
    auto now = Clock::now();
    auto token = t.issue(now);

    // No cookie: 401, for the API and for the page alike.
    CHECK(check_request(get("/api/sessions"), 7070, t, now).status == 401);
    CHECK(check_request(get("/"), 7070, t, now).status == 401);

    // A forged Host is refused before the token is even looked at (and the token stays unspent).
    auto rebinding = get("/");
    rebinding.token = token;
    rebinding.host = "evil.example:7070";
    auto v = check_request(rebinding, 7070, t, now);
    CHECK(v.kind == GateVerdict::refuse);
    CHECK(v.status == 403);

    auto sign_in = get("/");
    sign_in.token = token;
    v = check_request(sign_in, 7070, t, now);
    REQUIRE(v.kind == GateVerdict::sign_in);
    const auto cookie = "airlock_ui=" + v.cookie;
    CHECK(set_cookie_header(v.cookie) == cookie + "; HttpOnly; SameSite=Strict; Path=/");
    CHECK(check_request(sign_in, 7070, t, now).status == 401);  // reused token

    CHECK(check_request(get("/api/sessions", cookie), 7070, t, now).kind == GateVerdict::pass);
    CHECK(check_request(get("/api/sessions", "airlock_ui=" + std::string(64, 'a')), 7070, t, now).status == 401);
    auto forged = get("/api/sessions", cookie);
    forged.host = "evil.example";
    CHECK(check_request(forged, 7070, t, now).status == 403);

    // State changes: Origin must be the dashboard's own.
    auto post = get("/api/sessions/a/stop", cookie);
    post.method = "POST";
    CHECK(check_request(post, 7070, t, now).status == 403);  // no Origin
    post.origin = "http://evil.example";
    CHECK(check_request(post, 7070, t, now).status == 403);
    post.origin = "http://127.0.0.1:7070";
    CHECK(check_request(post, 7070, t, now).kind == GateVerdict::pass);
    post.has_body = true;
    post.content_type = "text/plain";  // what a cross-site form could send
    CHECK(check_request(post, 7070, t, now).status == 415);
    post.content_type = "application/json; charset=utf-8";
    CHECK(check_request(post, 7070, t, now).kind == GateVerdict::pass);
    auto del = get("/api/sessions/a", cookie);
    del.method = "DELETE";
    CHECK(check_request(del, 7070, t, now).status == 403);

    // A WebSocket upgrade is a state change even though it is a GET (cross-site WebSocket hijacking).
    auto ws = get("/api/sessions/a/terminal", cookie);
    ws.websocket = true;
    ws.origin = "http://evil.example";
    CHECK(check_request(ws, 7070, t, now).status == 403);
    ws.origin = "http://localhost:7070";
    CHECK(check_request(ws, 7070, t, now).kind == GateVerdict::pass);
}
