#include "ca/ca.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>
#include <fmt/format.h>

#include "ca/openssl_util.hpp"

namespace airlock::ca {

namespace fs = std::filesystem;
using namespace detail;

void detail::OpenSslFree::operator()(X509* p) const noexcept { X509_free(p); }
void detail::OpenSslFree::operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
void detail::OpenSslFree::operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }

namespace {

constexpr int kCaValidityDays = 3650;  // 10 years
constexpr long kBackdateSeconds = 3600;  // tolerate clocks (containers, VMs) a little behind

std::string errno_text(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

Status write_all(int fd, std::string_view data, const fs::path& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return make_error(fmt::format("cannot write {}: {}", path.string(), errno_text(errno)));
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

// Creates `path` exclusively with `mode` from the first byte on (O_EXCL: never reuses a file
// someone else prepared, never follows a planted symlink), writes `data`, syncs it.
Status write_new_file(const fs::path& path, std::string_view data, mode_t mode) {
    Fd fd(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode));
    if (fd.get() < 0) {
        int err = errno;
        if (err == EEXIST)
            return make_error(fmt::format("{} already exists; pass --force to replace the CA", path.string()));
        return make_error(fmt::format("cannot create {}: {}", path.string(), errno_text(err)));
    }
    // The umask can only remove bits; fchmod makes the mode exactly what was asked.
    Status st = ::fchmod(fd.get(), mode) == 0
                    ? write_all(fd.get(), data, path)
                    : Status(make_error(fmt::format("cannot chmod {}: {}", path.string(), errno_text(errno))));
    if (st && ::fsync(fd.get()) != 0)
        st = make_error(fmt::format("cannot sync {}: {}", path.string(), errno_text(errno)));
    if (st && ::close(fd.release()) != 0)
        st = make_error(fmt::format("cannot close {}: {}", path.string(), errno_text(errno)));
    if (!st) ::unlink(path.c_str());
    return st;
}

// A sibling name no one else predicts, for write-then-rename.
fs::path temp_sibling(const fs::path& path) {
    unsigned char r[8];
    if (RAND_bytes(r, sizeof r) != 1) drain_errors();  // fall back to the pid alone
    std::string suffix = fmt::format(".tmp-{}-", ::getpid());
    for (unsigned char c : r) suffix += fmt::format("{:02x}", c);
    return fs::path(path.string() + suffix);
}

void sync_dir(const fs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() >= 0) ::fsync(fd.get());
}

// Makes ca_dir exist as a directory with mode 0700 (parents as needed, with default modes).
Status make_private_dir(const fs::path& ca_dir) {
    std::error_code ec;
    if (ca_dir.has_parent_path()) {
        fs::create_directories(ca_dir.parent_path(), ec);
        if (ec)
            return make_error(fmt::format("cannot create {}: {}", ca_dir.parent_path().string(), ec.message()));
    }
    if (::mkdir(ca_dir.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(fmt::format("cannot create {}: {}", ca_dir.string(), errno_text(errno)));
    struct stat st {};
    if (::stat(ca_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error(fmt::format("{} exists but is not a directory; move it away", ca_dir.string()));
    if ((st.st_mode & 07777) != 0700 && ::chmod(ca_dir.c_str(), 0700) != 0)
        return make_error(fmt::format("cannot chmod 700 {}: {}", ca_dir.string(), errno_text(errno)));
    return {};
}

bool exists_no_follow(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

Result<std::string> read_file(const fs::path& path, int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return make_error(fmt::format("cannot read {}: {}", path.string(), errno_text(errno)));
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > (1u << 20)) return make_error(fmt::format("{} is too large to be a PEM file", path.string()));
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return out;
}

Error missing_file_error(const fs::path& ca_dir, const fs::path& path, int err) {
    if (err == ENOENT)
        return make_error(fmt::format("no CA in {}: {} does not exist; run `airlock ca init` to create one",
                                      ca_dir.string(), path.string()));
    return make_error(fmt::format("cannot open {}: {}", path.string(), errno_text(err)));
}

std::string subject_text(const X509_NAME* name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    // RFC 2253 order (most specific first) with ", " between parts and UTF-8 kept as is.
    unsigned long flags = (XN_FLAG_RFC2253 & ~XN_FLAG_SEP_MASK & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_CPLUS_SPC;
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return {};
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string sha256_fingerprint(const X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
    std::string out;
    for (unsigned int i = 0; i < len; ++i) out += fmt::format("{}{:02X}", i ? ":" : "", md[i]);
    return out;
}

CaInfo make_info(const X509* cert, const fs::path& ca_dir) {
    return CaInfo{
        .subject = subject_text(X509_get_subject_name(cert)),
        .sha256_fingerprint = sha256_fingerprint(cert),
        .not_before = iso8601(X509_get0_notBefore(cert)),
        .not_after = iso8601(X509_get0_notAfter(cert)),
        .cert_path = Authority::cert_path(ca_dir),
        .key_path = Authority::key_path(ca_dir),
    };
}

// "airlock CA (<hostname>)", kept within the 64-character limit of a CN.
std::string ca_common_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
    std::string name = host;
    constexpr std::size_t kMaxHost = 64 - std::string_view("airlock CA ()").size();
    if (name.size() > kMaxHost) name.resize(kMaxHost);
    return "airlock CA (" + name + ")";
}

Result<X509Ptr> make_ca_certificate(EVP_PKEY* key) {
    X509Ptr cert(X509_new());
    if (!cert) return make_error(with_openssl_errors("cannot allocate the CA certificate"));
    X509_NAME* name = X509_get_subject_name(cert.get());
    const std::string cn = ca_common_name();
    auto text = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.c_str()); };
    bool ok = X509_set_version(cert.get(), X509_VERSION_3) == 1 && set_random_serial(cert.get()) &&
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, text("airlock"), -1, -1, 0) == 1 &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, text(cn), -1, -1, 0) == 1 &&
              X509_set_issuer_name(cert.get(), name) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) != nullptr &&
              X509_time_adj_ex(X509_getm_notAfter(cert.get()), kCaValidityDays, 0, nullptr) != nullptr &&
              X509_set_pubkey(cert.get(), key) == 1 &&
              add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
              add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") &&
              add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") &&
              add_extension(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always") &&
              X509_sign(cert.get(), key, EVP_sha256()) > 0;
    if (!ok) return make_error(with_openssl_errors("cannot build the CA certificate"));
    return cert;
}

}  // namespace

Authority::Authority(Owned<X509> certificate, Owned<EVP_PKEY> key, std::string cert_pem, CaInfo info)
    : certificate_(std::move(certificate)), key_(std::move(key)), cert_pem_(std::move(cert_pem)), info_(std::move(info)) {}

fs::path Authority::cert_path(const fs::path& ca_dir) { return ca_dir / "ca.pem"; }
fs::path Authority::key_path(const fs::path& ca_dir) { return ca_dir / "ca-key.pem"; }

CaInfo Authority::info() const { return info_; }

Result<std::shared_ptr<const Authority>> Authority::create(const fs::path& ca_dir, bool force) {
    const fs::path cert_file = cert_path(ca_dir);
    const fs::path key_file = key_path(ca_dir);
    if (Status st = make_private_dir(ca_dir); !st) return st.error();
    if (!force && (exists_no_follow(cert_file) || exists_no_follow(key_file)))
        return make_error(fmt::format(
            "a CA already exists in {}; pass --force to replace it (containers and clients "
            "that trust the old ca.pem will need the new one)",
            ca_dir.string()));

    PkeyPtr key = generate_p256_key();
    if (!key) return make_error(with_openssl_errors("cannot generate the CA key"));
    auto cert = make_ca_certificate(key.get());
    if (!cert) return cert.error();
    std::string cert_pem = to_pem(cert->get());
    std::string key_pem = to_pem(key.get());
    if (cert_pem.empty() || key_pem.empty())
        return make_error(with_openssl_errors("cannot encode the CA as PEM"));
    struct Cleanse {
        std::string& s;
        ~Cleanse() { OPENSSL_cleanse(s.data(), s.size()); }
    } cleanse{key_pem};

    if (!force) {
        // O_EXCL on the final names: a CA created concurrently makes this fail, not merge.
        if (Status st = write_new_file(key_file, key_pem, 0600); !st) return st.error();
        if (Status st = write_new_file(cert_file, cert_pem, 0644); !st) {
            ::unlink(key_file.c_str());
            return st.error();
        }
    } else {
        // Both written completely before either replaces the old file.
        const fs::path key_tmp = temp_sibling(key_file);
        const fs::path cert_tmp = temp_sibling(cert_file);
        Status st = write_new_file(key_tmp, key_pem, 0600);
        if (st) st = write_new_file(cert_tmp, cert_pem, 0644);
        if (st && ::rename(key_tmp.c_str(), key_file.c_str()) != 0)
            st = make_error(fmt::format("cannot replace {}: {}", key_file.string(), errno_text(errno)));
        if (st && ::rename(cert_tmp.c_str(), cert_file.c_str()) != 0)
            st = make_error(fmt::format("cannot replace {}: {}", cert_file.string(), errno_text(errno)));
        if (!st) {
            ::unlink(key_tmp.c_str());
            ::unlink(cert_tmp.c_str());
            return st.error();
        }
    }
    sync_dir(ca_dir);

    CaInfo info = make_info(cert->get(), ca_dir);
    return std::shared_ptr<const Authority>(
        new Authority(std::move(*cert), std::move(key), std::move(cert_pem), std::move(info)));
}

Result<std::shared_ptr<const Authority>> Authority::load(const fs::path& ca_dir) {
    const fs::path cert_file = cert_path(ca_dir);
    const fs::path key_file = key_path(ca_dir);
    ERR_clear_error();

    // The key: check the mode on the descriptor we read from, not on the name.
    Fd key_fd(::open(key_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (key_fd.get() < 0) return missing_file_error(ca_dir, key_file, errno);
    struct stat st {};
    if (::fstat(key_fd.get(), &st) != 0)
        return make_error(fmt::format("cannot stat {}: {}", key_file.string(), errno_text(errno)));
    if (!S_ISREG(st.st_mode))
        return make_error(fmt::format("CA key {} is not a regular file; run `airlock ca init --force`", key_file.string()));
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return make_error(fmt::format("CA key {} is readable by group or others (mode {:04o}); fix it with `chmod 600 {}`",
                                      key_file.string(), st.st_mode & 07777, key_file.string()));
    auto key_text = read_file(key_file, key_fd.get());
    if (!key_text) return key_text.error();
    struct Cleanse {
        std::string& s;
        ~Cleanse() { OPENSSL_cleanse(s.data(), s.size()); }
    } cleanse{*key_text};
    BioPtr key_bio(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
    PkeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key)
        return make_error(with_openssl_errors(fmt::format(
            "cannot read the CA key {} (not an unencrypted PEM private key); run `airlock ca init --force` to create a new CA",
            key_file.string())));

    Fd cert_fd(::open(cert_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (cert_fd.get() < 0) return missing_file_error(ca_dir, cert_file, errno);
    auto cert_text = read_file(cert_file, cert_fd.get());
    if (!cert_text) return cert_text.error();
    BioPtr cert_bio(BIO_new_mem_buf(cert_text->data(), static_cast<int>(cert_text->size())));
    X509Ptr cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert)
        return make_error(with_openssl_errors(fmt::format(
            "cannot read the CA certificate {} (not a PEM certificate); run `airlock ca init --force` to create a new CA",
            cert_file.string())));

    if (X509_check_ca(cert.get()) != 1)
        return make_error(fmt::format("{} is not a CA certificate; run `airlock ca init --force` to create a new CA",
                                      cert_file.string()));
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        drain_errors();
        return make_error(fmt::format(
            "CA certificate {} does not match the key {}; restore the matching pair or run `airlock ca init --force`",
            cert_file.string(), key_file.string()));
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0)
        return make_error(fmt::format("CA certificate {} expired on {}; run `airlock ca init --force` to create a new CA",
                                      cert_file.string(), iso8601(X509_get0_notAfter(cert.get()))));

    std::string cert_pem = to_pem(cert.get());
    CaInfo info = make_info(cert.get(), ca_dir);
    return std::shared_ptr<const Authority>(
        new Authority(std::move(cert), std::move(key), std::move(cert_pem), std::move(info)));
}

}  // namespace airlock::ca
