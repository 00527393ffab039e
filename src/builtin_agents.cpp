// The built-in agents: their commands, and what each needs in a session to start without a
// prompt for sign-in, trust or updates (issue 13). These are data, not special cases: a
// user's [agent.<name>] adds to or replaces any of it (docs/agents.md, docs/configuration.md).
//
// Every value here is safe to be seen by the agent: keys are placeholders the proxy
// replaces (the presets' placeholder values, config.cpp), never secrets.

#include "config.hpp"

namespace airlock {

namespace {

// Codex (codex-rs): `codex login --with-api-key` writes this auth.json (auth_mode "apikey",
// the key under OPENAI_API_KEY); without it Codex 0.17x ignores OPENAI_API_KEY for its
// built-in provider and stops at "Sign in". The proxy replaces the placeholder.
constexpr const char* kCodexAuth = R"({
  "auth_mode": "apikey",
  "OPENAI_API_KEY": "sk-airlock-placeholder"
}
)";

// The container is the sandbox: no approvals, no sandbox of Codex's own (it needs
// namespaces the container does not grant), no update check, no model discovery against
// chatgpt.com (about 9 s of retries otherwise), no analytics (ab.chatgpt.com) and no plugin
// sync (github.com, api.github.com, chatgpt.com at every start; tests/integration/agents.sh
// saw all three with 0.171.0), /workspace trusted. No forced_login_method: the auth.json in
// the home decides (API key by default, a ChatGPT login's placeholder when one is in scope).
// Commands Codex runs keep the whole environment: by default it drops variables whose
// names hold KEY, TOKEN or SECRET, but in a session those are placeholders, and the tools
// it runs (git, gh, curl) need them and the proxy and CA variables to work at all.
constexpr const char* kCodexConfig = R"(# Written by airlock at session create (kept at refresh). The container is the sandbox.
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
cli_auth_credentials_store = "file"

[analytics]
enabled = false

[features]
api_key_model_discovery = false
plugins = false

[shell_environment_policy]
inherit = "all"
ignore_default_excludes = true

[projects."/workspace"]
trust_level = "trusted"

[notice]
hide_full_access_warning = true
)";

// Gemini CLI (packages/cli/src/config/settingsSchema.ts): no auto-update (and no notice of
// one), no usage statistics (they go to play.googleapis.com), the API key as the auth type
// so it never asks how to sign in.
constexpr const char* kGeminiSettings = R"({
  "general": {
    "enableAutoUpdate": false,
    "enableAutoUpdateNotification": false
  },
  "privacy": {
    "usageStatisticsEnabled": false
  },
  "security": {
    "auth": {
      "selectedType": "gemini-api-key"
    }
  }
}
)";

// Claude Code: onboarding done, the bypass-permissions warning accepted (the container is
// the sandbox), the placeholder API key approved (Claude Code remembers approved keys by
// their last 20 characters; this is the anthropic preset's placeholder), /workspace trusted.
constexpr const char* kClaudeState = R"({
  "hasCompletedOnboarding": true,
  "bypassPermissionsModeAccepted": true,
  "autoUpdates": false,
  "customApiKeyResponses": {
    "approved": ["-airlock-placeholder"],
    "rejected": []
  },
  "projects": {
    "/workspace": {
      "hasTrustDialogAccepted": true,
      "hasCompletedProjectOnboarding": true
    }
  }
}
)";

constexpr const char* kClaudeSettings = R"({
  "skipDangerousModePermissionPrompt": true
}
)";

}  // namespace

const std::map<std::string, AgentDefinition>& builtin_agents() {
    // The agent runs in the attached terminal, so each starts interactively with the
    // prompt as its first message; the container is the sandbox, hence no approvals.
    static const std::map<std::string, AgentDefinition> agents = {
        {"claude",
         {{"claude", "--dangerously-skip-permissions"},
          PromptMode::arg,
          // IS_SANDBOX: the container is the sandbox; without it Claude Code refuses
          // --dangerously-skip-permissions when airlock runs the container as uid 0 (a root host).
          {{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"}, {"DISABLE_AUTOUPDATER", "1"}, {"IS_SANDBOX", "1"}},
          {{".claude.json", kClaudeState, 0600, false}, {".claude/settings.json", kClaudeSettings, 0644, false}}}},
        {"codex",
         // --no-daemon: 0.171.0's interactive CLI otherwise starts a background app-server
         // and stops at once when the image has no `ps` ("failed to invoke ps for pid-managed
         // app server"; airlock's image has none); one session needs no shared server.
         {{"codex", "--no-daemon", "--dangerously-bypass-approvals-and-sandbox"},
          PromptMode::arg,
          {},
          {{".codex/config.toml", kCodexConfig, 0644, false}, {".codex/auth.json", kCodexAuth, 0600, false}}}},
        {"gemini",
         {{"gemini", "--yolo", "--prompt-interactive"},
          PromptMode::arg,
          {{"GEMINI_CLI_TRUST_WORKSPACE", "true"}},
          {{".gemini/settings.json", kGeminiSettings, 0644, false}}}},
        {"shell", {{"sh", "-c"}, PromptMode::arg, {}, {}}},
    };
    return agents;
}

}  // namespace airlock
