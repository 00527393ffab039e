#pragma once
// Whether each credential rule's secret source is there (for doctor): the variable set,
// the file present and 0600, the command runs and prints a secret. The check loads the
// secret the way the proxy does (proxy::load_secret) and throws the value away.

#include <string>
#include <vector>

#include "airlock/settings.hpp"
#include "paths.hpp"

namespace airlock {

struct CredentialCheck {
    std::string name;
    std::string source;   // describe_source
    std::string problem;  // "" when the secret loads; else the reason, naming the rule
    std::string fix;      // what to do about it
};

std::vector<CredentialCheck> check_credential_sources(const std::vector<CredentialRule>& rules, const Paths& paths);

}  // namespace airlock
