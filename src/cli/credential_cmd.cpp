// airlock credential add | list | remove, and airlock init: credential rules without
// editing TOML. Edits keep config.toml's comments and layout (config_edit.hpp), are
// validated with the real loader before the file is replaced, and reload a running proxy.

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <array>
#include <map>
#include <cstdio>
#include <iostream>
#include <memory>
#include <regex>
#include <set>

#include "cli/command.hpp"
#include "config.hpp"
#include "config_edit.hpp"
#include "config_file.hpp"
#include "credential_setup.hpp"
#include "proxy/login_store.hpp"
#include "proxy/secrets.hpp"
#include "proxy_reload.hpp"

namespace airlock::cli {
namespace {

// A secret file's path as the proxy reads it (relative to the home, "~/" expanded).
std::filesystem::path secret_path(const Paths& paths, const std::string& configured) {
    auto p = paths.in_home(configured, "the secret file");
    if (!p) throw CommandError(p.error().message);
    return *p;
}

namespace fs = std::filesystem;

// The loader's "<file>:<line>:<col>: " prefix names a place in a file not written yet.
std::string without_place(const std::string& message) {
    static const std::regex place(R"(^.*?:\d+:\d+: )");
    return std::regex_replace(message, place, "", std::regex_constants::format_first_only);
}

bool valid_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

// config.toml's text (the commented starter when there is no file yet) and what it loads to.
struct Current {
    std::string text;
    Config config;
};

Current load_current(const Paths& paths) {
    auto text = read_text_file(paths.config());
    if (!text) throw CommandError(text.error().message);
    Current c;
    c.text = *text ? std::move(**text) : starter_config();
    auto config = parse_config(c.text, paths.config().string());
    if (!config) throw CommandError(config.error().message + " (fix config.toml first)");
    c.config = std::move(*config);
    return c;
}

const CredentialRule* find_rule(const Config& config, std::string_view name) {
    for (const auto& r : config.credentials)
        if (r.name == name) return &r;
    return nullptr;
}

std::string placeholder_text(const CredentialRule& rule) {
    return rule.placeholder ? fmt::format("{}={}", rule.placeholder->env, rule.placeholder->value) : "-";
}

// The secret for --stdin: a hidden line from a terminal, else all of stdin; trailing
// line breaks trimmed.
std::string read_secret_from_stdin(const std::string& name) {
    std::string secret;
    if (::isatty(STDIN_FILENO)) {
        fmt::print(stderr, "secret for credential '{}' (input hidden): ", name);
        std::fflush(stderr);
        termios old {};
        bool hidden = ::tcgetattr(STDIN_FILENO, &old) == 0;
        if (hidden) {
            termios quiet = old;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        std::getline(std::cin, secret);
        if (hidden) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fmt::print(stderr, "\n");
    } else {
        char buf[4096];
        for (;;) {
            auto n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            secret.append(buf, static_cast<std::size_t>(n));
            if (secret.size() > (1u << 20)) throw CommandError("--stdin: more than 1 MiB on standard input; give only the secret", exit_usage);
        }
        explicit_bzero(buf, sizeof buf);
    }
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) throw CommandError("--stdin: no secret on standard input; e.g. printf %s \"$KEY\" | airlock credential add ...", exit_usage);
    if (secret.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        explicit_bzero(secret.data(), secret.size());
        throw CommandError("--stdin: the secret has a line break or NUL inside; give one line", exit_usage);
    }
    return secret;
}

void print_rule_added(const CredentialRule& rule) {
    fmt::print("added credential '{}': {} gets {} from {}{}\n", rule.name, fmt::join(rule.hosts, ", "), rule.header,
               describe_source(rule.secret),
               rule.placeholder ? fmt::format("; containers see {}", placeholder_text(rule)) : "");
}

std::string login_status(const Paths& paths, const CredentialRule& rule) {
    auto login = proxy::read_login(paths.home, rule.name);
    if (!login) return fmt::format("login {}: MISSING; run 'airlock credential add {} --login {}'", rule.login, rule.name, rule.login);
    if (login->state != "ok")
        return fmt::format("login {}: EXPIRED ({}); log in on the host, then run '{}'", rule.login, login->error,
                           proxy::login_fix_command(rule.name, login->provider));
    auto now = static_cast<proxy::Seconds>(std::time(nullptr));
    auto left = login->expires_at - now;
    return fmt::format("login {}: ok, token {}{}", rule.login,
                       left > 0 ? fmt::format("valid {} min more", left / 60) : std::string("due for refresh"),
                       login->refreshes ? fmt::format(", refreshed {} times", login->refreshes) : "");
}

// `credential add NAME --login P [--from FILE]`: imports the host CLI's login into
// logins/NAME.json (0600) and adds the rule; for an existing login rule of that provider it
// only imports again (the fix for an expired login).
void add_login(Context& ctx, CredentialFlags flags) {
    const auto& paths = ctx.paths();
    auto entry = entry_from_flags(flags);
    if (!entry) throw CommandError(entry.error().message, exit_usage);
    if (!valid_name(entry->name))
        throw CommandError(fmt::format("credential name '{}' must be lowercase letters, digits, '_' or '-'", entry->name),
                           exit_usage);
    auto provider = *proxy::login_provider(entry->login);
    std::string from;
    if (flags.from) {
        from = *flags.from;
    } else {
        auto def = default_login_file(entry->login, process_env);
        if (!def) throw CommandError(def.error().message, exit_usage);
        from = *def;
    }
    auto text = read_text_file(from);
    if (!text) throw CommandError(text.error().message, exit_usage);
    if (!*text)
        throw CommandError(fmt::format("no {} login at {}; log in with the {} CLI on the host first, or give the file "
                                       "with --from FILE", entry->login, from, entry->login),
                           exit_usage);
    auto now = static_cast<proxy::Seconds>(std::time(nullptr));
    auto record = proxy::import_host_login(provider, **text, now);
    explicit_bzero((*text)->data(), (*text)->size());
    if (!record) throw CommandError(fmt::format("{}: {}", from, record.error().message), exit_usage);

    auto lock = FileLock::acquire(paths.home / "config.lock");
    if (!lock) throw CommandError(lock.error().message);
    Current current = load_current(paths);
    std::string new_text;
    if (const auto* existing = find_rule(current.config, entry->name)) {
        if (existing->login != entry->login)
            throw CommandError(fmt::format("credential '{}' already exists ({}); remove it first: airlock credential remove {}",
                                           entry->name, fmt::join(existing->hosts, ", "), entry->name),
                               exit_usage);
    } else {
        new_text = append_credential_table(current.text, render_credential_table(*entry));
        auto config = parse_config(new_text, paths.config().string());
        if (!config) throw CommandError("login not added: " + without_place(config.error().message), exit_usage);
    }
    {
        // The proxy's broker refreshes under the same lock: never half a login, never a
        // refresh token spent by both.
        auto held = proxy::LoginLock::acquire(paths.home, entry->name);
        if (!held) throw CommandError(held.error().message);
        if (auto st = proxy::write_login(paths.home, entry->name, *record); !st) throw CommandError(st.error().message);
    }
    if (!new_text.empty()) {
        if (auto st = replace_file_atomically(paths.config(), new_text); !st) {
            (void)proxy::remove_login(paths.home, entry->name);
            throw CommandError(st.error().message);
        }
        fmt::print("added credential '{}': the {} login from {}, kept in {} (0600); {} get its current access token, "
                   "sessions a placeholder login\n",
                   entry->name, entry->login, from, proxy::login_path(paths.home, entry->name).string(),
                   fmt::join(proxy::login_hosts(provider), ", "));
    } else {
        fmt::print("imported the {} login of credential '{}' again from {}; sessions use it from their next request\n",
                   entry->login, entry->name, from);
    }
    auto reloaded = reload_running_proxy(paths);
    if (!reloaded)
        throw CommandError(fmt::format("the login is imported, but {}; fix it and run 'airlock proxy reload'",
                                       reloaded.error().message));
    if (*reloaded == ReloadOutcome::reloaded) fmt::print("the running proxy reloaded its rules\n");
    else fmt::print("the proxy is not running; it loads the login when it starts\n");
}

void add_credential(Context& ctx, CredentialFlags flags, bool no_check) {
    if (!flags.login.empty()) return add_login(ctx, std::move(flags));
    const auto& paths = ctx.paths();
    if (flags.file && !flags.file->empty() && !flags.file->starts_with("~/") && fs::path(*flags.file).is_relative()) {
        flags.file = (fs::current_path() / *flags.file).lexically_normal().string();
    }
    auto entry = entry_from_flags(flags);
    if (!entry) throw CommandError(entry.error().message, exit_usage);
    if (!valid_name(entry->name)) {
        throw CommandError(fmt::format("credential name '{}' must be lowercase letters, digits, '_' or '-'", entry->name),
                           exit_usage);
    }
    auto lock = FileLock::acquire(paths.home / "config.lock");
    if (!lock) throw CommandError(lock.error().message);
    Current current = load_current(paths);
    if (const auto* existing = find_rule(current.config, entry->name)) {
        throw CommandError(fmt::format("credential '{}' already exists ({}); remove it first: airlock credential remove {}",
                                       entry->name, fmt::join(existing->hosts, ", "), entry->name),
                           exit_usage);
    }
    std::string text = append_credential_table(current.text, render_credential_table(*entry));
    auto config = parse_config(text, paths.config().string());
    if (!config) throw CommandError("credential not added: " + without_place(config.error().message), exit_usage);
    const CredentialRule* rule = find_rule(*config, entry->name);
    if (!rule) throw CommandError("credential not added: the edited file lost it (report this)");

    // --stdin: the secret goes to secrets/<name>, 0600, before the check reads it back.
    fs::path secret_file;
    if (flags.stdin_) {
        secret_file = secret_path(paths, rule->secret.value);
        for (const auto& r : current.config.credentials) {
            if (r.secret.kind == SecretSource::Kind::file && secret_path(paths, r.secret.value) == secret_file) {
                throw CommandError(fmt::format("{} is the secret of credential '{}'; choose another name",
                                               secret_file.string(), r.name),
                                   exit_usage);
            }
        }
        std::string secret = read_secret_from_stdin(entry->name);
        auto st = replace_file_atomically(secret_file, secret, 0600, false);
        explicit_bzero(secret.data(), secret.size());
        if (!st) throw CommandError(st.error().message);
    }
    auto forget_secret = [&] {
        if (!secret_file.empty()) ::unlink(secret_file.c_str());
    };
    if (!no_check) {
        std::set<std::string> withheld;
        for (const auto& r : config->credentials)
            if (r.secret.kind == SecretSource::Kind::env) withheld.insert(r.secret.value);
        auto secret = proxy::load_secret(*rule, paths.home, proxy::kSecretCommandTimeout, withheld);
        if (!secret) {
            forget_secret();
            throw CommandError("credential not added: " + secret.error().message, exit_usage);
        }
        explicit_bzero(secret->data(), secret->size());
    }
    if (auto st = replace_file_atomically(paths.config(), text); !st) {
        forget_secret();
        throw CommandError(st.error().message);
    }
    print_rule_added(*rule);
    auto reloaded = reload_running_proxy(paths);
    if (!reloaded) {
        throw CommandError(fmt::format("the rule is in {}, but {}; fix it and run 'airlock proxy reload'",
                                       paths.config().string(), reloaded.error().message));
    }
    if (*reloaded == ReloadOutcome::reloaded) fmt::print("the running proxy reloaded its rules\n");
    else fmt::print("the proxy is not running; it loads the rule when it starts\n");
}

std::map<std::string, std::string> last_used(const Paths& paths) {
    std::map<std::string, std::string> newest;
    // audit.jsonl and its rotated files audit.jsonl.1, .2, ...
    for (int i = 0; i < 100; ++i) {
        fs::path file = paths.audit_log();
        if (i > 0) file += fmt::format(".{}", i);
        auto text = read_text_file(file);
        if (!text || !*text) {
            if (i > 0) break;
            continue;
        }
        collect_last_used(**text, newest);
    }
    return newest;
}

void list_credentials(Context& ctx) {
    const auto& paths = ctx.paths();
    auto config = load_config(paths.config());
    if (!config) throw CommandError(config.error().message);
    if (config->credentials.empty()) {
        fmt::print("no credentials; add one with 'airlock credential add --preset anthropic --env ANTHROPIC_API_KEY', "
                   "or run 'airlock init' to find what this host has\n");
        return;
    }
    auto used = last_used(paths);
    std::vector<std::array<std::string, 6>> rows = {{"NAME", "HOSTS", "HEADER", "SOURCE", "PLACEHOLDER", "LAST USED"}};
    for (const auto& r : config->credentials) {
        auto it = used.find(r.name);
        std::string placeholder = placeholder_text(r);
        if (auto p = proxy::login_provider(r.login)) placeholder = "~/" + std::string(proxy::host_login_path(*p));
        rows.push_back({r.name, fmt::format("{}", fmt::join(r.hosts, ",")), r.header,
                        r.login.empty() ? describe_source(r.secret) : login_status(paths, r), placeholder,
                        it == used.end() || it->second.empty() ? "never" : it->second});
    }
    std::array<std::size_t, 6> width{};
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        fmt::print("{}\n", line);
    }
}

void remove_credential(Context& ctx, const std::string& name) {
    const auto& paths = ctx.paths();
    auto lock = FileLock::acquire(paths.home / "config.lock");
    if (!lock) throw CommandError(lock.error().message);
    Current current = load_current(paths);
    const CredentialRule* rule = find_rule(current.config, name);
    if (!rule) throw CommandError(fmt::format("no credential named '{}' (see 'airlock credential list')", name), exit_usage);
    auto text = remove_credential_table(current.text, name);
    if (!text) {
        throw CommandError(fmt::format("credential '{}' is not a [[credential]] table in {}; remove it by hand", name,
                                       paths.config().string()));
    }
    auto config = parse_config(*text, paths.config().string());
    if (!config || find_rule(*config, name)) {
        throw CommandError(fmt::format("could not remove credential '{}' from {} cleanly; remove it by hand{}", name,
                                       paths.config().string(), config ? "" : ": " + config.error().message));
    }
    // The secret file `credential add --stdin` wrote goes with the rule.
    fs::path secret_file;
    if (rule->secret.kind == SecretSource::Kind::file && rule->secret.value == "secrets/" + name)
        secret_file = secret_path(paths, rule->secret.value);
    if (auto st = replace_file_atomically(paths.config(), *text); !st) throw CommandError(st.error().message);
    if (!rule->login.empty()) {
        if (auto st = proxy::remove_login(paths.home, name); !st) throw CommandError(st.error().message);
        fmt::print("removed the imported {} login {}\n", rule->login, proxy::login_path(paths.home, name).string());
    }
    std::error_code ec;
    bool removed_secret = !secret_file.empty() && fs::remove(secret_file, ec);
    fmt::print("removed credential '{}'{}\n", name,
               removed_secret ? fmt::format(" and its secret file {}", secret_file.string()) : "");
    auto reloaded = reload_running_proxy(paths);
    if (!reloaded) {
        throw CommandError(fmt::format("the rule is gone from {}, but {}; fix it and run 'airlock proxy reload'",
                                       paths.config().string(), reloaded.error().message));
    }
    if (*reloaded == ReloadOutcome::reloaded) fmt::print("the running proxy reloaded its rules\n");
}

// Is `program` an executable file in $PATH?
bool in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (!path) return false;
    std::string_view rest = path;
    while (true) {
        auto colon = rest.find(':');
        std::string dir(rest.substr(0, colon));
        if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
        if (colon == std::string_view::npos) return false;
        rest.remove_prefix(colon + 1);
    }
}

