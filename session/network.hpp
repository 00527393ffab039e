#pragma once
// What a session's `network` value means (`[docker] network`, `create --network`), as plain
// decisions: create, show, list and the container spec all read them from here.
//
//   confined  the default: the container has no network but loopback; airlock-relay inside
//             it forwards 127.0.0.1:<port> to the proxy's Unix socket, the one way out
//   open      Docker's default bridge: direct access to the host, the LAN and the internet,
//             around the proxy (opt-in). "bridge" means the same.
//   none      no network at all: not even the proxy, so the agent cannot reach its API
//   <name>    an existing Docker network, as given: unconfined

#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::session {

enum class NetworkKind { confined, open, none, user };

inline constexpr const char* kDefaultNetwork = "confined";

NetworkKind network_kind(std::string_view network);

// The engine's NetworkMode for it: "none" (confined, none), "bridge" (open), or the name.
std::string docker_network_mode(std::string_view network);

// Only confined keeps the agent to the proxy.
inline bool is_confined(std::string_view network) { return network_kind(network) == NetworkKind::confined; }

// One line for people: what the session can reach, e.g.
// "open: direct access to the host, the LAN and the internet, around the proxy".
std::string describe_network(std::string_view network);

// The short form `list` shows: "confined", "open (unconfined)", "none (no network)",
// "mynet (unconfined)".
std::string network_column(std::string_view network);

// A value a user typed: confined | open | none | a Docker network name (letters, digits,
// '_', '.', '-'; not starting with '.' or '-'). `what` names the setting in the message.
Status validate_network(std::string_view network, std::string_view what = "--network");

}  // namespace airlock::session
