#pragma once
// Internal to proxy/: what the request loop does for a request under a login rule (a
// [[credential]] with login = "..."), in one call, so the loop itself changes by a few
// lines. The decisions are login.hpp's; the tokens the broker's.

#include <boost/asio/awaitable.hpp>

#include <string>

#include "airlock/settings.hpp"
#include "proxy/audit.hpp"
#include "proxy/http_request.hpp"
#include "proxy/login_broker.hpp"

namespace airlock::proxy {

struct LoginStep {
    std::string reply;  // non-empty: send this and close (the proxy answered); nothing goes upstream
    std::string token;  // else: the access token injected into `head` (never log it)
};

// For a request to `host` under `rule` (rule.login set):
//  - the CLI's own token refresh (or Google's tokeninfo): answered with placeholder tokens;
//  - a login whose refresh token was refused, or that is missing: 401 login-expired;
//  - otherwise the current access token (and the provider's other headers) set on `head`;
//    an access token past its expiry waits up to 10 s for the broker's refresh first.
// `record` gets the status and a line for the audit when the proxy answers.
boost::asio::awaitable<LoginStep> login_step(LoginBroker& broker, RequestHead& head, const CredentialRule& rule,
                                             const std::string& host, AuditRecord& record);

}  // namespace airlock::proxy
