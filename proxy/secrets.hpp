#pragma once
// Where credential secrets come from: a file (mode 0600), an environment variable, or a
// command (e.g. `op read op://vault/item/field`) run when the proxy loads or reloads its
// configuration. Secrets stay in this process: a secret value never appears in an error
// message, and SecretSet::values() lets the logger redact them.

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"

namespace airlock::proxy {

inline constexpr std::chrono::milliseconds kSecretCommandTimeout{10'000};

// Loads the secret of one credential rule:
//  - file:    a path relative to `home` ($AIRLOCK_HOME), absolute, or "~/..." ($HOME).
//             Refused unless a regular file without group/other permission bits
//             (the error says "run chmod 600 F").
//  - env:     the variable must be set and non-empty.
//  - command: argv run directly (no shell; argv[0] looked up in PATH), stdin /dev/null,
//             stdout is the secret. It gets a minimal environment
//             (secret_command_environment): never a variable named in `withheld`. Exceeding `timeout` kills the command's process group
//             and fails; a non-zero exit fails with the status and the first line of its
//             stderr (never its stdout). The child is always reaped.
// Trailing '\n' and '\r' are trimmed. An empty value, or one with a line break or NUL
// left inside (it would break the HTTP header it goes into), is an error.
// Every error names the credential and never contains the secret.
// Thread-safe (reads the environment; spawns a child for commands).
Result<std::string> load_secret(const CredentialRule& rule, const std::filesystem::path& home,
                                std::chrono::milliseconds timeout = kSecretCommandTimeout,
                                const std::set<std::string>& withheld = {});

// The environment a secret command runs with, from `env` (NAME=VALUE strings, as
// `environ`): only what a password manager's CLI needs, never the proxy's other secrets.
//  - kept by name: PATH HOME USER LOGNAME SHELL LANG LANGUAGE TZ TMPDIR XDG_RUNTIME_DIR
//    XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME DBUS_SESSION_BUS_ADDRESS
//    SSH_AUTH_SOCK GNUPGHOME GPG_TTY DISPLAY WAYLAND_DISPLAY
//  - kept by prefix: LC_ (locale), OP_ (1Password: OP_SESSION_*, OP_ACCOUNT,
//    OP_SERVICE_ACCOUNT_TOKEN), BW_ (Bitwarden: BW_SESSION), VAULT_ (HashiCorp Vault),
//    PASSWORD_STORE_ (pass), AWS_ (aws secretsmanager / ssm)
//  - never: a variable named in `withheld` (load_secrets passes every env secret's name),
//    whatever the lists above say.
// Pure; order kept.
std::vector<std::string> secret_command_environment(const char* const* env,
                                                    const std::set<std::string>& withheld);

// The secrets of all credential rules, by rule name.
struct SecretSet {
    std::map<std::string, std::string> by_rule;

    // Every distinct secret value, longest first (so a redactor replacing them in order
    // never leaves part of a longer secret behind).
    std::vector<std::string> values() const;
};

// Loads every rule's secret; stops at the first error (which names its credential).
// Secret commands never see the variable of any rule's env secret.
Result<SecretSet> load_secrets(const std::vector<CredentialRule>& rules,
                               const std::filesystem::path& home,
                               std::chrono::milliseconds timeout = kSecretCommandTimeout);

}  // namespace airlock::proxy
