#pragma once
// Where a CONNECT may go and what the proxy does with it: intercept (a credential rule
// applies), tunnel (blind TCP relay) or deny. Pure: reads the Config, does no I/O.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "airlock/settings.hpp"

namespace airlock::proxy {

// The credential scope of an authenticated client (a session).
struct ClientScope {
    std::string name;             // session name, for messages and the audit log
    std::set<std::string> rules;  // credential rule names it may use; empty = all rules

    bool allows(std::string_view rule_name) const;
};

struct Decision {
    enum Kind { intercept, tunnel, deny };
    Kind kind = deny;
    // For intercept: the rule to apply. Points into the Config passed to decide(), so it
    // is valid exactly as long as that Config (hold its shared_ptr<const Config>).
    const CredentialRule* rule = nullptr;
    int status = 0;       // for deny: the HTTP status to answer the CONNECT with (403)
    std::string reason;   // for deny: one line for the client and the audit log
};

// "intercept" | "tunnel" | "deny"
std::string_view to_string(Decision::Kind kind);

// Decides a CONNECT to host:port (host canonical, as from parse_authority):
//  1. port not 443 and not in cfg.proxy.ports      -> deny 403
//  2. first credential rule whose hosts match and which the client may use -> intercept
//  3. cfg.proxy.unmatched == tunnel                 -> tunnel
//  4. host matches cfg.proxy.allow                  -> tunnel
//  5. otherwise                                     -> deny 403
Decision decide(std::string_view host, std::uint16_t port, const ClientScope& client,
                const Config& cfg);

// True when the user named this host in the configuration ([proxy] allow or the hosts
// of any credential rule): such a host may resolve to a private/loopback address
// (see guard.hpp, filter_destinations' host_allowed_by_config).
bool host_configured(std::string_view host, const Config& cfg);

}  // namespace airlock::proxy
