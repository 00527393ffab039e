#include "proxy/login_broker.hpp"

// g++ 12 reports a false -Wmismatched-new-delete on an awaitable frame inlined into a plain
// function (Asio's frame allocator; meson.build turns it off for release builds too).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "proxy/login_store.hpp"
#include "proxy/upstream.hpp"

namespace airlock::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;

namespace {

constexpr Seconds kRetryAfterFailure = 5;

struct FileStamp {
    std::int64_t mtime_ns = -1;
    std::int64_t ino = -1;
    std::int64_t size = -1;
    bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return {};
    return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
            static_cast<std::int64_t>(st.st_ino), static_cast<std::int64_t>(st.st_size)};
}

struct HttpResult {
    std::string failure;  // "" = got an answer
    int status = 0;
    std::string body;
};

asio::awaitable<HttpResult> post(const Endpoint& ep, const RefreshRequest& req, ProxySettings proxy,
                                 std::shared_ptr<asio::ssl::context> tls) {
    HttpResult out;
    Deadlines d;
    d.connect = std::chrono::seconds(10);
    d.handshake = std::chrono::seconds(10);
    auto [failure, tcp] = co_await connect_upstream(ep.host, 443, proxy, true, d);
    if (failure) {
        out.failure = failure.message;
        co_return out;
    }
    tls_stream stream(std::move(tcp), *tls);
    if (auto f = co_await handshake_upstream(stream, ep.host, d)) {
        out.failure = f.message;
        co_return out;
    }
    http::request<http::string_body> request{http::verb::post, ep.path, 11};
    request.set(http::field::host, ep.host);
    request.set(http::field::content_type, req.content_type);
    request.set(http::field::accept, "application/json");
    request.set(http::field::user_agent, "airlock-login-broker");
    request.set(http::field::connection, "close");
    request.body() = req.body;
    request.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, request, io::token);
    std::fill(request.body().begin(), request.body().end(), '\0');
    if (wec) {
        out.failure = fmt::format("sending the refresh to {}: {}", ep.host, wec.message());
        co_return out;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    auto [rec, rn] = co_await http::async_read(stream, buf, parser, io::token);
    if (rec) {
        out.failure = fmt::format("reading the refresh answer from {}: {}", ep.host, rec.message());
        co_return out;
    }
    out.status = static_cast<int>(parser.get().result_int());
    out.body = std::move(parser.get().body());
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(io::token);
    co_return out;
}

}  // namespace

struct LoginBroker::Impl {
    LoginBrokerOptions opts;
    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    std::thread thread;

    struct Entry {
        LoginProvider provider = LoginProvider::claude;
        bool loaded = false;
        LoginRecord record;
        FileStamp stamp;
        std::string problem;
        std::string refresh_for_token;  // a 401 asked to refresh away from this access token
        std::string unauthorized_seen;  // the last access token a 401 was reported for
        Seconds retry_at = 0;
    };
    std::map<std::string, Entry> entries;
    ProxySettings proxy;
    std::shared_ptr<asio::ssl::context> tls;
    std::string tls_error;

