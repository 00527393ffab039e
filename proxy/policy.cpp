#include "proxy/policy.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "proxy/hosts.hpp"

namespace airlock::proxy {

bool ClientScope::allows(std::string_view rule_name) const {
    return rules.empty() || rules.find(std::string(rule_name)) != rules.end();
}

std::string_view to_string(Decision::Kind kind) {
    switch (kind) {
        case Decision::intercept: return "intercept";
        case Decision::tunnel: return "tunnel";
        case Decision::deny: return "deny";
    }
    return "deny";
}

Decision decide(std::string_view host, std::uint16_t port, const ClientScope& client,
                const Config& cfg) {
    const auto& ports = cfg.proxy.ports;
    if (port != 443 && std::find(ports.begin(), ports.end(), port) == ports.end()) {
        return Decision{Decision::deny, nullptr, 403,
                        fmt::format("port {} is not allowed; add it to [proxy] ports", port)};
    }
    for (const auto& rule : cfg.credentials) {
        if (host_matches_any(rule.hosts, host) && client.allows(rule.name))
            return Decision{Decision::intercept, &rule, 0, {}};
    }
    if (cfg.proxy.unmatched == Unmatched::tunnel) return Decision{Decision::tunnel, nullptr, 0, {}};
    if (host_matches_any(cfg.proxy.allow, host)) return Decision{Decision::tunnel, nullptr, 0, {}};
    return Decision{
        Decision::deny, nullptr, 403,
        fmt::format("host {} is not allowed: it has no credential rule and [proxy] unmatched "
                    "is \"deny\"; add it to [proxy] allow to permit it",
                    canonical_host(host))};
}

bool host_configured(std::string_view host, const Config& cfg) {
    if (host_matches_any(cfg.proxy.allow, host)) return true;
    for (const auto& rule : cfg.credentials)
        if (host_matches_any(rule.hosts, host)) return true;
    return false;
}

}  // namespace airlock::proxy
