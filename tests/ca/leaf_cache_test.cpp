#include <doctest/doctest.h>
#include <arpa/inet.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "ca/ca.hpp"
#include "ca/openssl_util.hpp"

namespace fs = std::filesystem;
using namespace airlock::ca;
using namespace airlock::ca::detail;

namespace {

// A CA in a fresh directory under /tmp, removed afterwards.
struct TestCa {
    fs::path dir;
    std::shared_ptr<const Authority> ca;
    TestCa() {
        std::string tmpl = (fs::temp_directory_path() / "airlock-leaf-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
        auto created = Authority::create(dir / "ca", false);
        REQUIRE(created.ok());
        ca = *created;
    }
    ~TestCa() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    TestCa(const TestCa&) = delete;
    TestCa& operator=(const TestCa&) = delete;
};

bool is_ip(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Verifies `leaf` against the CA alone, strictly, as a TLS server certificate for `host`.
std::string strict_verify(const Authority& ca, X509* leaf, const std::string& host) {
    X509StorePtr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), ca.certificate());
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (is_ip(host)) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (X509_verify_cert(ctx.get()) == 1) return "ok";
    return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

// The single subjectAltName entry: "DNS:name" or "IP:<16 or 4 raw bytes as text>".
std::string san_of(X509* cert, int* critical) {
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, critical, nullptr));
    REQUIRE(names != nullptr);
    GeneralNamesPtr owner(names);
    REQUIRE(sk_GENERAL_NAME_num(names) == 1);
    GENERAL_NAME* name = sk_GENERAL_NAME_value(names, 0);
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    std::string raw(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                    static_cast<std::size_t>(ASN1_STRING_length(value)));
    if (type == GEN_DNS) return "DNS:" + raw;
    if (type == GEN_IPADD) {
        char text[INET6_ADDRSTRLEN] = {};
        inet_ntop(raw.size() == 4 ? AF_INET : AF_INET6, raw.data(), text, sizeof text);
        return "IP:" + std::string(text);
    }
    return "other";
}

std::string common_name(X509* cert) {
    X509_NAME* name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return {};
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

struct Handshake {
    bool ok = false;
    std::string alpn;
    int peer_chain = 0;
    std::string protocol;
    std::string failure;
    std::string echoed;
};

// A real TLS handshake in memory (a BIO pair) between a strict client that trusts only the
// CA and checks `expect_host`, and a server using the leaf's context; then one record each way.
Handshake handshake(const Authority& ca, SSL_CTX* server_ctx, const std::string& expect_host,
                    std::string_view alpn_protos = std::string_view("\x02h2\x08http/1.1", 12), int client_max = 0) {
    Handshake out;
    SslCtxPtr cctx(SSL_CTX_new(TLS_client_method()));
    REQUIRE(cctx);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx.get()), ca.certificate());
    SSL_CTX_set_verify(cctx.get(), SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(cctx.get()), X509_V_FLAG_X509_STRICT);
    if (client_max) SSL_CTX_set_max_proto_version(cctx.get(), client_max);
    if (client_max && client_max < TLS1_2_VERSION) SSL_CTX_set_security_level(cctx.get(), 0);

    SslPtr client(SSL_new(cctx.get()));
    SslPtr server(SSL_new(server_ctx));
    REQUIRE(client);
    REQUIRE(server);
    if (is_ip(expect_host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client.get()), expect_host.c_str());
    } else {
        SSL_set1_host(client.get(), expect_host.c_str());
        SSL_set_tlsext_host_name(client.get(), expect_host.c_str());
    }
    if (!alpn_protos.empty())
        REQUIRE(SSL_set_alpn_protos(client.get(), reinterpret_cast<const unsigned char*>(alpn_protos.data()),
                                    static_cast<unsigned>(alpn_protos.size())) == 0);
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());

    bool client_done = false, server_done = false;
    auto step = [&](SSL* ssl, bool& done, const char* who) {
        if (done) return true;
        int r = SSL_do_handshake(ssl);
        if (r == 1) return done = true;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
        out.failure = std::string(who) + ": " + drain_errors();
        return false;
    };
    for (int i = 0; i < 50 && !(client_done && server_done); ++i)
        if (!step(client.get(), client_done, "client") || !step(server.get(), server_done, "server")) break;
    drain_errors();
    if (!(client_done && server_done)) return out;
    if (SSL_get_verify_result(client.get()) != X509_V_OK) {
        out.failure = X509_verify_cert_error_string(SSL_get_verify_result(client.get()));
        return out;
    }

    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(client.get(), &alpn, &alpn_len);
    out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.get());
    out.peer_chain = chain ? sk_X509_num(chain) : 0;
    out.protocol = SSL_get_version(client.get());

    // Application data flows both ways.
    REQUIRE(SSL_write(client.get(), "ping", 4) == 4);
    char buf[16] = {};
    int n = SSL_read(server.get(), buf, sizeof buf);
    REQUIRE(n == 4);
    REQUIRE(SSL_write(server.get(), buf, n) == n);
    n = SSL_read(client.get(), buf, sizeof buf);
    REQUIRE(n == 4);
    out.echoed.assign(buf, static_cast<std::size_t>(n));
    out.ok = true;
    return out;
}

}  // namespace

