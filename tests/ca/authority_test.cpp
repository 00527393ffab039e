#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "ca/ca.hpp"
#include "ca/openssl_util.hpp"

namespace fs = std::filesystem;
using namespace airlock::ca;

namespace {

using airlock::testing::TempDir;

// A fresh directory under /tmp, removed with everything in it.
unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// "AA:BB:..:FF" with 32 upper-case hex pairs (a SHA-256 fingerprint).
bool is_fingerprint(const std::string& s) {
    if (s.size() != 32 * 3 - 1) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool ok = i % 3 == 2 ? c == ':' : ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'));
        if (!ok) return false;
    }
    return true;
}

// "2025-01-31T12:00:00Z"
bool is_iso8601_utc(const std::string& s) {
    const std::string shape = "dddd-dd-ddTdd:dd:ddZ";
    if (s.size() != shape.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
    return true;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

bool is_critical(X509* cert, int nid) {
    int idx = X509_get_ext_by_NID(cert, nid, -1);
    REQUIRE(idx >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
}

}  // namespace

TEST_SUITE("ca.authority") {

TEST_CASE("create writes a 0700 dir, a 0600 key and a CA certificate") {
    TempDir tmp;
    const fs::path dir = tmp.path / "home" / "ca";  // parents created too
    auto ca = Authority::create(dir, false);
    REQUIRE_MESSAGE(ca.ok(), (ca ? "" : ca.error().message));
    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(Authority::key_path(dir)) == 0600);
    CHECK(Authority::cert_path(dir) == dir / "ca.pem");
    CHECK(Authority::key_path(dir) == dir / "ca-key.pem");
    CHECK(slurp(Authority::cert_path(dir)) == (*ca)->cert_pem());
    CHECK(slurp(Authority::key_path(dir)).find("BEGIN PRIVATE KEY") != std::string::npos);

    CaInfo info = (*ca)->info();
    CHECK(info.subject.rfind("CN=airlock CA (", 0) == 0);
    CHECK(info.subject.find(", O=airlock") != std::string::npos);
    CHECK(is_fingerprint(info.sha256_fingerprint));
    CHECK(is_iso8601_utc(info.not_before));
    CHECK(is_iso8601_utc(info.not_after));
    CHECK(info.cert_path == Authority::cert_path(dir));
    CHECK(info.key_path == Authority::key_path(dir));
}

TEST_CASE("a pre-existing CA directory is tightened to 0700") {
    TempDir tmp;
    const fs::path dir = tmp.path / "ca";
    fs::create_directory(dir);
    ::chmod(dir.c_str(), 0755);
    REQUIRE(Authority::create(dir, false).ok());
    CHECK(mode_of(dir) == 0700);
}

TEST_CASE("the CA certificate has the extensions a strict verifier wants") {
    TempDir tmp;
    auto ca = Authority::create(tmp.path / "ca", false);
    REQUIRE(ca.ok());
    X509* cert = (*ca)->certificate();

    CHECK(X509_get_version(cert) == X509_VERSION_3);
    int crit = -1;
    auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert, NID_basic_constraints, &crit, nullptr));
    REQUIRE(bc != nullptr);
    CHECK(bc->ca != 0);
    REQUIRE(bc->pathlen != nullptr);
    CHECK(ASN1_INTEGER_get(bc->pathlen) == 0);
    CHECK(crit == 1);
    BASIC_CONSTRAINTS_free(bc);

    CHECK(X509_get_key_usage(cert) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    CHECK(is_critical(cert, NID_key_usage));
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
    const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert);
    REQUIRE(ski != nullptr);
    REQUIRE(aki != nullptr);
    CHECK(ASN1_OCTET_STRING_cmp(ski, aki) == 0);
    CHECK(X509_check_ca(cert) == 1);
    CHECK(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0);
    CHECK(X509_verify(cert, (*ca)->private_key()) == 1);

    // ECDSA P-256
    char group[64] = {};
    REQUIRE(EVP_PKEY_get_group_name((*ca)->private_key(), group, sizeof group, nullptr) == 1);
    CHECK(std::string(group) == "prime256v1");

    // Random positive 128-bit serial.
    detail::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    CHECK(BN_num_bits(serial.get()) == 128);
    CHECK(BN_is_negative(serial.get()) == 0);

    // 10 years, backdated an hour.
    int days = 0, secs = 0;
    REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)) == 1);
    CHECK(days == 3650);
    CHECK(secs == 3600);
    CHECK(X509_cmp_current_time(X509_get0_notBefore(cert)) < 0);

    // Trusted as itself under X509_V_FLAG_X509_STRICT.
    detail::X509StorePtr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), cert);
    detail::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) == 1);
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
    CHECK_MESSAGE(X509_verify_cert(ctx.get()) == 1,
                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
}

