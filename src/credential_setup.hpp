#pragma once
// The decisions behind `airlock credential add|list` and `airlock init`, as plain
// functions: which rule the flags describe, what the host already has (for init), how a
// rule's secret source reads in a list, and when each rule was last used (audit log).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"
#include "config_edit.hpp"
#include "paths.hpp"

namespace airlock {

// `airlock credential add`'s flags, as given.
struct CredentialFlags {
    std::string name;  // "" = the preset's name
    std::string preset;
    std::vector<std::string> hosts;
    std::string header;
    std::string value_template;
    std::optional<std::string> placeholder_env;
    std::optional<std::string> placeholder_value;
    std::optional<std::string> env, file, command;
    bool stdin_ = false;
    std::string login;                // claude | chatgpt | google: import a subscription login
    std::optional<std::string> from;  // --from FILE (default: where the provider's CLI keeps it)
};

// The table to write, or a one-line error naming the flag and the fix. --stdin becomes
// { file = "secrets/<name>" } (the caller stores the secret there); --command is split
// with split_command_line. The result still goes through parse_config (hosts, header and
// template syntax are checked there).
Result<CredentialEntry> entry_from_flags(const CredentialFlags& flags);

// `credential add NAME --login P [--from FILE]`: the table { name, login }, or a one-line
// error (an unknown provider, a secret source, preset, host, header, template or
// placeholder flag given with it, which a login brings itself).
Result<CredentialEntry> login_entry_from_flags(const CredentialFlags& flags);

// Where the provider's CLI keeps its login on this host: claude ~/.claude/.credentials.json,
// chatgpt $CODEX_HOME/auth.json (default ~/.codex/auth.json), google ~/.gemini/oauth_creds.json.
Result<std::string> default_login_file(std::string_view provider, const EnvLookup& env);

// What `airlock init` found on the host: one suggested rule per service.
struct FoundCredential {
    std::string service;  // anthropic | openai | gemini | github (what --only names)
    std::string where;    // "environment variable ANTHROPIC_API_KEY", "command gh auth token"
    CredentialEntry entry;
};

// Looks, in this order, for ANTHROPIC_API_KEY (else CLAUDE_CODE_OAUTH_TOKEN: a Bearer
// token, placeholder in CLAUDE_CODE_OAUTH_TOKEN), OPENAI_API_KEY, GEMINI_API_KEY (else
// GOOGLE_API_KEY), GH_TOKEN (else GITHUB_TOKEN, else `gh auth token` when
// `gh_token_works`). Empty variables count as unset. Never reads a value into the result.
std::vector<FoundCredential> detect_host_credentials(const EnvLookup& env, bool gh_token_works);

// The services init knows: "anthropic,openai,gemini,github".
std::string_view init_services();

// "env ANTHROPIC_API_KEY", "file secrets/x", "command gh auth token".
std::string describe_source(const SecretSource& secret);

// The newest "time" of each rule in audit.jsonl lines (one JSON object per line; lines
// that do not parse are skipped). Times are the audit's UTC ISO-8601 strings.
void collect_last_used(std::string_view lines, std::map<std::string, std::string>& newest);

}  // namespace airlock