TEST_SUITE("ca.leaf_cache") {

TEST_CASE("canonical_host") {
    auto canon = [](std::string_view h) {
        auto r = canonical_host(h);
        return r ? *r : "ERROR: " + r.error().message;
    };
    CHECK(canon("api.anthropic.com") == "api.anthropic.com");
    CHECK(canon("UPPER.Example.COM.") == "upper.example.com");
    CHECK(canon("localhost") == "localhost");
    CHECK(canon("_srv.example") == "_srv.example");
    CHECK(canon("127.0.0.1") == "127.0.0.1");
    CHECK(canon("::1") == "::1");
    CHECK(canon("[::1]") == "::1");
    CHECK(canon("0:0:0:0:0:0:0:1") == "::1");
    CHECK(canon("[2001:DB8::0001]") == "2001:db8::1");
    CHECK(canon("::FFFF:10.0.0.1") == "::ffff:10.0.0.1");

    std::string longest(253, 'a');
    for (std::size_t i = 63; i < longest.size(); i += 64) longest[i] = '.';
    CHECK(canon(longest) == longest);
    CHECK(canon(longest + ".") == longest);

    auto invalid = [](std::string_view h) {
        auto r = canonical_host(h);
        if (r) return false;
        CHECK(r.error().message.rfind("invalid host name", 0) == 0);
        CHECK(r.error().message.find('\n') == std::string::npos);
        CHECK(r.error().message.find('\0') == std::string::npos);
        return true;
    };
    CHECK(invalid(""));
    CHECK(invalid("."));
    CHECK(invalid("a..b"));
    CHECK(invalid(".example.com"));
    CHECK(invalid("example.com.."));
    CHECK(invalid("exa mple.com"));
    CHECK(invalid("example.com "));
    CHECK(invalid("\texample.com"));
    CHECK(invalid("evil.com/path"));
    CHECK(invalid(std::string_view("evil.com\0.good.com", 18)));
    CHECK(invalid("evil.com\r\nX: y"));
    CHECK(invalid("user@host"));
    CHECK(invalid("host:443"));
    CHECK(invalid("[127.0.0.1]"));
    CHECK(invalid("[::1"));
    CHECK(invalid("fe80::1%eth0"));
    CHECK(invalid("*.example.com"));
    CHECK(invalid("a,DNS:evil.com"));
    CHECK(invalid(std::string(64, 'a') + ".com"));  // label > 63
    CHECK(invalid(longest + "a"));                  // 254 characters
    CHECK(invalid(std::string(10000, 'a')));
}

TEST_CASE("a DNS leaf: extensions, issuer, key, validity") {
    TestCa t;
    LeafCache cache(t.ca);
    auto got = cache.get("API.Anthropic.com.");
    REQUIRE_MESSAGE(got.ok(), (got ? "" : got.error().message));
    const Leaf& leaf = **got;
    X509* cert = leaf.certificate;
    CHECK(leaf.host == "api.anthropic.com");
    CHECK(strict_verify(*t.ca, cert, "api.anthropic.com") == "ok");
    CHECK(strict_verify(*t.ca, cert, "other.example.com") != "ok");

    int crit = -1;
    CHECK(san_of(cert, &crit) == "DNS:api.anthropic.com");
    CHECK(crit == 0);
    CHECK(common_name(cert) == "api.anthropic.com");
    CHECK(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(t.ca->certificate())) == 0);

    CHECK((X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) != 0);
    CHECK(X509_get_extended_key_usage(cert) == XKU_SSL_SERVER);
    CHECK(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE);
    CHECK(X509_EXTENSION_get_critical(X509_get_ext(cert, X509_get_ext_by_NID(cert, NID_key_usage, -1))) == 1);
    auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert, NID_basic_constraints, &crit, nullptr));
    REQUIRE(bc != nullptr);
    CHECK(bc->ca == 0);
    BASIC_CONSTRAINTS_free(bc);
    CHECK(X509_check_ca(cert) == 0);
    REQUIRE(X509_get0_subject_key_id(cert) != nullptr);
    REQUIRE(X509_get0_authority_key_id(cert) != nullptr);
    CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(t.ca->certificate())) == 0);
    CHECK(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cert), X509_get0_subject_key_id(t.ca->certificate())) != 0);

    // Own P-256 key, never the CA's.
    CHECK(EVP_PKEY_eq(leaf.key, t.ca->private_key()) != 1);
    CHECK(X509_check_private_key(cert, leaf.key) == 1);
    char group[64] = {};
    REQUIRE(EVP_PKEY_get_group_name(leaf.key, group, sizeof group, nullptr) == 1);
    CHECK(std::string(group) == "prime256v1");
    const std::string key_pem = cache.key_pem();
    CHECK(key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    PkeyPtr from_pem(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(from_pem);
    CHECK(EVP_PKEY_eq(from_pem.get(), leaf.key) == 1);

    // 7 days, backdated an hour.
    int days = 0, secs = 0;
    REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)) == 1);
    CHECK(days == 7);
    CHECK(secs == 3600);
    Asn1TimePtr now(ASN1_TIME_set(nullptr, std::time(nullptr)));
    REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), now.get()) == 1);
    CHECK(days == 0);
    CHECK(secs >= 3600);
    CHECK(secs < 3600 + 300);
    auto to_expiry = leaf.not_after - std::chrono::system_clock::now();
    CHECK(to_expiry > std::chrono::hours(24 * 7 - 1));
    CHECK(to_expiry <= std::chrono::hours(24 * 7));

    // PEM matches the certificate.
    BioPtr cert_bio(BIO_new_mem_buf(leaf.cert_pem.data(), static_cast<int>(leaf.cert_pem.size())));
    X509Ptr parsed(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(parsed);
    CHECK(X509_cmp(parsed.get(), cert) == 0);
}

