#include "credential_setup.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "config.hpp"
#include "proxy/audit.hpp"
#include "proxy/login.hpp"

namespace airlock {

Result<CredentialEntry> login_entry_from_flags(const CredentialFlags& f) {
    if (!proxy::login_provider(f.login))
        return make_error(fmt::format("--login must be claude, chatgpt or google (got '{}')", f.login));
    std::vector<std::string_view> extra;
    if (!f.preset.empty()) extra.push_back("--preset");
    if (!f.hosts.empty()) extra.push_back("--host");
    if (!f.header.empty()) extra.push_back("--header");
    if (!f.value_template.empty()) extra.push_back("--template");
    if (f.placeholder_env || f.placeholder_value) extra.push_back("--placeholder");
    if (f.env) extra.push_back("--env");
    if (f.file) extra.push_back("--file");
    if (f.command) extra.push_back("--command");
    if (f.stdin_) extra.push_back("--stdin");
    if (!extra.empty())
        return make_error(fmt::format("--login brings its own hosts, header and tokens; drop {}", fmt::join(extra, ", ")));
    CredentialEntry e;
    e.name = f.name.empty() ? f.login : f.name;
    e.login = f.login;
    return e;
}

Result<std::string> default_login_file(std::string_view provider, const EnvLookup& env) {
    auto p = proxy::login_provider(provider);
    if (!p) return make_error(fmt::format("--login must be claude, chatgpt or google (got '{}')", provider));
    if (*p == proxy::LoginProvider::chatgpt)
        if (auto codex = env("CODEX_HOME"); codex && !codex->empty()) return *codex + "/auth.json";
    auto home = env("HOME");
    if (!home || home->empty()) return make_error("$HOME is not set; give the login file with --from FILE");
    return *home + "/" + std::string(proxy::host_login_path(*p));
}

Result<CredentialEntry> entry_from_flags(const CredentialFlags& f) {
    if (!f.login.empty()) return login_entry_from_flags(f);
    std::vector<std::string> sources;
    if (f.env) sources.push_back("--env");
    if (f.file) sources.push_back("--file");
    if (f.command) sources.push_back("--command");
    if (f.stdin_) sources.push_back("--stdin");
    if (sources.empty())
        return make_error("give the secret's source: --env VAR, --file PATH, --command \"CMD\" or --stdin");
    if (sources.size() > 1)
        return make_error(fmt::format("give only one secret source (got {} and {})", sources[0], sources[1]));

    CredentialEntry e;
    if (!f.preset.empty() && !find_preset(f.preset))
        return make_error(fmt::format("unknown preset '{}'; use one of anthropic, openai, github, gemini", f.preset));
    e.name = f.name.empty() ? f.preset : f.name;
    if (e.name.empty()) return make_error("give the credential a name: airlock credential add NAME --host ... (or use --preset)");
    if (f.preset.empty()) {
        std::vector<std::string_view> missing;
        if (f.hosts.empty()) missing.push_back("--host");
        if (f.header.empty()) missing.push_back("--header");
        if (f.value_template.empty()) missing.push_back("--template");
        if (!missing.empty()) {
            return make_error(fmt::format(
                "without --preset give --host, --header and --template (missing {}), or use --preset "
                "anthropic|openai|github|gemini",
                fmt::join(missing, ", ")));
        }
    }
    e.preset = f.preset;
    e.hosts = f.hosts;
    e.header = f.header;
    e.value_template = f.value_template;
    e.placeholder_env = f.placeholder_env;
    e.placeholder_value = f.placeholder_value;
    if (f.env) {
        if (f.env->empty()) return make_error("--env needs a variable name, e.g. --env ANTHROPIC_API_KEY");
        e.secret.kind = SecretSource::Kind::env;
        e.secret.value = *f.env;
    } else if (f.file) {
        if (f.file->empty()) return make_error("--file needs a path, e.g. --file ~/.config/keys/anthropic");
        e.secret.kind = SecretSource::Kind::file;
        e.secret.value = *f.file;
    } else if (f.command) {
        auto argv = split_command_line(*f.command);
        if (!argv) return make_error(fmt::format("--command: {}; e.g. --command \"gh auth token\"", argv.error().message));
        if (argv->front().empty()) return make_error("--command: the program name is empty");
        e.secret.kind = SecretSource::Kind::command;
        e.secret.command = std::move(*argv);
    } else {
        e.secret.kind = SecretSource::Kind::file;
        e.secret.value = "secrets/" + e.name;
    }
    return e;
}

namespace {

std::optional<std::string> set_var(const EnvLookup& env, const char* name) {
    auto v = env(name);
    if (!v || v->empty()) return std::nullopt;
    return std::string(name);
}

CredentialEntry preset_env(std::string preset, std::string var) {
    CredentialEntry e;
    e.name = preset;
    e.preset = std::move(preset);
    e.secret.kind = SecretSource::Kind::env;
    e.secret.value = std::move(var);
    return e;
}

FoundCredential from_env(std::string service, std::string var) {
    return {service, "environment variable " + var, preset_env(service, var)};
}

}  // namespace

std::string_view init_services() { return "anthropic,openai,gemini,github"; }

std::vector<FoundCredential> detect_host_credentials(const EnvLookup& env, bool gh_token_works) {
    std::vector<FoundCredential> found;
    if (auto v = set_var(env, "ANTHROPIC_API_KEY")) {
        found.push_back(from_env("anthropic", *v));
    } else if (auto oauth = set_var(env, "CLAUDE_CODE_OAUTH_TOKEN")) {
        // A subscription token: Claude Code sends it as a Bearer token.
        FoundCredential c = from_env("anthropic", *oauth);
        c.entry.header = "Authorization";
        c.entry.value_template = "Bearer {secret}";
        c.entry.placeholder_env = "CLAUDE_CODE_OAUTH_TOKEN";
        c.entry.placeholder_value = "sk-ant-oat01-airlock-placeholder";
        found.push_back(std::move(c));
    }
    if (auto v = set_var(env, "OPENAI_API_KEY")) found.push_back(from_env("openai", *v));
    if (auto gemini = set_var(env, "GEMINI_API_KEY")) found.push_back(from_env("gemini", *gemini));
    else if (auto google = set_var(env, "GOOGLE_API_KEY")) found.push_back(from_env("gemini", *google));
    if (auto gh = set_var(env, "GH_TOKEN")) found.push_back(from_env("github", *gh));
    else if (auto github = set_var(env, "GITHUB_TOKEN")) found.push_back(from_env("github", *github));
    else if (gh_token_works) {
        FoundCredential c{"github", "command gh auth token", preset_env("github", "")};
        c.entry.secret.kind = SecretSource::Kind::command;
        c.entry.secret.value.clear();
        c.entry.secret.command = {"gh", "auth", "token"};
        found.push_back(std::move(c));
    }
    return found;
}

std::string describe_source(const SecretSource& secret) {
    switch (secret.kind) {
        case SecretSource::Kind::env: return "env " + secret.value;
        case SecretSource::Kind::file: return "file " + secret.value;
        case SecretSource::Kind::command: return "command " + join_command_line(secret.command);
        case SecretSource::Kind::none: break;
    }
    return "none";
}

void collect_last_used(std::string_view lines, std::map<std::string, std::string>& newest) {
    while (!lines.empty()) {
        auto nl = lines.find('\n');
        std::string_view line = lines.substr(0, nl);
        lines = nl == std::string_view::npos ? std::string_view{} : lines.substr(nl + 1);
        if (line.find("\"rule\"") == std::string_view::npos) continue;
        auto r = proxy::parse_audit_line(line);
        if (!r || r->rule.empty()) continue;
        auto t = proxy::format_time_utc(r->time);
        auto& slot = newest[r->rule];
        if (t > slot) slot = std::move(t);
    }
}

}  // namespace airlock
