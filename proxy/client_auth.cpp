#include "proxy/client_auth.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

namespace airlock::proxy {

StoreStamp StoreStamp::of(const std::filesystem::path& db) {
    StoreStamp s;
    struct stat st {};
    auto wal = db.string() + "-wal";
    if (::stat(wal.c_str(), &st) == 0) s.wal = true;
    else if (::stat(db.c_str(), &st) != 0) return s;
    s.time = st.st_mtim;
    s.size = st.st_size;
    return s;
}

std::optional<ClientScope> ClientAuth::authenticate(const RequestHead& head, ProxyCredentials* out) {
    auto header = head.find("Proxy-Authorization");
    if (!header) return std::nullopt;
    auto creds = parse_proxy_authorization(*header);
    if (!creds) return std::nullopt;
    auto scope = authenticate(*creds);
    if (scope && out) *out = std::move(*creds);
    return scope;
}

std::optional<ClientScope> ClientAuth::authenticate(const ProxyCredentials& creds) {
    auto stamp = StoreStamp::of(store_path_);
    if (!(stamp == stamp_) || cache_.size() > 4096) {
        cache_.clear();
        stamp_ = stamp;
    }
    auto key = std::pair{creds.name, creds.token};
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    auto answer = ask_store(creds);
    if (!answer) return std::nullopt;  // the store failed: refuse, but ask again next time
    cache_.emplace(std::move(key), *answer);
    return *answer;
}

// nullopt when the store could not answer; else the client, or nullopt inside for "no".
std::optional<std::optional<ClientScope>> ClientAuth::ask_store(const ProxyCredentials& creds) {
    if (!store_) {
        auto s = ClientStore::open(store_path_, ClientStore::Mode::read_only);
        if (!s) {
            if (log_) log_(fmt::format("client store: {}", s.error().message));
            return std::nullopt;
        }
        store_.emplace(std::move(*s));
    }
    auto found = store_->authenticate(creds.name, creds.token);
    if (!found) {
        if (log_) log_(fmt::format("client store: {}", found.error().message));
        return std::nullopt;
    }
    if (!*found) return std::optional<ClientScope>{};
    ClientScope scope;
    scope.name = (*found)->name;
    scope.rules.insert((*found)->credentials.begin(), (*found)->credentials.end());
    return std::optional<ClientScope>{std::move(scope)};
}

}  // namespace airlock::proxy
