#include "ca/ca.hpp"

#include <arpa/inet.h>

#include <optional>
#include <fmt/format.h>

#include "airlock/text.hpp"
#include "ca/openssl_util.hpp"

namespace airlock::ca {

using namespace detail;

namespace {

constexpr long kBackdateSeconds = 3600;           // tolerate clocks a little behind
constexpr int kLeafValidityDays = 7;
constexpr auto kRenewBefore = std::chrono::hours(24);  // re-mint a cached leaf this close to expiry
constexpr std::size_t kMaxCommonName = 64;        // ub-common-name (RFC 5280)

// ALPN: the proxy speaks HTTP/1.1 only. A client that does not offer it gets no ALPN
// answer (and will speak HTTP/1.1 or give up), never a protocol we do not speak.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
    static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    unsigned char selected_len = 0;
    if (SSL_select_next_proto(&selected, &selected_len, kHttp11, sizeof kHttp11, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    *outlen = selected_len;
    return SSL_TLSEXT_ERR_OK;
}

// subjectAltName for one host: an IP address (4 or 16 raw bytes) or a DNS name.
bool add_subject_alt_name(X509* cert, const std::string& host, bool critical) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    GeneralNamePtr name(GENERAL_NAME_new());
    Asn1StringPtr value;
    int type = GEN_DNS;
    unsigned char ip[16];
    int ip_len = inet_pton(AF_INET, host.c_str(), ip) == 1    ? 4
                 : inet_pton(AF_INET6, host.c_str(), ip) == 1 ? 16
                                                              : 0;
    if (ip_len != 0) {
        type = GEN_IPADD;
        value.reset(ASN1_OCTET_STRING_new());
        if (!value || ASN1_OCTET_STRING_set(value.get(), ip, ip_len) != 1) return false;
    } else {
        value.reset(ASN1_IA5STRING_new());
        if (!value || ASN1_STRING_set(value.get(), host.data(), static_cast<int>(host.size())) != 1) return false;
    }
    if (!names || !name) return false;
    GENERAL_NAME_set0_value(name.get(), type, value.release());
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) return false;
    name.release();
    return X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), critical ? 1 : 0, X509V3_ADD_DEFAULT) == 1;
}

Result<X509Ptr> make_leaf_certificate(const Authority& ca, EVP_PKEY* leaf_key, const std::string& host) {
    X509Ptr cert(X509_new());
    if (!cert) return make_error(with_openssl_errors("cannot allocate a leaf certificate"));
    X509* issuer = ca.certificate();
    // A CN longer than 64 characters is invalid; then the subject stays empty, which
    // RFC 5280 allows when the subjectAltName is critical. Clients match on the SAN anyway.
    const bool with_cn = host.size() <= kMaxCommonName;
    bool ok = X509_set_version(cert.get(), X509_VERSION_3) == 1 && set_random_serial(cert.get()) &&
              (!with_cn || X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                                      reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1,
                                                      0) == 1) &&
              X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) != nullptr &&
              X509_time_adj_ex(X509_getm_notAfter(cert.get()), kLeafValidityDays, 0, nullptr) != nullptr;
    // Never outlive the CA: a leaf past its issuer's notAfter fails verification anyway.
    if (ok && ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(issuer)) > 0)
        ok = X509_set1_notAfter(cert.get(), X509_get0_notAfter(issuer)) == 1;
    ok = ok && X509_set_pubkey(cert.get(), leaf_key) == 1 &&
         add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth") &&
         add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash") &&
         add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always") &&
         add_subject_alt_name(cert.get(), host, /*critical=*/!with_cn) &&
         X509_sign(cert.get(), ca.private_key(), EVP_sha256()) > 0;
    if (!ok) return make_error(with_openssl_errors(fmt::format("cannot mint a certificate for {}", host)));
    return cert;
}

Result<SslCtxPtr> make_server_context(X509* leaf, EVP_PKEY* key, X509* ca_cert, const std::string& host) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    bool ok = ctx && SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) == 1 &&
              SSL_CTX_use_certificate(ctx.get(), leaf) == 1 && SSL_CTX_use_PrivateKey(ctx.get(), key) == 1 &&
              SSL_CTX_add1_chain_cert(ctx.get(), ca_cert) == 1 && SSL_CTX_check_private_key(ctx.get()) == 1;
    if (!ok) return make_error(with_openssl_errors(fmt::format("cannot set up the TLS server context for {}", host)));
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11, nullptr);
    // One resumption ticket per handshake (OpenSSL sends two by default; clients use one),
    // and no idle read/write buffers held by connections waiting for their next request.
    SSL_CTX_set_num_tickets(ctx.get(), 1);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

}  // namespace

