#pragma once
// Internal to proxy/: who is asking. Checks Proxy-Authorization credentials against the
// client store (sessions.db, read-only) and caches the answers while the store's files are
// unchanged (StoreStamp), so a request on a kept-alive connection costs two stat() calls
// instead of a query. No Asio/Beast.
//
// Not thread-safe: one ClientAuth per worker thread (its store handle and cache are that
// thread's).

#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>

#include "proxy/clients.hpp"
#include "proxy/http_request.hpp"
#include "proxy/policy.hpp"
#include "proxy/proxy_auth.hpp"

namespace airlock::proxy {

// What the client store looked like: the store runs in WAL mode, so every commit by any
// process (a client added or removed, a session written) changes the size or modification
// time of its write-ahead log ("sessions.db-wal"; created again by the first writer after
// the last connection removed it). Only when there is no log is the database file itself
// stamped. An equal stamp means cached answers still hold.
struct StoreStamp {
    struct timespec time {};
    off_t size = -1;
    bool wal = false;

    static StoreStamp of(const std::filesystem::path& db);
    bool operator==(const StoreStamp& o) const {
        return time.tv_sec == o.time.tv_sec && time.tv_nsec == o.time.tv_nsec && size == o.size && wal == o.wal;
    }
};

class ClientAuth {
public:
    // `store`: the client store's path; `log`: one line per store failure (no secrets).
    ClientAuth(std::filesystem::path store, std::function<void(const std::string&)> log)
        : store_path_(std::move(store)), log_(std::move(log)) {}

    // The client these credentials name, or nullopt: unknown, wrong token, or the store
    // could not answer (refused; asked again next time).
    std::optional<ClientScope> authenticate(const ProxyCredentials& creds);

    // The client named by the head's Proxy-Authorization (and its credentials in `out`).
    std::optional<ClientScope> authenticate(const RequestHead& head, ProxyCredentials* out = nullptr);

private:
    std::optional<std::optional<ClientScope>> ask_store(const ProxyCredentials& creds);

    std::filesystem::path store_path_;
    std::function<void(const std::string&)> log_;
    std::optional<ClientStore> store_;  // opened on first use
    StoreStamp stamp_;
    std::map<std::pair<std::string, std::string>, std::optional<ClientScope>> cache_;  // (name, token)
};

}  // namespace airlock::proxy
