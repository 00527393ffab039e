#pragma once
// Internal to proxy/: idle upstream connections kept after a complete exchange, for the
// same client's next request to the same host under the same rule and configuration.
//
// The credential-routing invariant lives here: a connection is only ever handed back for
// the exact (client, host, port, rule, generation) it was made for. The key is a typed
// struct compared field by field (an earlier string key was cut at a NUL and matched
// every host of a client); take() checks the key stored with each connection again
// before handing it out. A reload bumps the generation, so no connection made under old
// rules or an old upstream trust store is reused.
//
// Not thread-safe: one pool per worker thread. Pure bookkeeping over any Connection type
// (the tests use plain values); whether a connection is still open is asked of the caller.

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace airlock::proxy {

struct UpstreamKey {
    std::string client;           // the proxy client (session) name
    std::string host;             // canonical CONNECT host
    std::uint16_t port = 0;
    std::string rule;             // the credential rule the connection carries requests for
    std::uint64_t generation = 0; // the configuration it was made under (bumped by reload)
    auto operator<=>(const UpstreamKey&) const = default;
};

struct UpstreamPoolLimits {
    std::chrono::steady_clock::duration idle = std::chrono::seconds(30);
    std::size_t per_key = 64;
    std::size_t total = 512;
};

template <class Connection>
class UpstreamPool {
public:
    using Clock = std::chrono::steady_clock;

    explicit UpstreamPool(UpstreamPoolLimits limits = {}) : limits_(limits) {}

    // An idle connection for exactly `key`, or null. `usable(Connection&)` says whether the
    // peer still holds it open; connections that are not, that aged out, or whose stored key
    // differs from `key` are dropped (closed by their destructor).
    template <class Usable>
    std::unique_ptr<Connection> take(const UpstreamKey& key, Clock::time_point now, Usable&& usable) {
        auto it = entries_.find(key);
        if (it == entries_.end()) return nullptr;
        std::unique_ptr<Connection> found;
        auto& list = it->second;
        while (!list.empty() && !found) {
            auto e = std::move(list.back());
            list.pop_back();
            --size_;
            if (e.key == key && now - e.since < limits_.idle && usable(*e.conn)) found = std::move(e.conn);
        }
        if (list.empty()) entries_.erase(it);
        return found;
    }

    // Keeps `conn` for `key`; false (and `conn` is dropped) when the pool is full even
    // after aged-out and older-generation entries went.
    bool put(const UpstreamKey& key, std::unique_ptr<Connection> conn, Clock::time_point now) {
        // This runs after every exchange: sweep at most once a second, or when full (so
        // that a full pool is one of live connections).
        if (now - swept_ >= std::chrono::seconds(1) || full(key)) sweep(now, key.generation);
        if (full(key)) return false;
        entries_[key].push_back({key, std::move(conn), now});
        ++size_;
        return true;
    }

    // Drops entries that aged out or belong to a generation before `generation`.
    void sweep(Clock::time_point now, std::uint64_t generation) {
        swept_ = now;
        for (auto it = entries_.begin(); it != entries_.end();) {
            auto& list = it->second;
            auto before = list.size();
            std::erase_if(list, [&](const Entry& e) {
                return now - e.since >= limits_.idle || e.key.generation < generation;
            });
            size_ -= before - list.size();
            it = list.empty() ? entries_.erase(it) : std::next(it);
        }
    }

    std::size_t size() const { return size_; }

private:
    struct Entry {
        UpstreamKey key;
        std::unique_ptr<Connection> conn;
        Clock::time_point since;
    };

    bool full(const UpstreamKey& key) const {
        if (size_ >= limits_.total) return true;
        auto it = entries_.find(key);
        return it != entries_.end() && it->second.size() >= limits_.per_key;
    }

    UpstreamPoolLimits limits_;
    std::map<UpstreamKey, std::vector<Entry>> entries_;
    std::size_t size_ = 0;
    Clock::time_point swept_{};
};

}  // namespace airlock::proxy
