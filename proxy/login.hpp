#pragma once
// Subscription logins (Claude, ChatGPT for Codex, Google for Gemini CLI) as plain data, and
// every decision about them as a pure function: reading the host CLI's login file, the
// record airlock stores, when a token must be refreshed (an injectable clock: `now` is a
// parameter everywhere), the refresh request and what its answer means, which requests of a
// session are the CLI's own token refreshes (answered by the proxy, never forwarded), the
// answers the proxy gives them, the headers injected upstream, and the placeholder login
// files a session's home gets. The broker (login_broker.hpp) does the I/O.
//
// Nothing here logs; error messages never contain a token.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"

namespace airlock::proxy {

enum class LoginProvider { claude, chatgpt, google };

// "claude" | "chatgpt" | "google"; nullopt for anything else.
std::optional<LoginProvider> login_provider(std::string_view name);
std::string_view provider_name(LoginProvider p);

using Seconds = std::int64_t;  // Unix time in seconds

// One stored login: what airlock keeps in $AIRLOCK_HOME/logins/<name>.json (0600).
struct LoginRecord {
    LoginProvider provider = LoginProvider::claude;
    std::string access_token;
    std::string refresh_token;
    std::string id_token;        // chatgpt: the OpenID token (its claims name the account)
    Seconds expires_at = 0;      // of the access token
    Seconds obtained_at = 0;     // when the access token was issued (import or refresh)
    std::string account_id;      // chatgpt: ChatGPT-Account-ID
    std::string email;
    std::string plan;            // chatgpt plan type / claude subscriptionType
    std::string scopes;          // space-separated
    // "ok", or "expired": the provider refused the refresh token (revoked, expired,
    // reused); `error` says what it answered. Fixed by importing the login again.
    std::string state = "ok";
    std::string error;
    Seconds refreshed_at = 0;    // last successful refresh by airlock (0: never)
    std::uint64_t refreshes = 0;

    bool operator==(const LoginRecord&) const = default;
};

// The record as the JSON airlock stores, and back. parse errors name `what`.
std::string serialize_login(const LoginRecord& r);
Result<LoginRecord> parse_login(std::string_view json, std::string_view what);

// The login of the provider's own CLI on the host, from the file it keeps it in:
//  claude:  ~/.claude/.credentials.json {"claudeAiOauth": {accessToken, refreshToken,
//           expiresAt (ms), scopes [...], subscriptionType}}
//  chatgpt: $CODEX_HOME/auth.json {"tokens": {id_token, access_token, refresh_token,
//           account_id}, last_refresh}; the expiry is the access token's JWT "exp"
//  google:  ~/.gemini/oauth_creds.json {access_token, refresh_token, scope, expiry_date (ms)}
// Errors (one line, the fix, never a token): not JSON, no refresh token, the wrong kind of file.
Result<LoginRecord> import_host_login(LoginProvider p, std::string_view file_text, Seconds now);

// Where each provider's CLI keeps its login on the host, relative to $HOME (chatgpt:
// $CODEX_HOME/auth.json when CODEX_HOME is set; the caller decides).
std::string_view host_login_path(LoginProvider p);

// ---- When to refresh ----------------------------------------------------------------

enum class TokenState {
    valid,        // use the access token
    refresh_due,  // still usable, but refresh now (within the margin before expiry)
    expired,      // past its expiry: refresh before use
    revoked,      // the provider refused the refresh token: only a new import helps
};

// The margin: a fifth of the token's lifetime, at most 5 minutes, at least 1 second.
std::chrono::seconds refresh_margin(const LoginRecord& r);
TokenState token_state(const LoginRecord& r, Seconds now);
// When the broker should look at this login next (state valid: at expiry - margin).
Seconds refresh_due_at(const LoginRecord& r);

// ---- The provider's endpoints --------------------------------------------------------

struct Endpoint {
    std::string host;
    std::string path;
};

// Where airlock refreshes (the same endpoint the CLI uses).
Endpoint token_endpoint(LoginProvider p);
// Every host of the login: the API hosts the access token is injected on and the hosts of
// the token endpoints the CLI may call (answered locally).
std::vector<std::string> login_hosts(LoginProvider p);

// The refresh request airlock sends (a POST to token_endpoint).
struct RefreshRequest {
    std::string content_type;
    std::string body;  // contains the refresh token: never log it
};
RefreshRequest refresh_request(const LoginRecord& r);

// What the provider's answer to a refresh means.
struct RefreshOutcome {
    enum Kind { refreshed, revoked, transient } kind = transient;
    LoginRecord record;   // refreshed: the new tokens (rotated refresh token kept when sent)
    std::string error;    // revoked/transient: one line naming the provider's error code
};
RefreshOutcome apply_refresh_response(const LoginRecord& before, int status, std::string_view body, Seconds now);

// ---- A session's requests ------------------------------------------------------------

enum class LoginAction {
    inject,        // forward with the current access token
    answer_token,  // the CLI refreshing by itself: answer with placeholder tokens
    answer_tokeninfo,  // google: tokeninfo about the placeholder: answer locally
};
// `path` may carry a query; method is compared case-sensitively (HTTP methods are).
LoginAction classify_login_request(LoginProvider p, std::string_view host, std::string_view method,
                                   std::string_view path);

struct HeaderSet {
    std::vector<std::string> remove;
    std::vector<std::pair<std::string, std::string>> set;  // values hold the token: never log
};
// The headers an injected request gets: Authorization: Bearer <token> (x-api-key removed
// for claude); chatgpt also ChatGPT-Account-ID on chatgpt.com when the account is known.
HeaderSet login_headers(const LoginRecord& r, std::string_view host);

// A complete HTTP/1.1 response (Connection: close) the proxy sends for answer_token /
// answer_tokeninfo: placeholder tokens only, shaped like the provider's answer, or when the
// login is expired a 401 (login_expired_reply).
std::string local_token_reply(const LoginRecord& r, LoginAction action, Seconds now);
// 401 with X-Airlock-Error: login-expired and the one command that fixes it.
std::string login_expired_reply(std::string_view login_name, LoginProvider p, std::string_view why);
std::string login_fix_command(std::string_view login_name, LoginProvider p);

// ---- Placeholders --------------------------------------------------------------------

// The placeholder values: recognisable, never a real token.
inline constexpr std::string_view kPlaceholderMarker = "airlock-placeholder";

// An unsigned JWT (alg "none") with `claims_json` as its payload and a non-empty dummy
// signature part, so parsers that split on '.' and decode the payload accept it.
std::string unsigned_jwt(std::string_view claims_json);
// The payload of a JWT as JSON text; nullopt if it is not header.payload.signature.
std::optional<std::string> jwt_payload(std::string_view jwt);

struct HomeFileContent {
    std::string path;     // relative to the agent's home, e.g. ".codex/auth.json"
    std::string content;
    unsigned mode = 0600;
};
// The login file the provider's CLI reads, holding placeholders only (account metadata
// from `r`: account id, email, plan, scopes), with far-future expiries so the CLI does not
// try to refresh (and when it does, the proxy answers).
std::vector<HomeFileContent> placeholder_files(const LoginRecord& r, Seconds now);

}  // namespace airlock::proxy
