#include "proxy/login.hpp"
#include "proxy/login_store.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include <filesystem>
#include <string>

using namespace airlock::proxy;
namespace json = boost::json;

namespace {

constexpr Seconds T0 = 1'800'000'000;

std::string claims_of(const std::string& jwt) {
    auto p = jwt_payload(jwt);
    REQUIRE(p);
    return *p;
}

LoginRecord record(LoginProvider p, Seconds obtained, Seconds expires) {
    LoginRecord r;
    r.provider = p;
    r.access_token = "real-access";
    r.refresh_token = "real-refresh";
    r.obtained_at = obtained;
    r.expires_at = expires;
    r.account_id = "acct-1";
    r.email = "u@example.com";
    r.plan = "pro";
    r.scopes = "user:inference user:profile";
    return r;
}

}  // namespace

TEST_CASE("unsigned_jwt: three non-empty base64url parts whose payload reads back") {
    auto jwt = unsigned_jwt(R"({"exp":5,"https://api.openai.com/auth":{"chatgpt_account_id":"a"}})");
    auto first = jwt.find('.');
    auto second = jwt.find('.', first + 1);
    CHECK(first > 0);
    CHECK(second > first + 1);
    CHECK(second + 1 < jwt.size());
    CHECK(jwt.find_first_of("+/=") == std::string::npos);
    CHECK(claims_of(jwt) == R"({"exp":5,"https://api.openai.com/auth":{"chatgpt_account_id":"a"}})");
    CHECK_FALSE(jwt_payload("a.b"));
    CHECK_FALSE(jwt_payload("a..c"));
}

TEST_CASE("token state machine: valid, refresh_due, expired, revoked, with an injected clock") {
    auto r = record(LoginProvider::claude, T0, T0 + 3600);
    CHECK(refresh_margin(r) == std::chrono::seconds(300));
    CHECK(token_state(r, T0) == TokenState::valid);
    CHECK(token_state(r, T0 + 3299) == TokenState::valid);
    CHECK(token_state(r, T0 + 3300) == TokenState::refresh_due);
    CHECK(token_state(r, T0 + 3600) == TokenState::expired);
    CHECK(refresh_due_at(r) == T0 + 3300);
    // Short lifetimes (the tests' stand-ins): a fifth of the lifetime, at least a second.
    auto s = record(LoginProvider::chatgpt, T0, T0 + 10);
    CHECK(refresh_margin(s) == std::chrono::seconds(2));
    CHECK(token_state(s, T0 + 7) == TokenState::valid);
    CHECK(token_state(s, T0 + 8) == TokenState::refresh_due);
    auto tiny = record(LoginProvider::google, T0, T0 + 2);
    CHECK(refresh_margin(tiny) == std::chrono::seconds(1));
    r.state = "expired";
    CHECK(token_state(r, T0) == TokenState::revoked);
    auto none = record(LoginProvider::google, T0, T0 + 100);
    none.access_token.clear();
    CHECK(token_state(none, T0) == TokenState::expired);
}

TEST_CASE("import_host_login: each CLI's own file") {
    SUBCASE("claude") {
        auto r = import_host_login(LoginProvider::claude,
                                   R"({"claudeAiOauth":{"accessToken":"sk-ant-oat01-a","refreshToken":"sk-ant-ort01-r",
                                      "expiresAt":1800003600000,"scopes":["user:inference","user:profile"],
                                      "subscriptionType":"max"}})",
                                   T0);
        REQUIRE(r);
        CHECK(r->access_token == "sk-ant-oat01-a");
        CHECK(r->refresh_token == "sk-ant-ort01-r");
        CHECK(r->expires_at == T0 + 3600);
        CHECK(r->scopes == "user:inference user:profile");
        CHECK(r->plan == "max");
    }
    SUBCASE("chatgpt: expiry from the access token, account and plan from the id token") {
        auto access = unsigned_jwt(R"({"exp":1800000600})");
        auto id = unsigned_jwt(R"({"email":"u@example.com","https://api.openai.com/auth":{"chatgpt_account_id":"acct-9","chatgpt_plan_type":"plus"}})");
        auto text = R"({"OPENAI_API_KEY":null,"tokens":{"id_token":")" + id + R"(","access_token":")" + access +
                    R"(","refresh_token":"rt-1"},"last_refresh":"2026-11-27T10:00:00Z"})";
        auto r = import_host_login(LoginProvider::chatgpt, text, T0);
        REQUIRE(r);
        CHECK(r->expires_at == T0 + 600);
        CHECK(r->account_id == "acct-9");
        CHECK(r->plan == "plus");
        CHECK(r->email == "u@example.com");
        CHECK(r->id_token == id);
    }
    SUBCASE("google") {
        auto r = import_host_login(LoginProvider::google,
                                   R"({"access_token":"ya29.a","refresh_token":"1//r","scope":"s1 s2","token_type":"Bearer","expiry_date":1800000100000})",
                                   T0);
        REQUIRE(r);
        CHECK(r->expires_at == T0 + 100);
        CHECK(r->scopes == "s1 s2");
    }
    SUBCASE("refused: not JSON, no refresh token, an API-key codex login, airlock's own placeholders") {
        auto a = import_host_login(LoginProvider::claude, "nope", T0);
        REQUIRE_FALSE(a);
        CHECK(a.error().message.find("not JSON") != std::string::npos);
        auto b = import_host_login(LoginProvider::google, R"({"access_token":"x"})", T0);
        REQUIRE_FALSE(b);
        CHECK(b.error().message.find("no refresh token") != std::string::npos);
        auto c = import_host_login(LoginProvider::chatgpt, R"({"OPENAI_API_KEY":"sk-x"})", T0);
        REQUIRE_FALSE(c);
        CHECK(c.error().message.find("codex login") != std::string::npos);
        auto d = import_host_login(LoginProvider::google, R"({"access_token":"ya29.airlock-placeholder","refresh_token":"1//airlock-placeholder"})", T0);
        REQUIRE_FALSE(d);
        CHECK(d.error().message.find("placeholders") != std::string::npos);
        CHECK(d.error().message.find("1//airlock") == std::string::npos);
    }
    SUBCASE("no known expiry: due at once") {
        auto r = import_host_login(LoginProvider::google, R"({"refresh_token":"1//r"})", T0);
        REQUIRE(r);
        CHECK(token_state(*r, T0) == TokenState::expired);
    }
}

TEST_CASE("the stored record round-trips") {
    auto r = record(LoginProvider::chatgpt, T0, T0 + 60);
    r.id_token = "h.p.s";
    r.state = "expired";
    r.error = "the provider refused the refresh token (HTTP 401: refresh_token_reused)";
    r.refreshes = 3;
    r.refreshed_at = T0;
    auto back = parse_login(serialize_login(r), "x");
    REQUIRE(back);
    CHECK(*back == r);
    CHECK_FALSE(parse_login("{}", "x"));
    CHECK_FALSE(parse_login(R"({"provider":"other","refresh_token":"r"})", "x"));
}

TEST_CASE("refresh requests: each provider's endpoint, client and body") {
    auto c = refresh_request(record(LoginProvider::claude, T0, T0));
    CHECK(c.content_type == "application/json");
    auto cj = json::parse(c.body).as_object();
    CHECK(cj["grant_type"] == "refresh_token");
    CHECK(cj["refresh_token"] == "real-refresh");
    CHECK(cj["client_id"] == "9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    CHECK(token_endpoint(LoginProvider::claude).host == "platform.claude.com");
    auto o = json::parse(refresh_request(record(LoginProvider::chatgpt, T0, T0)).body).as_object();
    CHECK(o["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann");
    CHECK(token_endpoint(LoginProvider::chatgpt).host == "auth.openai.com");
    CHECK(token_endpoint(LoginProvider::chatgpt).path == "/oauth/token");
    auto g = refresh_request(record(LoginProvider::google, T0, T0));
    CHECK(g.content_type == "application/x-www-form-urlencoded");
    CHECK(g.body.find("grant_type=refresh_token&refresh_token=real-refresh&client_id=681255809395-") == 0);
    CHECK(token_endpoint(LoginProvider::google).host == "oauth2.googleapis.com");
}

TEST_CASE("apply_refresh_response: rotation, expiry, revoked, transient") {
    auto before = record(LoginProvider::chatgpt, T0, T0 + 60);
    before.refreshes = 1;
    auto ok = apply_refresh_response(before, 200,
                                     R"({"access_token":"a2","refresh_token":"r2","id_token":"i.d.t","expires_in":30})", T0 + 50);
    REQUIRE(ok.kind == RefreshOutcome::refreshed);
    CHECK(ok.record.access_token == "a2");
    CHECK(ok.record.refresh_token == "r2");
    CHECK(ok.record.id_token == "i.d.t");
    CHECK(ok.record.expires_at == T0 + 80);
    CHECK(ok.record.obtained_at == T0 + 50);
    CHECK(ok.record.refreshes == 2);
    CHECK(ok.record.account_id == "acct-1");
    // No rotation: the old refresh token stays; no expires_in: the JWT's exp.
    auto jwt = unsigned_jwt(R"({"exp":1800000500})");
    auto keep = apply_refresh_response(before, 200, R"({"access_token":")" + jwt + R"("})", T0);
    REQUIRE(keep.kind == RefreshOutcome::refreshed);
    CHECK(keep.record.refresh_token == "real-refresh");
    CHECK(keep.record.expires_at == T0 + 500);

    auto reused = apply_refresh_response(before, 401, R"({"error":{"code":"refresh_token_reused","message":"x"}})", T0);
    CHECK(reused.kind == RefreshOutcome::revoked);
    CHECK(reused.error.find("refresh_token_reused") != std::string::npos);
    auto grant = apply_refresh_response(before, 400, R"({"error":"invalid_grant","error_description":"Bad Request"})", T0);
    CHECK(grant.kind == RefreshOutcome::revoked);
    CHECK(grant.error.find("invalid_grant") != std::string::npos);
    CHECK(apply_refresh_response(before, 503, "busy", T0).kind == RefreshOutcome::transient);
    CHECK(apply_refresh_response(before, 200, "{}", T0).kind == RefreshOutcome::transient);
    // A hostile error code cannot smuggle anything into a log line.
    auto odd = apply_refresh_response(before, 400, R"({"error":"a\nb c<real-refresh>"})", T0);
    CHECK(odd.error.find('\n') == std::string::npos);
    CHECK(odd.error.find(' ', odd.error.find(": ") + 2) == std::string::npos);
}

TEST_CASE("classify_login_request: the CLIs' own refreshes are answered, everything else injected") {
    CHECK(classify_login_request(LoginProvider::chatgpt, "auth.openai.com", "POST", "/oauth/token") == LoginAction::answer_token);
    CHECK(classify_login_request(LoginProvider::chatgpt, "AUTH.openai.com", "POST", "/oauth/token?x=1") == LoginAction::answer_token);
    CHECK(classify_login_request(LoginProvider::chatgpt, "auth.openai.com", "GET", "/oauth/token") == LoginAction::inject);
    CHECK(classify_login_request(LoginProvider::chatgpt, "chatgpt.com", "POST", "/oauth/token") == LoginAction::inject);
    CHECK(classify_login_request(LoginProvider::chatgpt, "chatgpt.com", "POST", "/backend-api/codex/responses") == LoginAction::inject);
    CHECK(classify_login_request(LoginProvider::claude, "platform.claude.com", "POST", "/v1/oauth/token") == LoginAction::answer_token);
    CHECK(classify_login_request(LoginProvider::claude, "console.anthropic.com", "POST", "/v1/oauth/token") == LoginAction::answer_token);
    CHECK(classify_login_request(LoginProvider::claude, "api.anthropic.com", "POST", "/v1/messages") == LoginAction::inject);
    CHECK(classify_login_request(LoginProvider::google, "oauth2.googleapis.com", "POST", "/token") == LoginAction::answer_token);
    CHECK(classify_login_request(LoginProvider::google, "oauth2.googleapis.com", "POST", "/tokeninfo") == LoginAction::answer_tokeninfo);
    CHECK(classify_login_request(LoginProvider::google, "oauth2.googleapis.com", "GET", "/tokeninfo?access_token=x") == LoginAction::answer_tokeninfo);
    CHECK(classify_login_request(LoginProvider::google, "cloudcode-pa.googleapis.com", "POST", "/v1internal:generateContent") == LoginAction::inject);
}

TEST_CASE("login_headers: Bearer everywhere, the account header on chatgpt.com, x-api-key dropped for claude") {
    auto r = record(LoginProvider::chatgpt, T0, T0 + 60);
    auto h = login_headers(r, "chatgpt.com");
    REQUIRE(h.set.size() == 2);
    CHECK(h.set[0] == std::pair<std::string, std::string>{"Authorization", "Bearer real-access"});
    CHECK(h.set[1] == std::pair<std::string, std::string>{"ChatGPT-Account-ID", "acct-1"});
    CHECK(login_headers(r, "auth.openai.com").set.size() == 1);
    auto c = login_headers(record(LoginProvider::claude, T0, T0 + 60), "api.anthropic.com");
    CHECK(c.remove == std::vector<std::string>{"x-api-key"});
}

TEST_CASE("local answers hold placeholders only, shaped like the provider's") {
    for (auto p : {LoginProvider::claude, LoginProvider::chatgpt, LoginProvider::google}) {
        CAPTURE(provider_name(p));
        auto r = record(p, T0, T0 + 60);
        auto reply = local_token_reply(r, LoginAction::answer_token, T0);
        CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(reply.find("Connection: close\r\n") != std::string::npos);
        CHECK(reply.find("real-access") == std::string::npos);
        CHECK(reply.find("real-refresh") == std::string::npos);
        auto body = json::parse(reply.substr(reply.find("\r\n\r\n") + 4)).as_object();
        std::string access(body["access_token"].as_string());
        if (p == LoginProvider::chatgpt) access = claims_of(access);
        CHECK(access.find("airlock") != std::string::npos);
        CHECK(std::string(body["refresh_token"].as_string()).find("airlock-placeholder") != std::string::npos);
        CHECK(body["expires_in"].to_number<std::int64_t>() > 0);
        if (p == LoginProvider::chatgpt) {
            auto claims = json::parse(claims_of(std::string(body["id_token"].as_string()))).as_object();
            CHECK(claims["https://api.openai.com/auth"].as_object()["chatgpt_account_id"] == "acct-1");
        }
    }
    auto info = local_token_reply(record(LoginProvider::google, T0, T0 + 60), LoginAction::answer_tokeninfo, T0);
    CHECK(info.find("\"expires_in\":\"3599\"") != std::string::npos);
    auto expired = login_expired_reply("gpt", LoginProvider::chatgpt, "HTTP 401: refresh_token_reused");
    CHECK(expired.rfind("HTTP/1.1 401 Unauthorized\r\n", 0) == 0);
    CHECK(expired.find("X-Airlock-Error: login-expired\r\n") != std::string::npos);
    CHECK(expired.find("airlock credential add gpt --login chatgpt") != std::string::npos);
}

TEST_CASE("placeholder files: what each CLI reads, no real token, far-future expiry") {
    SUBCASE("codex auth.json: unsigned id_token with the account claims, access token JWT not expired") {
        auto files = placeholder_files(record(LoginProvider::chatgpt, T0, T0 + 60), T0);
        REQUIRE(files.size() == 1);
        CHECK(files[0].path == ".codex/auth.json");
        CHECK(files[0].content.find("real-") == std::string::npos);
        auto o = json::parse(files[0].content).as_object();
        CHECK(o["OPENAI_API_KEY"].is_null());
        CHECK(o["last_refresh"] == "2027-01-15T08:00:00Z");
        auto tokens = o["tokens"].as_object();
        CHECK(tokens["account_id"] == "acct-1");
        auto id = json::parse(claims_of(std::string(tokens["id_token"].as_string()))).as_object();
        CHECK(id["email"] == "u@example.com");
        CHECK(id["https://api.openai.com/auth"].as_object()["chatgpt_plan_type"] == "pro");
        auto access = json::parse(claims_of(std::string(tokens["access_token"].as_string()))).as_object();
        CHECK(access["exp"].to_number<std::int64_t>() > T0 + 300 * 24 * 3600);
    }
    SUBCASE("claude .credentials.json") {
        auto files = placeholder_files(record(LoginProvider::claude, T0, T0 + 60), T0);
        REQUIRE(files.size() == 1);
        CHECK(files[0].path == ".claude/.credentials.json");
        auto o = json::parse(files[0].content).as_object()["claudeAiOauth"].as_object();
        CHECK(o["accessToken"] == "sk-ant-oat01-airlock-placeholder");
        CHECK(o["expiresAt"].to_number<std::int64_t>() > (T0 + 300 * 24 * 3600) * 1000);
        CHECK(o["scopes"].as_array().size() == 2);
        CHECK(o["subscriptionType"] == "pro");
    }
    SUBCASE("gemini oauth_creds.json") {
        auto files = placeholder_files(record(LoginProvider::google, T0, T0 + 60), T0);
        REQUIRE(files.size() == 1);
        CHECK(files[0].path == ".gemini/oauth_creds.json");
        auto o = json::parse(files[0].content).as_object();
        CHECK(o["refresh_token"] == "1//airlock-placeholder");
        CHECK(o["expiry_date"].to_number<std::int64_t>() > (T0 + 300 * 24 * 3600) * 1000);
    }
}

TEST_CASE("login store: 0700 directory, 0600 file, atomic replace, refuses a readable file") {
    auto home = std::filesystem::temp_directory_path() / ("airlock-login-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(home);
    std::filesystem::create_directories(home);
    auto r = record(LoginProvider::claude, T0, T0 + 60);
    REQUIRE(write_login(home, "c", r));
    struct stat st {};
    REQUIRE(::stat(logins_dir(home).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(login_path(home, "c").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto back = read_login(home, "c");
    REQUIRE(back);
    CHECK(*back == r);
    r.access_token = "second";
    REQUIRE(write_login(home, "c", r));
    CHECK(read_login(home, "c")->access_token == "second");
    CHECK(std::distance(std::filesystem::directory_iterator(logins_dir(home)), {}) == 1);
    ::chmod(login_path(home, "c").c_str(), 0644);
    auto bad = read_login(home, "c");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("chmod 600") != std::string::npos);
    auto missing = read_login(home, "nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("airlock credential add nope --login") != std::string::npos);
    { auto lock = LoginLock::acquire(home, "c"); CHECK(lock); }
    CHECK(remove_login(home, "c"));
    CHECK_FALSE(std::filesystem::exists(login_path(home, "c")));
    std::filesystem::remove_all(home);
}
