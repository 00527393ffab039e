#pragma once
// Where containers reach the host: the Docker bridge gateway address(es), which the proxy
// listens on by default (src/ fills ServerOptions::listen; the proxy knows no Docker).

#include <string>
#include <vector>

namespace airlock {

// The IPv4 addresses of the docker0 and br-* interfaces that are up (what containers reach
// as host.docker.internal). Empty when there is none.
std::vector<std::string> docker_bridge_addresses();

}  // namespace airlock