TEST_CASE("IP literals get an IP subjectAltName") {
    TestCa t;
    LeafCache cache(t.ca);
    for (auto [input, host, san] : {std::tuple{"127.0.0.1", "127.0.0.1", "IP:127.0.0.1"},
                                    std::tuple{"[::1]", "::1", "IP:::1"},
                                    std::tuple{"2001:DB8::7", "2001:db8::7", "IP:2001:db8::7"}}) {
        CAPTURE(input);
        auto got = cache.get(input);
        REQUIRE(got.ok());
        int crit = -1;
        CHECK(san_of((*got)->certificate, &crit) == san);
        CHECK(strict_verify(*t.ca, (*got)->certificate, host) == "ok");
        CHECK(strict_verify(*t.ca, (*got)->certificate, "10.9.9.9") != "ok");
    }
}

TEST_CASE("a host longer than 64 characters gets no CN and a critical SAN") {
    TestCa t;
    LeafCache cache(t.ca);
    const std::string host = std::string(60, 'x') + ".example.com";
    auto got = cache.get(host);
    REQUIRE(got.ok());
    CHECK(common_name((*got)->certificate).empty());
    int crit = -1;
    CHECK(san_of((*got)->certificate, &crit) == "DNS:" + host);
    CHECK(crit == 1);
    CHECK(strict_verify(*t.ca, (*got)->certificate, host) == "ok");
    CHECK(handshake(*t.ca, (*got)->server_context, host).ok);
}

