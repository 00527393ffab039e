#include "proxy/login_hook.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>

#include <fmt/format.h>

#include "proxy/io.hpp"
#include "proxy/reply.hpp"

namespace airlock::proxy {

namespace asio = boost::asio;

namespace {
Seconds unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

asio::awaitable<LoginStep> login_step(LoginBroker& broker, RequestHead& head, const CredentialRule& rule,
                                      const std::string& host, AuditRecord& record) {
    LoginStep out;
    const auto provider = login_provider(rule.login).value_or(LoginProvider::claude);
    const auto action = classify_login_request(provider, host, head.method, head.target);
    auto cur = broker.current(rule.name);
    // An access token past its expiry: the broker is refreshing it (or retrying); wait a little.
    for (int i = 0; i < 100 && action == LoginAction::inject && cur.found &&
                    token_state(cur.record, unix_now()) == TokenState::expired;
         ++i) {
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        co_await timer.async_wait(io::token);
        cur = broker.current(rule.name);
    }
    if (!cur.found) {
        record.status = 401;
        record.error = "login-expired: " + cur.problem;
        out.reply = proxy_reply(FailureKind::login_expired, cur.problem);
        co_return out;
    }
    if (cur.record.state != "ok") {
        record.status = 401;
        record.error = fmt::format("login-expired: the {} login '{}' has expired ({}); run '{}'", rule.login, rule.name,
                                   cur.record.error, login_fix_command(rule.name, provider));
        out.reply = login_expired_reply(rule.name, provider, cur.record.error);
        co_return out;
    }
    if (action != LoginAction::inject) {
        record.status = 200;
        record.error = action == LoginAction::answer_token
                           ? "answered by the proxy: the CLI's own token refresh (placeholder tokens; never forwarded)"
                           : "answered by the proxy: tokeninfo of the placeholder";
        out.reply = local_token_reply(cur.record, action, unix_now());
        co_return out;
    }
    auto headers = login_headers(cur.record, host);
    for (const auto& name : headers.remove) head.remove(name);
    for (const auto& [name, value] : headers.set) head.set(name, value);
    out.token = std::move(cur.record.access_token);
    co_return out;
}

}  // namespace airlock::proxy
