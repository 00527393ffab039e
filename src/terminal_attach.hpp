#pragma once
// airlock attach: this process's terminal wired to a container's TTY through
// Backend::attach, until the container exits or the user detaches (ctrl-p ctrl-q).

#include <string>

#include "airlock/result.hpp"
#include "backends/backend.hpp"

namespace airlock {

// Relays stdin -> container and container -> stdout until the engine closes the stream
// (the container exited, or the user typed ctrl-p ctrl-q and the engine detached us).
//
// When stdin is a TTY it is put in raw mode for the duration (restored on every exit path,
// including SIGINT, SIGTERM and SIGHUP, which then take their default action); the
// container's TTY gets this terminal's size at once and again on every SIGWINCH. When
// stdin is not a TTY the bytes are relayed all the same, and its end shuts down the write
// side of the connection (the engine then ends the attach; the container keeps running).
//
// Afterwards prints one line on stderr, from inspecting the container:
//   "detached from <name> (ctrl-p ctrl-q)"   the container is still running
//   "session <name> exited (code N)"         it stopped
// and returns N when it exited, 0 when detached. `display_name` empty: the container's name.
// Errors: the container cannot be attached (not found, not running, TLS engine), or the
// terminal cannot be read or written.
Result<int> relay_terminal(Backend& backend, const std::string& container_id,
                           const std::string& display_name = {});

}  // namespace airlock
