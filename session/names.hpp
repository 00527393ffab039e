#pragma once
// Session names. A name becomes a container name, the branch airlock/<name>, the
// directory $AIRLOCK_HOME/worktrees/<name> and the proxy client name, so it is kept to
// what all four accept: [a-z0-9][a-z0-9-]{0,47}, no trailing '-', no "--".

#include <cstddef>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::session {

inline constexpr std::size_t kMaxSessionNameLength = 48;

// A name derived from a prompt: ASCII letters lowercased, runs of [a-z0-9] as words
// (everything else separates words), at most 4 words and 30 characters, then '-' and
// `suffix`. "Fix the failing test!" + "k3x9" -> "fix-the-failing-test-k3x9". A prompt
// without any [a-z0-9] gives "session-<suffix>". A word longer than 30 characters is cut.
// `suffix` should come from random_suffix(4); characters outside [a-z0-9] are dropped.
// The result passes validate_session_name when the suffix is 1..17 characters.
std::string slug_from_prompt(std::string_view prompt, std::string_view suffix);

// Checks a session name (user-given --name or derived). The error names the offending
// character or rule and says what is allowed and why.
Status validate_session_name(std::string_view name);

// `length` characters of [a-z0-9] from the kernel CSPRNG (getrandom(2)), uniformly
// distributed. Throws std::system_error only if the kernel cannot provide randomness.
std::string random_suffix(std::size_t length = 4);

}  // namespace airlock::session
