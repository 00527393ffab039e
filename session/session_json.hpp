#pragma once
// A session as JSON, as `airlock list --json` / `show --json` print it and the dashboard
// serves it: the stored fields, the engine's state, the network's reach. Never a secret (a
// session holds none: its proxy token lives in the proxy's client store).

#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "session/manager.hpp"
#include "session/session_repo.hpp"

namespace airlock::session {

boost::json::object session_json(const SessionView& view, const std::string& home_id);

// The branch's commits, newest first: [{"id","summary","author","time"}].
boost::json::array commits_json(const BranchLog& log);

// What `airlock sync` says about a SyncResult (one line), and whether it was a refusal
// (nothing moved; the message says what to do).
struct SyncMessage {
    bool refused = false;
    std::string message;
};
SyncMessage sync_message(const SyncResult& r, const std::string& branch, const std::string& session);

}  // namespace airlock::session
