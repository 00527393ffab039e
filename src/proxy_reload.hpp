#pragma once
// Reloading a running proxy and learning whether the reload worked: SIGHUP, then watch
// the reload counter on its control socket (success) and proxy.log (the failure line,
// e.g. a secret whose environment variable the proxy does not have).

#include <chrono>
#include <string>

#include "airlock/result.hpp"
#include "paths.hpp"

namespace airlock {

enum class ReloadOutcome { not_running, reloaded };

// Not running is not an error. An error is the proxy's own reason, one line, ending with
// how to see more; the proxy keeps serving its previous rules in that case.
Result<ReloadOutcome> reload_running_proxy(const Paths& paths,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(15));

// The reason after "reload failed: " in the part of proxy.log text given, or "" if none.
std::string reload_failure_in_log(std::string_view log_text);

}  // namespace airlock
