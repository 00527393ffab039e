#pragma once
// Credential rules applied to an intercepted request: what header to set, to what value,
// and which client-sent headers to drop. Pure; the secret is passed in by the caller
// (the secrets module loads it and strips a trailing newline).

#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "proxy/http_request.hpp"

namespace airlock::proxy {

// Renders rule.value_template with the secret:
//  - every "{secret}" is replaced (an empty template means "{secret}");
//  - "Basic user:{secret}" (starts with "Basic " and the rest contains ':') becomes
//    "Basic " + base64("user:" + secret).
// Errors (naming the rule, never the secret): empty secret, a secret with control
// characters (CR/LF would inject headers), a template without "{secret}".
Result<std::string> render_value(const CredentialRule& rule, std::string_view secret);

// What to change in a request head.
struct HeaderEdit {
    std::vector<std::string> remove;  // field names to drop (case-insensitive)
    std::string name;                 // field to set
    std::string value;                // its value (contains the secret: never log it)
};

// The edit for a request to `host` (canonical) under `rule`:
//  - preset "anthropic" with an OAuth token (secret starts with "sk-ant-oat"):
//    Authorization: Bearer <secret>, and x-api-key removed;
//  - preset "github": github.com (git over HTTPS) gets
//    Authorization: Basic base64("x-access-token:" + secret); any other host
//    (api.github.com, ...) gets Authorization: Bearer <secret>;
//  - otherwise rule.header: render_value(rule, secret).
// Errors as render_value, and a rule without a header.
Result<HeaderEdit> credential_edit(const CredentialRule& rule, std::string_view secret,
                                   std::string_view host);

// Removes every field named edit.name or in edit.remove (case-insensitive) and appends
// edit.name: edit.value. The placeholder the client sent is replaced, never duplicated.
void apply(const HeaderEdit& edit, RequestHead& head);

// What preparing a request found.
struct PreparedRequest {
    bool close_client = false;  // the client closes its connection after this exchange
    std::string credential_error;  // the rule's credential could not be set (logged; no secret)
};

// Turns an intercepted client request for `host` (already checked by check_framing) into
// the request the upstream gets under `rule`: Proxy-Authorization and Proxy-Connection
// dropped, an origin-form target, the rule's credential set (credential_edit + apply; on
// error the request goes without it and credential_error says why), and, when the client
// closes its connection on HTTP/1.1, its Connection field dropped (hop-by-hop: the
// upstream connection stays for reuse; a WebSocket upgrade keeps it).
PreparedRequest prepare_upstream_request(RequestHead& head, const CredentialRule& rule, std::string_view secret,
                                         std::string_view host);

}  // namespace airlock::proxy
