#include "session/network.hpp"

#include <fmt/core.h>

namespace airlock::session {

NetworkKind network_kind(std::string_view network) {
    if (network == "confined") return NetworkKind::confined;
    if (network == "open" || network == "bridge") return NetworkKind::open;
    if (network == "none") return NetworkKind::none;
    return NetworkKind::user;
}

std::string docker_network_mode(std::string_view network) {
    switch (network_kind(network)) {
        case NetworkKind::confined:
        case NetworkKind::none: return "none";
        case NetworkKind::open: return "bridge";
        case NetworkKind::user: break;
    }
    return std::string(network);
}

std::string describe_network(std::string_view network) {
    switch (network_kind(network)) {
        case NetworkKind::confined:
            return "confined: the proxy is all the agent can reach (no host ports, LAN, metadata, other containers "
                   "or DNS)";
        case NetworkKind::open:
            return fmt::format("{} (UNCONFINED): direct access to the host, the LAN and the internet, around the "
                               "proxy's policy",
                               network);
        case NetworkKind::none:
            return "none: no network at all; the agent cannot reach the proxy, so not its API either";
        case NetworkKind::user: break;
    }
    return fmt::format("the Docker network '{}' (UNCONFINED): whatever that network reaches, around the proxy's policy",
                       network);
}

std::string network_column(std::string_view network) {
    switch (network_kind(network)) {
        case NetworkKind::confined: return "confined";
        case NetworkKind::none: return "none (no network)";
        case NetworkKind::open:
        case NetworkKind::user: break;
    }
    return fmt::format("{} (unconfined)", network);
}

Status validate_network(std::string_view network, std::string_view what) {
    bool ok = !network.empty() && network.front() != '.' && network.front() != '-' && network.size() <= 128;
    for (char c : network)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-');
    if (!ok)
        return make_error(fmt::format("{} '{}': expected confined, open, none or the name of a Docker network", what,
                                      network));
    return {};
}

}  // namespace airlock::session