    Seconds now() const {
        if (opts.clock) return opts.clock();
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    void log(const std::string& line) const {
        if (opts.log) opts.log(line);
    }

    // With the mutex held: re-reads the file when it changed.
    void refresh_from_file(const std::string& name, Entry& e) {
        auto stamp = stamp_of(login_path(opts.home, name));
        if (e.loaded && stamp == e.stamp) return;
        if (!e.loaded && !e.problem.empty() && stamp == e.stamp) return;
        e.stamp = stamp;
        auto r = read_login(opts.home, name);
        if (!r) {
            e.loaded = false;
            e.problem = r.error().message;
            return;
        }
        if (r->provider != e.provider) {
            e.loaded = false;
            e.problem = fmt::format("the login stored for credential '{}' is a {} login, the configuration says {}; "
                                    "run 'airlock credential add {} --login {}'",
                                    name, provider_name(r->provider), provider_name(e.provider), name,
                                    provider_name(e.provider));
            return;
        }
        bool reimported = e.loaded && e.record.state != "ok" && r->state == "ok";
        e.record = std::move(*r);
        e.loaded = true;
        e.problem.clear();
        e.retry_at = 0;
        if (reimported) log(fmt::format("login {}: imported again; in use", name));
    }

    void run() {
        std::unique_lock lock(mutex);
        while (!stopping) {
            Seconds t = now();
            Seconds next = t + 1;
            std::string due_name;
            for (auto& [name, e] : entries) {
                refresh_from_file(name, e);
                if (!e.loaded) continue;
                auto state = token_state(e.record, t);
                if (state == TokenState::revoked) continue;
                bool forced = !e.refresh_for_token.empty() && e.refresh_for_token == e.record.access_token;
                if ((state != TokenState::valid || forced) && t >= e.retry_at) {
                    due_name = name;
                    break;
                }
                next = std::min(next, std::max(refresh_due_at(e.record), e.retry_at));
            }
            if (due_name.empty()) {
                auto wait = std::chrono::seconds(std::max<Seconds>(0, std::min<Seconds>(next - t, 1)));
                wake.wait_for(lock, wait == std::chrono::seconds(0) ? std::chrono::milliseconds(200) : wait);
                continue;
            }
            lock.unlock();
            refresh_one(due_name);
            lock.lock();
        }
    }

    // Refreshes `name` under its lock: re-reads the file first (someone else may have
    // refreshed or re-imported it), spends the refresh token once, writes the answer back.
    void refresh_one(const std::string& name) {
        auto held = LoginLock::acquire(opts.home, name);
        if (!held) {
            log(fmt::format("login {}: {}", name, held.error().message));
            std::lock_guard g(mutex);
            if (auto it = entries.find(name); it != entries.end()) it->second.retry_at = now() + kRetryAfterFailure;
            return;
        }
        LoginRecord before;
        std::shared_ptr<asio::ssl::context> ctx;
        ProxySettings settings;
        bool forced = false;
        {
            std::lock_guard g(mutex);
            auto it = entries.find(name);
            if (it == entries.end()) return;
            auto& e = it->second;
            e.stamp = {};
            refresh_from_file(name, e);
            if (!e.loaded) return;
            forced = !e.refresh_for_token.empty() && e.refresh_for_token == e.record.access_token;
            auto state = token_state(e.record, now());
            if (state == TokenState::revoked || (state == TokenState::valid && !forced)) return;
            before = e.record;
            ctx = tls;
            settings = proxy;
            if (!ctx) {
                log(fmt::format("login {}: cannot refresh: {}", name, tls_error));
                e.retry_at = now() + kRetryAfterFailure;
                return;
            }
        }
        auto ep = token_endpoint(before.provider);
        auto request = refresh_request(before);
        HttpResult result;
        {
            asio::io_context ioc;
            asio::co_spawn(
                ioc, post(ep, request, settings, ctx),
                [&](std::exception_ptr ex, HttpResult r) {
                    if (ex) result.failure = "the refresh failed unexpectedly";
                    else result = std::move(r);
                });
            ioc.run();
        }
        explicit_bzero(request.body.data(), request.body.size());
        const Seconds t = now();
        std::lock_guard g(mutex);
        // A reload may have dropped the login meanwhile: what the provider answered still goes
        // to the file (a rotated refresh token is the only valid one now), memory only if kept.
        auto it = entries.find(name);
        Entry scratch;
        Entry& e = it != entries.end() && it->second.provider == before.provider ? it->second : scratch;
        if (!result.failure.empty()) {
            e.retry_at = t + kRetryAfterFailure;
            log(fmt::format("login {}: refresh failed, retrying in {} s: {}", name, kRetryAfterFailure, result.failure));
            return;
        }
        auto outcome = apply_refresh_response(before, result.status, result.body, t);
        explicit_bzero(result.body.data(), result.body.size());
        switch (outcome.kind) {
            case RefreshOutcome::transient:
                e.retry_at = t + kRetryAfterFailure;
                log(fmt::format("login {}: refresh failed, retrying in {} s: {}", name, kRetryAfterFailure, outcome.error));
                return;
            case RefreshOutcome::revoked: {
                LoginRecord r = before;
                r.state = "expired";
                r.error = outcome.error;
                if (auto st = write_login(opts.home, name, r); !st) log(fmt::format("login {}: {}", name, st.error().message));
                e.record = r;
                e.stamp = stamp_of(login_path(opts.home, name));
                log(fmt::format("login {}: EXPIRED: {}; log in on the host, then run '{}'", name, outcome.error,
                                login_fix_command(name, before.provider)));
                return;
            }
            case RefreshOutcome::refreshed:
                if (auto st = write_login(opts.home, name, outcome.record); !st) {
                    // The new refresh token is only in memory now: keep using it.
                    log(fmt::format("login {}: refreshed, but {}", name, st.error().message));
                }
                e.record = std::move(outcome.record);
                e.stamp = stamp_of(login_path(opts.home, name));
                e.retry_at = 0;
                e.refresh_for_token.clear();
                log(fmt::format("login {}: refreshed{} (valid for {} s)", name, forced ? " after a 401" : "",
                                e.record.expires_at - t));
                return;
        }
    }
};

LoginBroker::LoginBroker(LoginBrokerOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->opts = std::move(options);
}

LoginBroker::~LoginBroker() {
    {
        std::lock_guard g(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    if (impl_->thread.joinable()) impl_->thread.join();
}

void LoginBroker::configure(std::vector<std::pair<std::string, LoginProvider>> logins, const ProxySettings& proxy,
                            const std::filesystem::path& extra_ca) {
    auto tls = make_upstream_tls_context(extra_ca);
    {
        std::lock_guard g(impl_->mutex);
        std::map<std::string, Impl::Entry> next;
        for (auto& [name, provider] : logins) {
            auto it = impl_->entries.find(name);
            if (it != impl_->entries.end() && it->second.provider == provider) next[name] = std::move(it->second);
            else next[name].provider = provider;
        }
        impl_->entries = std::move(next);
        impl_->proxy = proxy;
        if (tls) {
            impl_->tls = std::move(*tls);
            impl_->tls_error.clear();
        } else {
            impl_->tls = nullptr;
            impl_->tls_error = tls.error().message;
        }
        if (!impl_->thread.joinable() && !impl_->entries.empty()) impl_->thread = std::thread([this] { impl_->run(); });
    }
    impl_->wake.notify_all();
}

LoginBroker::Current LoginBroker::current(const std::string& name) {
    std::lock_guard g(impl_->mutex);
    Current out;
    auto it = impl_->entries.find(name);
    if (it == impl_->entries.end()) {
        out.problem = fmt::format("credential '{}' is not a login", name);
        return out;
    }
    impl_->refresh_from_file(name, it->second);
    out.found = it->second.loaded;
    out.problem = it->second.problem;
    if (out.found) {
        out.record = it->second.record;
        // An expired token wakes the thread (it refreshes as soon as it looks).
        if (token_state(out.record, impl_->now()) == TokenState::expired) impl_->wake.notify_all();
    }
    return out;
}

void LoginBroker::unauthorized(const std::string& name, const std::string& access_token) {
    {
        std::lock_guard g(impl_->mutex);
        auto it = impl_->entries.find(name);
        if (it == impl_->entries.end() || !it->second.loaded) return;
        auto& e = it->second;
        // Once per access token: the first 401 to the current token asks for a refresh.
        if (e.record.access_token != access_token || e.unauthorized_seen == access_token) return;
        e.unauthorized_seen = access_token;
        e.refresh_for_token = access_token;
    }
    impl_->wake.notify_all();
}

}  // namespace airlock::proxy
