#pragma once
// Bringing a session's branch across when its container stops, also when no airlock command
// runs at that moment (the agent finished on its own): create, refresh and start leave a
// detached `airlock _watch SESSION CONTAINER` process that waits for the container to stop,
// runs the sync (SessionManager::sync, fast-forward only) and exits.

#include <string>

#include "airlock/result.hpp"
#include "paths.hpp"

namespace airlock {

// Starts the watcher in its own session (setsid), stdio on /dev/null, no inherited
// descriptors; returns once it is started. Errors only when fork fails.
Status spawn_sync_watcher(const Paths& paths, const std::string& session, const std::string& container_id);

}  // namespace airlock