TEST_CASE("create refuses to overwrite a CA without force; force replaces it") {
    TempDir tmp;
    const fs::path dir = tmp.path / "ca";
    auto first = Authority::create(dir, false);
    REQUIRE(first.ok());
    const std::string first_fp = (*first)->info().sha256_fingerprint;

    auto again = Authority::create(dir, false);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message.find("already exists") != std::string::npos);
    CHECK(again.error().message.find("--force") != std::string::npos);
    auto still = Authority::load(dir);
    REQUIRE(still.ok());
    CHECK((*still)->info().sha256_fingerprint == first_fp);

    SUBCASE("a lone key also counts as an existing CA") {
        fs::remove(Authority::cert_path(dir));
        CHECK_FALSE(Authority::create(dir, false).ok());
    }
    SUBCASE("force") {
        auto forced = Authority::create(dir, true);
        REQUIRE(forced.ok());
        CHECK((*forced)->info().sha256_fingerprint != first_fp);
        CHECK(mode_of(Authority::key_path(dir)) == 0600);
        CHECK(mode_of(dir) == 0700);
        auto loaded = Authority::load(dir);
        REQUIRE(loaded.ok());
        CHECK((*loaded)->info().sha256_fingerprint == (*forced)->info().sha256_fingerprint);
        // No temp files left behind.
        int entries = 0;
        for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++entries;
        CHECK(entries == 2);
    }
}

TEST_CASE("load round-trips what create wrote") {
    TempDir tmp;
    auto created = Authority::create(tmp.path, false);
    REQUIRE(created.ok());
    auto loaded = Authority::load(tmp.path);
    REQUIRE_MESSAGE(loaded.ok(), (loaded ? "" : loaded.error().message));
    CHECK((*loaded)->cert_pem() == (*created)->cert_pem());
    CHECK((*loaded)->info().sha256_fingerprint == (*created)->info().sha256_fingerprint);
    CHECK((*loaded)->info().subject == (*created)->info().subject);
    CHECK((*loaded)->info().not_after == (*created)->info().not_after);
    CHECK(EVP_PKEY_eq((*loaded)->private_key(), (*created)->private_key()) == 1);
}

TEST_CASE("load refuses a key readable by group or others, and says to chmod 600") {
    TempDir tmp;
    REQUIRE(Authority::create(tmp.path, false).ok());
    const fs::path key = Authority::key_path(tmp.path);
    for (mode_t mode : {0640, 0604, 0660, 0610}) {
        CAPTURE(mode);
        REQUIRE(::chmod(key.c_str(), mode) == 0);
        auto loaded = Authority::load(tmp.path);
        REQUIRE_FALSE(loaded.ok());
        const std::string& msg = loaded.error().message;
        CHECK(msg.find("chmod 600 " + key.string()) != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
    REQUIRE(::chmod(key.c_str(), 0400) == 0);
    CHECK(Authority::load(tmp.path).ok());
}

TEST_CASE("load reports missing files and says to run airlock ca init") {
    TempDir tmp;
    auto empty = Authority::load(tmp.path / "nothing-here");
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().message.find("airlock ca init") != std::string::npos);

    REQUIRE(Authority::create(tmp.path, false).ok());
    fs::remove(Authority::cert_path(tmp.path));
    auto no_cert = Authority::load(tmp.path);
    REQUIRE_FALSE(no_cert.ok());
    CHECK(no_cert.error().message.find("airlock ca init") != std::string::npos);
    CHECK(no_cert.error().message.find("ca.pem") != std::string::npos);
}

TEST_CASE("load refuses a certificate that does not match the key") {
    TempDir a, b;
    REQUIRE(Authority::create(a.path, false).ok());
    REQUIRE(Authority::create(b.path, false).ok());
    fs::copy_file(Authority::key_path(b.path), Authority::key_path(a.path), fs::copy_options::overwrite_existing);
    ::chmod(Authority::key_path(a.path).c_str(), 0600);
    auto loaded = Authority::load(a.path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find("does not match") != std::string::npos);
}

TEST_CASE("load refuses garbage files") {
    TempDir tmp;
    REQUIRE(Authority::create(tmp.path, false).ok());
    SUBCASE("key") {
        std::ofstream(Authority::key_path(tmp.path)) << "not a key\n";
        auto loaded = Authority::load(tmp.path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().message.find("cannot read the CA key") != std::string::npos);
    }
    SUBCASE("certificate") {
        std::ofstream(Authority::cert_path(tmp.path)) << "not a certificate\n";
        auto loaded = Authority::load(tmp.path);
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().message.find("cannot read the CA certificate") != std::string::npos);
    }
}

}  // TEST_SUITE
