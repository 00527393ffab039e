#pragma once
// The certificate authority: airlock's own CA under $AIRLOCK_HOME/ca/ and the leaf
// certificates it mints for intercepted hosts, cached as ready-to-use TLS server contexts.
//
// Every OpenSSL handle handed out here is borrowed: it stays valid while the object that
// returned it (Authority, Leaf) lives, and the caller must not free it.

#include <openssl/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "airlock/result.hpp"

namespace airlock::ca {

namespace detail {
// Frees the OpenSSL handles owned by the types below (defined in authority.cpp, so this
// header needs only <openssl/types.h>).
struct OpenSslFree {
    void operator()(X509* p) const noexcept;
    void operator()(EVP_PKEY* p) const noexcept;
    void operator()(SSL_CTX* p) const noexcept;
};
template <class T>
using Owned = std::unique_ptr<T, OpenSslFree>;
}  // namespace detail

// What `airlock ca init` and `airlock doctor` show about a CA.
struct CaInfo {
    std::string subject;             // e.g. "CN=airlock CA (myhost), O=airlock"
    std::string sha256_fingerprint;  // of the DER certificate, "AA:BB:..."
    std::string not_before;          // ISO 8601 UTC, "2025-01-31T12:00:00Z"
    std::string not_after;
    std::filesystem::path cert_path;
    std::filesystem::path key_path;
};

// The CA certificate and its private key. Immutable after creation, so one instance may be
// shared by any number of threads.
class Authority {
public:
    // Where a CA lives inside its directory (the directory is $AIRLOCK_HOME/ca).
    static std::filesystem::path cert_path(const std::filesystem::path& ca_dir);  // ca_dir/ca.pem
    static std::filesystem::path key_path(const std::filesystem::path& ca_dir);   // ca_dir/ca-key.pem

    // Creates a new CA in ca_dir (created 0700, parents as needed): an ECDSA P-256 key
    // written 0600 (created with O_EXCL, never readable by others, not even briefly) and a
    // self-signed certificate valid for 10 years (CA:TRUE, pathlen:0, keyCertSign+cRLSign).
    // Refuses with an Error when a CA (either file) already exists unless `force`; with
    // `force` both files are replaced atomically (temp file + rename), which makes every
    // certificate trusted from the old CA stale.
    static Result<std::shared_ptr<const Authority>> create(const std::filesystem::path& ca_dir,
                                                           bool force);

    // Loads the CA from ca_dir. Errors (one line, saying what to do): a missing file (run
    // `airlock ca init`), a key readable by group or others (`chmod 600 <path>`), an
    // unparsable file, a certificate that is not a CA or has expired, a cert/key mismatch.
    static Result<std::shared_ptr<const Authority>> load(const std::filesystem::path& ca_dir);

    CaInfo info() const;
    const std::string& cert_pem() const { return cert_pem_; }
    X509* certificate() const { return certificate_.get(); }  // borrowed
    EVP_PKEY* private_key() const { return key_.get(); }      // borrowed

    Authority(const Authority&) = delete;
    Authority& operator=(const Authority&) = delete;

private:
    Authority(detail::Owned<X509> certificate, detail::Owned<EVP_PKEY> key, std::string cert_pem,
              CaInfo info);

    detail::Owned<X509> certificate_;
    detail::Owned<EVP_PKEY> key_;
    std::string cert_pem_;
    CaInfo info_;
};

// A minted leaf for one host: the certificate, the (shared) leaf key and a TLS server context
// holding both plus the CA certificate as chain, TLS 1.2 minimum, ALPN "http/1.1" only.
// The raw pointers are borrowed views of the owners below; valid while this Leaf lives (an
// SSL made from server_context keeps its own reference to the context). To wrap the context
// in something that takes ownership (asio::ssl::context), call SSL_CTX_up_ref first.
struct Leaf {
    std::string host;  // canonical host (see canonical_host)
    X509* certificate = nullptr;
    EVP_PKEY* key = nullptr;
    SSL_CTX* server_context = nullptr;
    std::string cert_pem;
    std::chrono::system_clock::time_point not_after;

    detail::Owned<X509> owned_certificate;
    detail::Owned<EVP_PKEY> owned_key;
    detail::Owned<SSL_CTX> owned_server_context;
};

// Leaves per canonical host, minted on first use with one leaf key (generated once per
// cache), kept in a bounded LRU. Thread-safe. Concurrent get() calls for the same uncached
// host mint once: later callers wait for the first caller's result. A cached leaf within a
// day of expiry is minted again.
class LeafCache {
public:
    // capacity: how many hosts stay cached (at least 1).
    explicit LeafCache(std::shared_ptr<const Authority> ca, std::size_t capacity = 1024);

    // The leaf for `host` (a DNS name or IPv4/IPv6 literal, brackets allowed). Errors: the
    // host is invalid (see canonical_host), or minting failed. Errors are not cached.
    Result<std::shared_ptr<const Leaf>> get(std::string_view host);

    std::size_t size() const;       // hosts cached now
    std::uint64_t minted() const;   // leaves minted since construction
    std::string key_pem() const;    // the leaf private key as PKCS#8 PEM (for tests, tools)

private:
    using LeafPtr = std::shared_ptr<const Leaf>;
    struct InFlight;  // one mint in progress, awaited by later callers for the same host

    Result<LeafPtr> mint(const std::string& host) const;

    const std::shared_ptr<const Authority> ca_;
    const std::size_t capacity_;
    detail::Owned<EVP_PKEY> leaf_key_;  // null when key generation failed (then get() errors)
    std::string leaf_key_error_;

    // mutex_ guards lru_, index_, in_flight_ and minted_; it is never held while minting.
    mutable std::mutex mutex_;
    std::condition_variable minted_cv_;  // signalled when an in-flight mint completes
    std::list<LeafPtr> lru_;             // most recently used first
    std::unordered_map<std::string, std::list<LeafPtr>::iterator> index_;
    std::unordered_map<std::string, std::shared_ptr<InFlight>> in_flight_;
    std::uint64_t minted_ = 0;
};

// The cache key for a host: lowercase, one trailing dot removed, IPv6 brackets removed, IP
// literals in their standard text form ("0:0::1" -> "::1"). Errors (never asserts) for an
// empty name, one longer than 253 characters, a NUL, space, '/', or any other character
// that cannot be in a host name, and empty or over-long (63) labels.
Result<std::string> canonical_host(std::string_view host);

}  // namespace airlock::ca