TEST_CASE("serials are random, positive, 128-bit and distinct; one leaf key for all hosts") {
    TestCa t;
    LeafCache cache(t.ca);
    std::set<std::string> serials;
    EVP_PKEY* first_key = nullptr;
    for (int i = 0; i < 20; ++i) {
        auto got = cache.get("host" + std::to_string(i) + ".example");
        REQUIRE(got.ok());
        BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber((*got)->certificate), nullptr));
        CHECK(BN_num_bits(bn.get()) == 128);
        CHECK(BN_is_negative(bn.get()) == 0);
        char* hex = BN_bn2hex(bn.get());
        serials.insert(hex);
        OPENSSL_free(hex);
        if (!first_key) first_key = (*got)->key;
        CHECK(EVP_PKEY_eq((*got)->key, first_key) == 1);
    }
    CHECK(serials.size() == 20);
}

TEST_CASE("the cache key is the canonical host") {
    TestCa t;
    LeafCache cache(t.ca);
    auto a = cache.get("Example.COM");
    auto b = cache.get("example.com.");
    auto c = cache.get("example.com");
    REQUIRE((a.ok() && b.ok() && c.ok()));
    CHECK(a->get() == b->get());
    CHECK(b->get() == c->get());
    CHECK(cache.minted() == 1);
    CHECK(cache.size() == 1);
    auto v6 = cache.get("[::1]");
    auto v6b = cache.get("0::1");
    REQUIRE((v6.ok() && v6b.ok()));
    CHECK(v6->get() == v6b->get());
    CHECK(cache.minted() == 2);
}

TEST_CASE("invalid hosts are errors, not mints") {
    TestCa t;
    LeafCache cache(t.ca);
    for (std::string_view bad : {std::string_view(""), std::string_view("a/b"), std::string_view("a b"),
                                 std::string_view("a\0b", 3)}) {
        auto got = cache.get(bad);
        CHECK_FALSE(got.ok());
    }
    CHECK_FALSE(cache.get(std::string(254, 'a')).ok());
    CHECK(cache.minted() == 0);
    CHECK(cache.size() == 0);
}

TEST_CASE("LRU eviction at capacity") {
    TestCa t;
    LeafCache cache(t.ca, 2);
    auto a = cache.get("a.example");
    REQUIRE(a.ok());
    REQUIRE(cache.get("b.example").ok());
    REQUIRE(cache.get("a.example").ok());  // a is now most recently used
    REQUIRE(cache.get("c.example").ok());  // evicts b
    CHECK(cache.size() == 2);
    CHECK(cache.minted() == 3);

    auto a_again = cache.get("a.example");
    REQUIRE(a_again.ok());
    CHECK(a_again->get() == a->get());
    CHECK(cache.minted() == 3);

    REQUIRE(cache.get("b.example").ok());  // minted again, evicts c
    CHECK(cache.minted() == 4);
    CHECK(cache.size() == 2);
    REQUIRE(cache.get("a.example").ok());
    CHECK(cache.minted() == 4);
    REQUIRE(cache.get("c.example").ok());
    CHECK(cache.minted() == 5);

    // An evicted leaf held by a caller stays usable.
    LeafCache tiny(t.ca, 1);
    auto held = tiny.get("held.example");
    REQUIRE(held.ok());
    REQUIRE(tiny.get("other.example").ok());
    CHECK(tiny.size() == 1);
    CHECK(handshake(*t.ca, (*held)->server_context, "held.example").ok);
}

