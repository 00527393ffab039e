#pragma once
// What a user asks of `create` (the CLI's options, the dashboard's form) before the
// configuration's defaults are filled in (src/session_world.hpp: make_create_request).
// Empty or unset values take the defaults.

#include <cstdint>
#include <string>
#include <vector>

namespace airlock::session {

struct CreateOptions {
    std::string image, prompt, name, repo = ".", base, agent = "claude";
    std::string cpus, memory, pull_policy, network;
    std::int64_t pids = 0;
    bool pids_set = false;
    bool read_only = false;
    std::vector<std::string> env, credentials;
};

}  // namespace airlock::session
