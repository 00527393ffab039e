#pragma once
// The files and variables an agent definition ([agent.<name>] env and files) puts into a
// session: which names and paths are allowed, which files a create or refresh writes into
// the session's home volume, and the container's environment with later settings
// replacing earlier ones. Pure functions over plain data; the manager does the I/O.

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"

namespace airlock::session {

// A file path inside the session's home: relative, '/'-separated, no "." or ".." parts, no
// empty parts, no control characters, at most 240 bytes. The error says what is wrong.
Status validate_home_file_path(std::string_view path);

// Variables airlock owns in every container (the proxy URL with the session's token, the
// session's name, the home): an agent definition may not set them.
bool is_reserved_agent_env(std::string_view name);

// The largest file content an agent definition may carry (1 MiB).
inline constexpr std::size_t kMaxAgentFileBytes = 1 << 20;

// The files to write now: every file marked overwrite, and every other file whose path is
// not in `existing` (paths that exist in the home, as the engine reported them). So a
// refresh never clobbers what the agent changed unless the definition says overwrite.
std::vector<AgentFile> files_to_write(const std::vector<AgentFile>& files, const std::set<std::string>& existing);

// Sets "NAME=value" in `env`, replacing an earlier entry of that name (the first of
// duplicates is what getenv() returns, so a later setting must replace, not append).
void set_env(std::vector<std::string>& env, std::string_view entry);

}  // namespace airlock::session