TEST_CASE("concurrent misses for one host mint once") {
    TestCa t;
    LeafCache cache(t.ca);
    constexpr int kThreads = 16;
    std::latch start(kThreads);
    std::vector<const Leaf*> seen(kThreads, nullptr);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            auto got = cache.get(i % 2 ? "same.example" : "SAME.example.");
            if (got) seen[static_cast<std::size_t>(i)] = got->get();
        });
    }
    for (auto& th : threads) th.join();
    CHECK(cache.minted() == 1);
    CHECK(cache.size() == 1);
    for (const Leaf* p : seen) CHECK(p == seen[0]);
    CHECK(seen[0] != nullptr);
}

TEST_CASE("many threads, many hosts") {
    TestCa t;
    LeafCache cache(t.ca, 64);
    constexpr int kThreads = 8, kHosts = 40;
    std::latch start(kThreads);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            for (int j = 0; j < kHosts; ++j) {
                std::string host = "h" + std::to_string((j + i * 7) % kHosts) + ".example";
                auto got = cache.get(host);
                if (!got || (*got)->host != host) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(failures.load() == 0);
    CHECK(cache.minted() == kHosts);
    CHECK(cache.size() == kHosts);
}

TEST_CASE("the server context completes a strict TLS handshake and selects http/1.1") {
    TestCa t;
    LeafCache cache(t.ca);
    for (std::string host : {"api.anthropic.com", "127.0.0.1", "::1"}) {
        CAPTURE(host);
        auto got = cache.get(host);
        REQUIRE(got.ok());
        Handshake h = handshake(*t.ca, (*got)->server_context, host);
        CHECK_MESSAGE(h.ok, h.failure);
        CHECK(h.alpn == "http/1.1");
        CHECK(h.peer_chain == 2);  // leaf + CA
        CHECK(h.echoed == "ping");
    }

    auto leaf = cache.get("api.anthropic.com");
    REQUIRE(leaf.ok());
    SUBCASE("wrong host name fails verification") {
        Handshake h = handshake(*t.ca, (*leaf)->server_context, "evil.example.com");
        CHECK_FALSE(h.ok);
    }
    SUBCASE("a client offering only h2 gets no ALPN, not h2") {
        Handshake h = handshake(*t.ca, (*leaf)->server_context, "api.anthropic.com", std::string_view("\x02h2", 3));
        CHECK(h.ok);
        CHECK(h.alpn.empty());
    }
    SUBCASE("TLS 1.2 is accepted") {
        Handshake h = handshake(*t.ca, (*leaf)->server_context, "api.anthropic.com",
                                std::string_view("\x08http/1.1", 9), TLS1_2_VERSION);
        CHECK_MESSAGE(h.ok, h.failure);
        CHECK(h.protocol == "TLSv1.2");
        CHECK(h.alpn == "http/1.1");
    }
    SUBCASE("TLS 1.1 is refused") {
        Handshake h = handshake(*t.ca, (*leaf)->server_context, "api.anthropic.com",
                                std::string_view("\x08http/1.1", 9), TLS1_1_VERSION);
        CHECK_FALSE(h.ok);
    }
    SUBCASE("a client trusting another CA fails") {
        TestCa other;
        Handshake h = handshake(*other.ca, (*leaf)->server_context, "api.anthropic.com");
        CHECK_FALSE(h.ok);
    }
}

}  // TEST_SUITE