Result<std::string> canonical_host(std::string_view host) {
    auto invalid = [&](std::string_view why) {
        return make_error(fmt::format("invalid host name '{}': {}", escape_controls(host, 80), why));
    };
    if (host.empty()) return make_error("invalid host name: it is empty");
    for (char c : host) {
        if (c == '\0') return invalid("it contains a NUL byte");
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            return invalid("it contains whitespace");
        if (c == '/') return invalid("it contains '/'");
    }
    if (host.size() > 255) return invalid("it is longer than 253 characters");

    std::string_view h = host;
    const bool bracketed = h.size() >= 2 && h.front() == '[' && h.back() == ']';
    if (bracketed) h = h.substr(1, h.size() - 2);
    std::string s(h);
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');

    char text[INET6_ADDRSTRLEN];
    if (bracketed || s.find(':') != std::string::npos) {
        in6_addr a6{};
        if (inet_pton(AF_INET6, s.c_str(), &a6) != 1) return invalid("it is not a valid IPv6 address");
        return std::string(inet_ntop(AF_INET6, &a6, text, sizeof text));
    }
    if (in_addr a4{}; inet_pton(AF_INET, s.c_str(), &a4) == 1)
        return std::string(inet_ntop(AF_INET, &a4, text, sizeof text));

    if (s.back() == '.') s.pop_back();
    if (s.empty()) return invalid("it has no labels");
    if (s.size() > 253) return invalid("it is longer than 253 characters");
    std::size_t label = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '.') {
            if (label == 0) return invalid("it has an empty label");
            if (label > 63) return invalid("it has a label longer than 63 characters");
            label = 0;
            continue;
        }
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return invalid(fmt::format("it contains '{}', which cannot be in a host name", escape_controls(std::string_view(&c, 1))));
        ++label;
    }
    return s;
}

struct LeafCache::InFlight {
    std::optional<Result<LeafPtr>> result;  // set once, under mutex_
};

LeafCache::LeafCache(std::shared_ptr<const Authority> ca, std::size_t capacity)
    : ca_(std::move(ca)), capacity_(capacity == 0 ? 1 : capacity), leaf_key_(generate_p256_key()) {
    if (!leaf_key_) leaf_key_error_ = with_openssl_errors("cannot generate the leaf key");
}

Result<LeafCache::LeafPtr> LeafCache::mint(const std::string& host) const {
    if (!leaf_key_) return make_error(leaf_key_error_);
    if (!ca_) return make_error("no CA loaded; run `airlock ca init`");
    ERR_clear_error();
    auto cert = make_leaf_certificate(*ca_, leaf_key_.get(), host);
    if (!cert) return cert.error();
    auto ctx = make_server_context(cert->get(), leaf_key_.get(), ca_->certificate(), host);
    if (!ctx) return ctx.error();
    std::string pem = to_pem(cert->get());
    if (pem.empty()) return make_error(with_openssl_errors(fmt::format("cannot encode the certificate for {}", host)));
    if (EVP_PKEY_up_ref(leaf_key_.get()) != 1) return make_error(with_openssl_errors("cannot reference the leaf key"));
    PkeyPtr key(leaf_key_.get());

    auto leaf = std::make_shared<Leaf>();
    leaf->host = host;
    leaf->certificate = cert->get();
    leaf->key = key.get();
    leaf->server_context = ctx->get();
    leaf->cert_pem = std::move(pem);
    leaf->not_after = to_time_point(X509_get0_notAfter(cert->get()));
    leaf->owned_certificate = std::move(*cert);
    leaf->owned_key = std::move(key);
    leaf->owned_server_context = std::move(*ctx);
    return LeafPtr(std::move(leaf));
}

Result<std::shared_ptr<const Leaf>> LeafCache::get(std::string_view host) {
    auto canonical = canonical_host(host);
    if (!canonical) return canonical.error();
    const std::string& key = *canonical;

    std::shared_ptr<InFlight> flight;
    {
        std::unique_lock lock(mutex_);
        if (auto it = index_.find(key); it != index_.end()) {
            LeafPtr leaf = *it->second;
            if (std::chrono::system_clock::now() + kRenewBefore < leaf->not_after) {
                lru_.splice(lru_.begin(), lru_, it->second);
                return leaf;
            }
            // Close to expiry: mint a fresh one below (the old one stays until replaced).
        }
        if (auto it = in_flight_.find(key); it != in_flight_.end()) {
            std::shared_ptr<InFlight> first = it->second;
            minted_cv_.wait(lock, [&] { return first->result.has_value(); });
            return *first->result;
        }
        flight = std::make_shared<InFlight>();
        in_flight_.emplace(key, flight);
    }

    // Minting runs unlocked, so other hosts are served and minted meanwhile.
    std::optional<Result<LeafPtr>> result;
    try {
        result.emplace(mint(key));
    } catch (const std::exception& e) {
        result.emplace(make_error(fmt::format("cannot mint a certificate for {}: {}", key, e.what())));
    }

    {
        std::lock_guard lock(mutex_);
        if (*result) {
            if (auto it = index_.find(key); it != index_.end()) {
                lru_.erase(it->second);
                index_.erase(it);
            }
            lru_.push_front(result->value());
            index_.emplace(key, lru_.begin());
            ++minted_;
            while (lru_.size() > capacity_) {
                index_.erase(lru_.back()->host);
                lru_.pop_back();
            }
        }
        flight->result = *result;
        in_flight_.erase(key);
    }
    minted_cv_.notify_all();
    return std::move(*result);
}

std::size_t LeafCache::size() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

std::uint64_t LeafCache::minted() const {
    std::lock_guard lock(mutex_);
    return minted_;
}

std::string LeafCache::key_pem() const { return leaf_key_ ? to_pem(leaf_key_.get()) : std::string(); }

}  // namespace airlock::ca
