#pragma once
// The configuration file ($AIRLOCK_HOME/config.toml) to and from airlock::Config.
// The reference for every key is docs/configuration.md.
//
// Errors are one line, "<file>:<line>:<col>: <what was expected>", e.g.
//   /h/config.toml:3:15: [docker] pull_policy must be one of always, if-not-present, never (got "sometimes")
// Unknown keys and sections are errors, so a typo never silently falls back to a default.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "airlock/settings_text.hpp"

namespace airlock {

// Reads and validates `file`. A missing file is not an error: the result is
// default_config(). An unreadable file, a TOML syntax error or an invalid value is.
Result<Config> load_config(const std::filesystem::path& file);

// Parses and validates a config document; `source_name` (usually the file path) starts
// every error message. An empty document gives default_config().
Result<Config> parse_config(std::string_view text, std::string_view source_name);

// A TOML basic string (quoted, escaped) holding `s` exactly: for messages naming a key and
// for config.toml text airlock writes.
std::string toml_quote(std::string_view s);

// The configuration with no file: settings.hpp's defaults plus the built-in agents and
// the default cache volumes.
Config default_config();

// The effective configuration as TOML, every section with defaults included. It parses
// back (parse_config) to an equal Config. Secret sources are shown as where the secret
// comes from (file path, variable name, command); no secret value is ever read here.
std::string render_config(const Config& config);

// A commented config.toml: every section, commented out, with its default and an
// explanation. It parses to default_config().
std::string starter_config();

// Writes starter_config() to `file` with mode 0600, creating its directory (0700) when
// missing. Refuses to replace an existing file unless `force` (then replaced atomically).
Status write_starter_config(const std::filesystem::path& file, bool force);

// ---- Presets and built-ins (data) -------------------------------------------------

// The credential presets (anthropic, openai, github, gemini): name, preset, hosts, header,
// value_template and placeholder filled; secret is always left for the user to give.
std::span<const CredentialRule> credential_presets();
// nullptr when `name` is not a preset.
const CredentialRule* find_preset(std::string_view name);

// claude, codex, gemini, shell: always present unless a [agent.<name>] overrides them.
const std::map<std::string, AgentDefinition>& builtin_agents();

// The cache volumes used when the file has no [[cache]] (cache = [] means none).
const std::vector<CacheVolume>& default_caches();

// ---- Value helpers shared with the CLI flags --------------------------------------


// parse_pull_policy, to_string(PullPolicy), parse_unmatched, parse_prompt_mode ...:
// airlock/settings_text.hpp (one table per enum, shared with the session store).

}  // namespace airlock