bool ask(const std::string& question) {
    fmt::print("{} [Y/n] ", question);
    std::fflush(stdout);
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer.empty() || answer == "y" || answer == "Y" || answer == "yes";
}

void run_init(Context& ctx, bool yes, const std::string& only_list) {
    const auto& paths = ctx.paths();
    std::set<std::string> only;
    if (!only_list.empty()) {
        std::string_view rest = only_list;
        std::string known = std::string(init_services());
        while (true) {
            auto comma = rest.find(',');
            std::string item(rest.substr(0, comma));
            if (!item.empty()) {
                if (("," + known + ",").find("," + item + ",") == std::string::npos)
                    throw CommandError(fmt::format("--only: unknown service '{}'; use some of {}", item, known), exit_usage);
                only.insert(item);
            }
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    auto wanted = [&](const std::string& service) { return only.empty() || only.count(service) > 0; };

    bool gh_works = false;
    bool env_has_github = process_env("GH_TOKEN").value_or("") != "" || process_env("GITHUB_TOKEN").value_or("") != "";
    if (wanted("github") && !env_has_github && in_path("gh")) {
        CredentialRule probe;
        probe.name = "github";
        probe.secret.kind = SecretSource::Kind::command;
        probe.secret.command = {"gh", "auth", "token"};
        auto token = proxy::load_secret(probe, paths.home);
        gh_works = token.ok();
        if (token) explicit_bzero(token->data(), token->size());
    }
    auto found = detect_host_credentials(process_env, gh_works);
    std::erase_if(found, [&](const FoundCredential& f) { return !wanted(f.service); });
    if (found.empty()) {
        fmt::print("found no credentials to add (looked for ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, OPENAI_API_KEY, "
                   "GEMINI_API_KEY, GOOGLE_API_KEY, GH_TOKEN, GITHUB_TOKEN and 'gh auth token'); add one with "
                   "'airlock credential add NAME --preset ... --env VAR'\n");
        return;
    }

    auto lock = FileLock::acquire(paths.home / "config.lock");
    if (!lock) throw CommandError(lock.error().message);
    Current current = load_current(paths);
    std::vector<FoundCredential> to_add;
    for (auto& f : found) {
        const CredentialRule* preset = find_preset(f.entry.preset);
        const CredentialRule* clash = find_rule(current.config, f.entry.name);
        if (!clash && preset) {
            for (const auto& r : current.config.credentials)
                for (const auto& h : r.hosts)
                    if (std::find(preset->hosts.begin(), preset->hosts.end(), h) != preset->hosts.end()) clash = &r;
        }
        if (clash) {
            fmt::print("found {} for {}: already configured (credential '{}')\n", f.where, f.service, clash->name);
            continue;
        }
        fmt::print("found {} for {}: credential '{}' would send it to {}\n", f.where, f.service, f.entry.name,
                   preset ? fmt::format("{}", fmt::join(preset->hosts, ", ")) : "?");
        to_add.push_back(std::move(f));
    }
    if (to_add.empty()) {
        fmt::print("nothing to add\n");
        return;
    }
    if (!yes) {
        if (!::isatty(STDIN_FILENO)) {
            fmt::print("nothing added (no terminal to ask): run 'airlock init --yes' to add {}, or choose with "
                       "'airlock init --yes --only {}'\n",
                       to_add.size() == 1 ? "it" : "them all", to_add.front().service);
            return;
        }
        std::erase_if(to_add, [](const FoundCredential& f) {
            return !ask(fmt::format("add credential '{}' ({})?", f.entry.name, f.where));
        });
        if (to_add.empty()) {
            fmt::print("nothing added\n");
            return;
        }
    }
    std::string text = current.text;
    for (const auto& f : to_add) text = append_credential_table(text, render_credential_table(f.entry));
    auto config = parse_config(text, paths.config().string());
    if (!config) throw CommandError("nothing added: " + without_place(config.error().message));
    if (auto st = replace_file_atomically(paths.config(), text); !st) throw CommandError(st.error().message);
    for (const auto& f : to_add)
        if (const auto* rule = find_rule(*config, f.entry.name)) print_rule_added(*rule);
    auto reloaded = reload_running_proxy(paths);
    if (!reloaded) {
        throw CommandError(fmt::format("the rules are in {}, but {}; fix it and run 'airlock proxy reload'",
                                       paths.config().string(), reloaded.error().message));
    }
    if (*reloaded == ReloadOutcome::reloaded) fmt::print("the running proxy reloaded its rules\n");
}

}  // namespace

void add_credential_commands(CLI::App& app, Context& ctx) {
    auto* cred = app.add_subcommand("credential", "credential rules: which secret the proxy adds to which hosts");
    cred->require_subcommand(1);

    auto flags = std::make_shared<CredentialFlags>();
    auto no_check = std::make_shared<bool>(false);
    auto env = std::make_shared<std::string>(), file = std::make_shared<std::string>(),
         command = std::make_shared<std::string>(), ph_env = std::make_shared<std::string>(),
         ph_value = std::make_shared<std::string>();
    auto* add = cred->add_subcommand("add", "add a credential rule to config.toml (comments kept) and reload the proxy");
    add->add_option("name", flags->name, "the rule's name (default: the preset's)");
    add->add_option("--preset", flags->preset, "anthropic | openai | github | gemini: fills hosts, header, template, placeholder");
    add->add_option("--host", flags->hosts, "a host the secret is sent to (repeat; exact or *.suffix)");
    add->add_option("--header", flags->header, "the header the proxy sets, e.g. Authorization");
    add->add_option("--template", flags->value_template, "the header's value, with {secret}, e.g. \"Bearer {secret}\"");
    auto* o_ph_env = add->add_option("--placeholder-env", *ph_env, "the variable the container gets (a placeholder, never the secret)");
    auto* o_ph_value = add->add_option("--placeholder", *ph_value, "the placeholder's value");
    auto* o_env = add->add_option("--env", *env, "secret source: this environment variable of the proxy");
    auto* o_file = add->add_option("--file", *file, "secret source: this file (mode 0600)");
    auto* o_command = add->add_option("--command", *command,
                                      "secret source: this command's output, e.g. \"gh auth token\" (split like a shell, no expansion)");
    add->add_flag("--stdin", flags->stdin_, "secret source: read it now from stdin into $AIRLOCK_HOME/secrets/<name> (0600)");
    add->add_option("--login", flags->login,
                    "claude | chatgpt | google: import this host's subscription login (kept on the host; sessions get a placeholder login)");
    auto from = std::make_shared<std::string>();
    auto* o_from = add->add_option("--from", *from, "with --login: the login file (default: where the CLI keeps it)");
    add->add_flag("--no-check", *no_check, "do not load the secret now to check the source");
    add->callback([&ctx, flags, no_check, env, file, command, ph_env, ph_value, o_env, o_file, o_command, o_ph_env, o_ph_value,
                   from, o_from] {
        CredentialFlags f = *flags;
        if (o_from->count()) {
            if (f.login.empty()) throw CommandError("--from goes with --login claude|chatgpt|google", exit_usage);
            f.from = *from;
        }
        if (o_env->count()) f.env = *env;
        if (o_file->count()) f.file = *file;
        if (o_command->count()) f.command = *command;
        if (o_ph_env->count()) f.placeholder_env = *ph_env;
        if (o_ph_value->count()) f.placeholder_value = *ph_value;
        add_credential(ctx, std::move(f), *no_check);
    });

    auto* list = cred->add_subcommand("list", "credential rules: hosts, header, secret source, placeholder, last use");
    list->callback([&ctx] { list_credentials(ctx); });

    auto remove_name = std::make_shared<std::string>();
    auto* remove = cred->add_subcommand("remove", "remove a credential rule (and the secret file --stdin wrote); reload the proxy");
    remove->add_option("name", *remove_name, "the rule's name")->required();
    remove->callback([&ctx, remove_name] { remove_credential(ctx, *remove_name); });

    auto yes = std::make_shared<bool>(false);
    auto only = std::make_shared<std::string>();
    auto* init = app.add_subcommand("init", "find API keys and tokens on this host and add credential rules for them");
    init->add_flag("--yes,-y", *yes, "add what was found without asking");
    init->add_option("--only", *only, "only these services, comma-separated: anthropic,openai,gemini,github");
    init->callback([&ctx, yes, only] { run_init(ctx, *yes, *only); });
}

}  // namespace airlock::cli
