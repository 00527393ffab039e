#pragma once
// The login broker: the proxy's one owner of subscription logins. It keeps each login's
// current tokens in memory, refreshes them on the host before they expire (and once more
// when a service answers 401 to the current token), one refresh at a time per login under
// the login's lock (login_store.hpp), so a single-use refresh token is spent exactly once
// for all sessions, and writes the new tokens back atomically. A refresh token the provider
// refuses marks the login "expired" in its file (credential list and doctor show it);
// re-importing the login (`airlock credential add NAME --login P`) is noticed by the file
// changing and clears it.
//
// Refreshes run on the broker's own thread with its own I/O: TLS verified against the
// system roots plus [proxy] upstream_ca, connecting where [proxy.resolve] says, exactly
// like upstream connections. No token ever reaches a log line.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "airlock/settings.hpp"
#include "proxy/login.hpp"

namespace airlock::proxy {

struct LoginBrokerOptions {
    std::filesystem::path home;                   // $AIRLOCK_HOME (logins/)
    std::function<void(const std::string&)> log;  // one line per event
    std::function<Seconds()> clock;               // empty: the system clock
};

class LoginBroker {
public:
    explicit LoginBroker(LoginBrokerOptions options);
    ~LoginBroker();  // stops the thread
    LoginBroker(const LoginBroker&) = delete;
    LoginBroker& operator=(const LoginBroker&) = delete;

    // The logins in force (credential name, provider) and how to reach the providers
    // (proxy settings for [proxy.resolve]; the extra CA file, "" for none). Called at start
    // and on every reload; starts the thread on first use.
    void configure(std::vector<std::pair<std::string, LoginProvider>> logins, const ProxySettings& proxy,
                   const std::filesystem::path& extra_ca);

    struct Current {
        bool found = false;   // the login is configured and its file was read
        LoginRecord record;   // tokens: never log them
        std::string problem;  // why not found (missing file, bad mode ...)
    };
    // The login as of now (the file is re-read when it changed).
    Current current(const std::string& name);

    // A service answered 401 to `access_token`: refresh once, if it is still the current one.
    void unauthorized(const std::string& name, const std::string& access_token);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace airlock::proxy
