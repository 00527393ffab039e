#include "proxy/login.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "proxy/base64.hpp"
#include "proxy/hosts.hpp"
#include "proxy/reply.hpp"

namespace airlock::proxy {
namespace json = boost::json;

namespace {

// The public OAuth clients of the CLIs (from their public source; docs/agents.md).
constexpr std::string_view kClaudeClientId = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
constexpr std::string_view kCodexClientId = "app_EMoamEEZ73f0CkXaXp7hrann";
constexpr std::string_view kGeminiClientId =
    "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
// Gemini CLI's installed-application client secret, public by design (Google's OAuth for
// installed apps: "the client secret is obviously not treated as a secret").
constexpr std::string_view kGeminiClientSecret = "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";

constexpr Seconds kYear = 365 * 24 * 3600;

const json::value* member(const json::value& v, std::string_view key) {
    if (!v.is_object()) return nullptr;
    return v.as_object().if_contains(key);
}

std::string str(const json::value* v) {
    if (v && v->is_string()) return std::string(v->as_string());
    return {};
}

std::int64_t num(const json::value* v) {
    if (!v) return 0;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    if (v->is_string()) {
        try {
            return std::stoll(std::string(v->as_string()));
        } catch (...) {
            return 0;
        }
    }
    return 0;
}

std::optional<json::value> parse_json(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return std::nullopt;
    return v;
}

// A provider's error code, for messages: letters, digits, '_', '-', '.', at most 64.
std::string error_code(std::string_view body) {
    auto v = parse_json(body);
    std::string code;
    if (v) {
        const json::value* e = member(*v, "error");
        if (e && e->is_object()) e = member(*e, "code") ? member(*e, "code") : member(*e, "type");
        code = str(e);
        if (code.empty()) code = str(member(*v, "code"));
    }
    std::string out;
    for (char c : code) {
        if (out.size() >= 64) break;
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') out += c;
    }
    return out;
}

std::string rfc3339(Seconds t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string form_encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out;
}

std::string path_only(std::string_view target) {
    auto q = target.find('?');
    return std::string(target.substr(0, q));
}

std::string http_json(int status, const std::string& body) {
    return fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
        "X-Airlock-Login: answered-by-proxy\r\nConnection: close\r\n\r\n{}",
        status, reason_phrase(status), body.size(), body);
}

std::string placeholder_access_token(const LoginRecord& r, Seconds now) {
    switch (r.provider) {
        case LoginProvider::claude: return "sk-ant-oat01-airlock-placeholder";
        case LoginProvider::google: return "ya29.airlock-placeholder";
        case LoginProvider::chatgpt: {
            json::object auth{{"chatgpt_account_id", r.account_id}};
            json::object claims{{"iss", "https://auth.openai.com"},
                                {"sub", "airlock-placeholder"},
                                {"iat", now},
                                {"exp", now + kYear},
                                {"https://api.openai.com/auth", auth},
                                {"airlock", "placeholder"}};
            return unsigned_jwt(json::serialize(claims));
        }
    }
    return "airlock-placeholder";
}

std::string placeholder_refresh_token(LoginProvider p) {
    switch (p) {
        case LoginProvider::claude: return "sk-ant-ort01-airlock-placeholder";
        case LoginProvider::google: return "1//airlock-placeholder";
        case LoginProvider::chatgpt: return "airlock-placeholder-refresh";
    }
    return "airlock-placeholder";
}

std::string placeholder_id_token(const LoginRecord& r, Seconds now) {
    json::object auth{{"chatgpt_account_id", r.account_id}};
    if (!r.plan.empty()) auth["chatgpt_plan_type"] = r.plan;
    json::object claims{{"iss", "https://auth.openai.com"},
                        {"aud", json::array{kCodexClientId}},
                        {"sub", "airlock-placeholder"},
                        {"iat", now},
                        {"exp", now + kYear},
                        {"https://api.openai.com/auth", auth}};
    if (!r.email.empty()) {
        claims["email"] = r.email;
        claims["https://api.openai.com/profile"] = json::object{{"email", r.email}};
    }
    return unsigned_jwt(json::serialize(claims));
}

json::array scope_array(const std::string& scopes) {
    json::array out;
    std::size_t i = 0;
    while (i < scopes.size()) {
        auto j = scopes.find(' ', i);
        if (j == std::string::npos) j = scopes.size();
        if (j > i) out.emplace_back(scopes.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

}  // namespace

std::optional<LoginProvider> login_provider(std::string_view name) {
    if (name == "claude") return LoginProvider::claude;
    if (name == "chatgpt") return LoginProvider::chatgpt;
    if (name == "google") return LoginProvider::google;
    return std::nullopt;
}

std::string_view provider_name(LoginProvider p) {
    switch (p) {
        case LoginProvider::claude: return "claude";
        case LoginProvider::chatgpt: return "chatgpt";
        case LoginProvider::google: return "google";
    }
    return "claude";
}

std::string serialize_login(const LoginRecord& r) {
    json::object o{{"provider", provider_name(r.provider)},
                   {"access_token", r.access_token},
                   {"refresh_token", r.refresh_token},
                   {"id_token", r.id_token},
                   {"expires_at", r.expires_at},
                   {"obtained_at", r.obtained_at},
                   {"account_id", r.account_id},
                   {"email", r.email},
                   {"plan", r.plan},
                   {"scopes", r.scopes},
                   {"state", r.state},
                   {"error", r.error},
                   {"refreshed_at", r.refreshed_at},
                   {"refreshes", r.refreshes}};
    return json::serialize(o) + "\n";
}

Result<LoginRecord> parse_login(std::string_view text, std::string_view what) {
    auto v = parse_json(text);
    if (!v || !v->is_object()) return make_error(fmt::format("{} is not a login airlock wrote (not a JSON object); "
                                                             "import the login again", what));
    auto provider = login_provider(str(member(*v, "provider")));
    if (!provider) return make_error(fmt::format("{} names no known provider; import the login again", what));
    LoginRecord r;
    r.provider = *provider;
    r.access_token = str(member(*v, "access_token"));
    r.refresh_token = str(member(*v, "refresh_token"));
    r.id_token = str(member(*v, "id_token"));
    r.expires_at = num(member(*v, "expires_at"));
    r.obtained_at = num(member(*v, "obtained_at"));
    r.account_id = str(member(*v, "account_id"));
    r.email = str(member(*v, "email"));
    r.plan = str(member(*v, "plan"));
    r.scopes = str(member(*v, "scopes"));
    r.state = str(member(*v, "state"));
    if (r.state.empty()) r.state = "ok";
    r.error = str(member(*v, "error"));
    r.refreshed_at = num(member(*v, "refreshed_at"));
    r.refreshes = static_cast<std::uint64_t>(num(member(*v, "refreshes")));
    if (r.refresh_token.empty()) return make_error(fmt::format("{} has no refresh token; import the login again", what));
    return r;
}

std::string_view host_login_path(LoginProvider p) {
    switch (p) {
        case LoginProvider::claude: return ".claude/.credentials.json";
        case LoginProvider::chatgpt: return ".codex/auth.json";
        case LoginProvider::google: return ".gemini/oauth_creds.json";
    }
    return "";
}

std::optional<std::string> jwt_payload(std::string_view jwt) {
    auto a = jwt.find('.');
    if (a == std::string_view::npos || a == 0) return std::nullopt;
    auto b = jwt.find('.', a + 1);
    if (b == std::string_view::npos || b == a + 1 || b + 1 >= jwt.size()) return std::nullopt;
    std::string payload(jwt.substr(a + 1, b - a - 1));
    std::replace(payload.begin(), payload.end(), '-', '+');
    std::replace(payload.begin(), payload.end(), '_', '/');
    while (payload.size() % 4) payload += '=';
    return detail::base64_decode(payload);
}

std::string unsigned_jwt(std::string_view claims_json) {
    return detail::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + detail::base64url_encode(claims_json) +
           "." + detail::base64url_encode(kPlaceholderMarker);
}

Result<LoginRecord> import_host_login(LoginProvider p, std::string_view text, Seconds now) {
    const auto where = [p] { return std::string(host_login_path(p)); };
    auto v = parse_json(text);
    if (!v || !v->is_object())
        return make_error(fmt::format("the {} login file is not JSON; give the CLI's own file (~/{})",
                                      provider_name(p), where()));
    LoginRecord r;
    r.provider = p;
    r.obtained_at = now;
    switch (p) {
        case LoginProvider::claude: {
            const json::value* o = member(*v, "claudeAiOauth");
            if (!o || !o->is_object())
                return make_error(fmt::format("no \"claudeAiOauth\" in the Claude login file; log in with 'claude' on "
                                              "the host first (~/{})", where()));
            r.access_token = str(member(*o, "accessToken"));
            r.refresh_token = str(member(*o, "refreshToken"));
            r.expires_at = num(member(*o, "expiresAt")) / 1000;
            r.plan = str(member(*o, "subscriptionType"));
            if (const json::value* s = member(*o, "scopes"); s && s->is_array()) {
                for (const auto& e : s->as_array())
                    if (e.is_string()) r.scopes += (r.scopes.empty() ? "" : " ") + std::string(e.as_string());
            }
            break;
        }
        case LoginProvider::chatgpt: {
            const json::value* t = member(*v, "tokens");
            if (!t || !t->is_object())
                return make_error(fmt::format("no \"tokens\" in the Codex login file (an API-key login?); run 'codex "
                                              "login' with ChatGPT on the host first (~/{})", where()));
            r.access_token = str(member(*t, "access_token"));
            r.refresh_token = str(member(*t, "refresh_token"));
            r.id_token = str(member(*t, "id_token"));
            r.account_id = str(member(*t, "account_id"));
            if (auto payload = jwt_payload(r.access_token); payload)
                if (auto claims = parse_json(*payload)) r.expires_at = num(member(*claims, "exp"));
            if (auto payload = jwt_payload(r.id_token); payload) {
                if (auto claims = parse_json(*payload)) {
                    r.email = str(member(*claims, "email"));
                    if (const json::value* prof = member(*claims, "https://api.openai.com/profile"); r.email.empty() && prof)
                        r.email = str(member(*prof, "email"));
                    if (const json::value* auth = member(*claims, "https://api.openai.com/auth")) {
                        r.plan = str(member(*auth, "chatgpt_plan_type"));
                        if (r.account_id.empty()) r.account_id = str(member(*auth, "chatgpt_account_id"));
                    }
                }
            }
            break;
        }
        case LoginProvider::google: {
            r.access_token = str(member(*v, "access_token"));
            r.refresh_token = str(member(*v, "refresh_token"));
            r.id_token = str(member(*v, "id_token"));
            r.scopes = str(member(*v, "scope"));
            r.expires_at = num(member(*v, "expiry_date")) / 1000;
            break;
        }
    }
    if (r.refresh_token.empty())
        return make_error(fmt::format("the {} login file has no refresh token; log in with the CLI on the host "
                                      "first (~/{})", provider_name(p), where()));
    if (r.refresh_token.find(kPlaceholderMarker) != std::string::npos)
        return make_error(fmt::format("the {} login file holds airlock's placeholders (a session's file?); give the "
                                      "host's own login (~/{})", provider_name(p), where()));
    // An access token without a known expiry is refreshed at once.
    if (r.expires_at <= 0 || r.access_token.empty()) r.expires_at = now;
    return r;
}

std::chrono::seconds refresh_margin(const LoginRecord& r) {
    Seconds life = r.expires_at - r.obtained_at;
    Seconds m = std::min<Seconds>(300, life / 5);
    return std::chrono::seconds(std::max<Seconds>(1, m));
}

TokenState token_state(const LoginRecord& r, Seconds now) {
    if (r.state != "ok") return TokenState::revoked;
    if (r.access_token.empty() || now >= r.expires_at) return TokenState::expired;
    if (now >= r.expires_at - refresh_margin(r).count()) return TokenState::refresh_due;
    return TokenState::valid;
}

Seconds refresh_due_at(const LoginRecord& r) { return r.expires_at - refresh_margin(r).count(); }

Endpoint token_endpoint(LoginProvider p) {
    switch (p) {
        case LoginProvider::claude: return {"platform.claude.com", "/v1/oauth/token"};
        case LoginProvider::chatgpt: return {"auth.openai.com", "/oauth/token"};
        case LoginProvider::google: return {"oauth2.googleapis.com", "/token"};
    }
    return {};
}

std::vector<std::string> login_hosts(LoginProvider p) {
    switch (p) {
        case LoginProvider::claude: return {"api.anthropic.com", "console.anthropic.com", "platform.claude.com"};
        case LoginProvider::chatgpt: return {"chatgpt.com", "auth.openai.com"};
        case LoginProvider::google: return {"cloudcode-pa.googleapis.com", "oauth2.googleapis.com"};
    }
    return {};
}

RefreshRequest refresh_request(const LoginRecord& r) {
    switch (r.provider) {
        case LoginProvider::claude:
            return {"application/json", json::serialize(json::object{{"grant_type", "refresh_token"},
                                                                     {"refresh_token", r.refresh_token},
                                                                     {"client_id", kClaudeClientId}})};
        case LoginProvider::chatgpt:
            return {"application/json", json::serialize(json::object{{"client_id", kCodexClientId},
                                                                     {"grant_type", "refresh_token"},
                                                                     {"refresh_token", r.refresh_token}})};
        case LoginProvider::google:
            return {"application/x-www-form-urlencoded",
                    fmt::format("grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
                                form_encode(r.refresh_token), form_encode(kGeminiClientId),
                                form_encode(kGeminiClientSecret))};
    }
    return {};
}

RefreshOutcome apply_refresh_response(const LoginRecord& before, int status, std::string_view body, Seconds now) {
    RefreshOutcome out;
    if (status == 400 || status == 401 || status == 403) {
        auto code = error_code(body);
        out.kind = RefreshOutcome::revoked;
        out.error = fmt::format("the provider refused the refresh token (HTTP {}{}{})", status,
                                code.empty() ? "" : ": ", code);
        return out;
    }
    if (status < 200 || status > 299) {
        out.kind = RefreshOutcome::transient;
        auto code = error_code(body);
        out.error = fmt::format("the token endpoint answered HTTP {}{}{}", status, code.empty() ? "" : ": ", code);
        return out;
    }
    auto v = parse_json(body);
    std::string access = v ? str(member(*v, "access_token")) : "";
    if (access.empty()) {
        out.kind = RefreshOutcome::transient;
        out.error = "the token endpoint's answer has no access_token";
        return out;
    }
    LoginRecord r = before;
    r.access_token = access;
    if (auto rt = str(member(*v, "refresh_token")); !rt.empty()) r.refresh_token = rt;
    if (auto id = str(member(*v, "id_token")); !id.empty()) r.id_token = id;
    if (auto sc = str(member(*v, "scope")); !sc.empty()) r.scopes = sc;
    Seconds expires_in = num(member(*v, "expires_in"));
    if (expires_in <= 0)
        if (auto payload = jwt_payload(access))
            if (auto claims = parse_json(*payload)) expires_in = num(member(*claims, "exp")) - now;
    if (expires_in <= 0) expires_in = 3600;
    r.obtained_at = now;
    r.expires_at = now + expires_in;
    r.refreshed_at = now;
    r.refreshes = before.refreshes + 1;
    r.state = "ok";
    r.error.clear();
    out.kind = RefreshOutcome::refreshed;
    out.record = std::move(r);
    return out;
}

LoginAction classify_login_request(LoginProvider p, std::string_view host, std::string_view method,
                                   std::string_view target) {
    const std::string h = canonical_host(host);
    const std::string path = path_only(target);
    switch (p) {
        case LoginProvider::claude:
            if ((h == "platform.claude.com" || h == "console.anthropic.com") && method == "POST" &&
                path == "/v1/oauth/token")
                return LoginAction::answer_token;
            break;
        case LoginProvider::chatgpt:
            if (h == "auth.openai.com" && method == "POST" && path == "/oauth/token") return LoginAction::answer_token;
            break;
        case LoginProvider::google:
            if (h == "oauth2.googleapis.com" && method == "POST" && path == "/token") return LoginAction::answer_token;
            if (h == "oauth2.googleapis.com" && path == "/tokeninfo") return LoginAction::answer_tokeninfo;
            break;
    }
    return LoginAction::inject;
}

HeaderSet login_headers(const LoginRecord& r, std::string_view host) {
    HeaderSet out;
    out.set.emplace_back("Authorization", "Bearer " + r.access_token);
    if (r.provider == LoginProvider::claude) out.remove.push_back("x-api-key");
    if (r.provider == LoginProvider::chatgpt && canonical_host(host) == "chatgpt.com") {
        out.remove.push_back("ChatGPT-Account-ID");
        if (!r.account_id.empty()) out.set.emplace_back("ChatGPT-Account-ID", r.account_id);
    }
    return out;
}

std::string local_token_reply(const LoginRecord& r, LoginAction action, Seconds now) {
    if (action == LoginAction::answer_tokeninfo) {
        json::object o{{"azp", kGeminiClientId},     {"aud", kGeminiClientId},
                       {"scope", r.scopes},          {"exp", std::to_string(now + 3599)},
                       {"expires_in", "3599"},       {"access_type", "offline"}};
        if (!r.email.empty()) o["email"] = r.email;
        return http_json(200, json::serialize(o));
    }
    json::object o{{"access_token", placeholder_access_token(r, now)},
                   {"refresh_token", placeholder_refresh_token(r.provider)},
                   {"token_type", "Bearer"}};
    switch (r.provider) {
        case LoginProvider::claude:
            o["expires_in"] = kYear;
            o["scope"] = r.scopes;
            break;
        case LoginProvider::chatgpt:
            o["id_token"] = placeholder_id_token(r, now);
            o["expires_in"] = kYear;
            break;
        case LoginProvider::google:
            o["expires_in"] = 3599;
            o["scope"] = r.scopes;
            break;
    }
    return http_json(200, json::serialize(o));
}

std::string login_fix_command(std::string_view login_name, LoginProvider p) {
    return fmt::format("airlock credential add {} --login {}", login_name, provider_name(p));
}

std::string login_expired_reply(std::string_view login_name, LoginProvider p, std::string_view why) {
    return proxy_reply(FailureKind::login_expired,
                       fmt::format("the {} login '{}' has expired ({}); log in with the CLI on the host, then run: {}",
                                   provider_name(p), login_name, why, login_fix_command(login_name, p)));
}

std::vector<HomeFileContent> placeholder_files(const LoginRecord& r, Seconds now) {
    std::vector<HomeFileContent> out;
    switch (r.provider) {
        case LoginProvider::claude: {
            json::object o{{"accessToken", placeholder_access_token(r, now)},
                           {"refreshToken", placeholder_refresh_token(r.provider)},
                           {"expiresAt", (now + kYear) * 1000},
                           {"scopes", scope_array(r.scopes)}};
            if (!r.plan.empty()) o["subscriptionType"] = r.plan;
            out.push_back({".claude/.credentials.json", json::serialize(json::object{{"claudeAiOauth", o}}) + "\n"});
            break;
        }
        case LoginProvider::chatgpt: {
            json::object tokens{{"id_token", placeholder_id_token(r, now)},
                                {"access_token", placeholder_access_token(r, now)},
                                {"refresh_token", placeholder_refresh_token(r.provider)},
                                {"account_id", r.account_id}};
            json::object o{{"OPENAI_API_KEY", nullptr}, {"tokens", tokens}, {"last_refresh", rfc3339(now)}};
            out.push_back({".codex/auth.json", json::serialize(o) + "\n"});
            break;
        }
        case LoginProvider::google: {
            json::object o{{"access_token", placeholder_access_token(r, now)},
                           {"refresh_token", placeholder_refresh_token(r.provider)},
                           {"scope", r.scopes},
                           {"token_type", "Bearer"},
                           {"expiry_date", (now + kYear) * 1000}};
            out.push_back({".gemini/oauth_creds.json", json::serialize(o) + "\n"});
            break;
        }
    }
    return out;
}

}  // namespace airlock::proxy
