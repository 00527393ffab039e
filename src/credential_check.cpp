#include "credential_check.hpp"

#include <string.h>

#include <set>

#include <fmt/format.h>

#include "credential_setup.hpp"
#include "proxy/login_store.hpp"
#include "proxy/secrets.hpp"

namespace airlock {

namespace {
// Where the rule's secret file is (as configured when it cannot be resolved).
std::string secret_file_shown(const Paths& paths, const CredentialRule& rule) {
    auto p = paths.in_home(rule.secret.value, "the secret file");
    return p ? p->string() : rule.secret.value;
}
}  // namespace

std::vector<CredentialCheck> check_credential_sources(const std::vector<CredentialRule>& rules, const Paths& paths) {
    std::set<std::string> withheld;
    for (const auto& r : rules)
        if (r.secret.kind == SecretSource::Kind::env) withheld.insert(r.secret.value);
    std::vector<CredentialCheck> out;
    for (const auto& rule : rules) {
        CredentialCheck c{rule.name, describe_source(rule.secret), {}, {}};
        if (!rule.login.empty()) {
            auto provider = proxy::login_provider(rule.login).value_or(proxy::LoginProvider::claude);
            c.source = fmt::format("login {}", rule.login);
            auto login = proxy::read_login(paths.home, rule.name);
            if (!login) c.problem = login.error().message;
            else if (login->state != "ok")
                c.problem = fmt::format("the {} login of credential '{}' has expired: {}", rule.login, rule.name,
                                        login->error);
            if (!c.problem.empty())
                c.fix = fmt::format("log in with the {} CLI on the host, then run '{}'", rule.login,
                                    proxy::login_fix_command(rule.name, provider));
            out.push_back(std::move(c));
            continue;
        }
        auto secret = proxy::load_secret(rule, paths.home, proxy::kSecretCommandTimeout, withheld);
        if (secret) {
            explicit_bzero(secret->data(), secret->size());
        } else {
            c.problem = secret.error().message;
            switch (rule.secret.kind) {
                case SecretSource::Kind::env:
                    c.fix = fmt::format("export {} in the shell that starts the proxy, then 'airlock proxy stop && "
                                        "airlock proxy start'; or 'airlock credential remove {}'",
                                        rule.secret.value, rule.name);
                    break;
                case SecretSource::Kind::file:
                    c.fix = fmt::format("put the secret in {} (mode 0600), or replace the rule: 'airlock credential "
                                        "remove {}' then 'airlock credential add {} ... --stdin'",
                                        secret_file_shown(paths, rule), rule.name, rule.name);
                    break;
                case SecretSource::Kind::command:
                    c.fix = fmt::format("make '{}' work in this shell (installed, signed in), or 'airlock credential "
                                        "remove {}'",
                                        join_command_line(rule.secret.command), rule.name);
                    break;
                case SecretSource::Kind::none:
                    c.fix = fmt::format("give credential '{}' a secret in config.toml", rule.name);
                    break;
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace airlock
