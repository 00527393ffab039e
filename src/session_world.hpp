#pragma once
// Everything a session operation needs, opened once: configuration, engine, store, the
// proxy's client store and the SessionManager over them. The CLI's session commands and the
// dashboard (airlock ui) open it the same way, and turn a user's create options into a
// CreateRequest with the same defaults and checks.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "backends/backend.hpp"
#include "paths.hpp"
#include "session/create_options.hpp"
#include "session/manager.hpp"
#include "session/store.hpp"

namespace airlock {

// Every member the manager refers to lives on the heap, so a World may be moved.
struct World {
    Config config;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<session::SessionStore> store;
    std::unique_ptr<session::ProxyClients> clients;
    std::unique_ptr<session::SessionManager> manager;
    std::string home_id;  // this home's id (in container and volume names)
};

// What an operation needs beyond config, engine and stores. Only operations that build a
// container (create, refresh) ask for these: the CA may be created here, and the git
// identity costs two `git config` processes.
struct WorldNeeds {
    bool ca = false;            // the CA (created when missing) and the containers' CA bundle
    bool git_identity = false;  // the host's git author, passed into new containers
};

// `note` gets a line for something done on the way ("created the CA in ...").
Result<World> open_world(const Paths& paths, WorldNeeds needs = {},
                         const std::function<void(const std::string&)>& note = {});

using session::CreateOptions;

// Checks the options and fills in the defaults, exactly as `airlock create` does. The
// error is one line naming the bad option and the fix (a usage error for the CLI).
Result<session::CreateRequest> make_create_request(const CreateOptions& options, const Config& config,
                                                   const Paths& paths);

}  // namespace airlock
