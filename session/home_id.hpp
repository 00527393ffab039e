#pragma once
// The identity of one $AIRLOCK_HOME: 10 random characters of [a-z0-9] in <home>/home-id,
// made on first use. Containers and volumes carry it (label dev.airlock.home-id and their
// names), so two homes on one engine never see or touch each other's objects, and a home
// that moves keeps its sessions.

#include <filesystem>
#include <string>

#include "airlock/result.hpp"

namespace airlock::session {

// Reads <home>/home-id, or creates it (exclusively: concurrent first uses agree on one id).
// Errors: the file cannot be written, or holds something that is not an id.
Result<std::string> load_or_create_home_id(const std::filesystem::path& home);

}  // namespace airlock::session
