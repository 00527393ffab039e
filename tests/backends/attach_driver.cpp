// airlock-test-attach: relay_terminal for one container, for tests/integration/attach.py.
//   airlock-test-attach <container id or name> [display name]
// Exits with what relay_terminal returns (the container's exit code, 0 when detached),
// or 125 with the error on stderr.
#include <cstdio>
#include <string>

#include "backends/docker/docker_backend.hpp"
#include "terminal_attach.hpp"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: airlock-test-attach <container> [display name]\n");
        return 2;
    }
    auto endpoint = airlock::docker::endpoint_from_env();
    if (!endpoint) {
        std::fprintf(stderr, "airlock-test-attach: %s\n", endpoint.error().message.c_str());
        return 125;
    }
    auto backend = airlock::docker::make_docker_backend(*endpoint);
    auto code = airlock::relay_terminal(*backend, argv[1], argc == 3 ? argv[2] : "");
    if (!code) {
        std::fprintf(stderr, "airlock-test-attach: %s\n", code.error().message.c_str());
        return 125;
    }
    return *code;
}
