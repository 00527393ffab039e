// airlock-test-leaf: the CA module from the command line, for tests/integration/ca_tools.sh.
//   airlock-test-leaf --init-ca CA_DIR               create a CA (refuses to overwrite one)
//   airlock-test-leaf CA_DIR HOST OUT_CERT OUT_KEY   load the CA, mint a leaf for HOST, write
//                                                    its certificate and key (0600) as PEM
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <string_view>

#include "ca/ca.hpp"

namespace {

bool write_file(const char* path, std::string_view data, mode_t mode) {
    int fd = ::open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0 || ::fchmod(fd, mode) != 0) {
        fmt::print(stderr, "error: cannot create {}: {}\n", path, std::strerror(errno));
        if (fd >= 0) ::close(fd);
        return false;
    }
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fmt::print(stderr, "error: cannot write {}: {}\n", path, std::strerror(errno));
            ::close(fd);
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return ::close(fd) == 0;
}

int usage() {
    fmt::print(stderr,
               "usage: airlock-test-leaf --init-ca CA_DIR\n"
               "       airlock-test-leaf CA_DIR HOST OUT_CERT OUT_KEY\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace airlock::ca;
    if (argc == 3 && std::string_view(argv[1]) == "--init-ca") {
        auto ca = Authority::create(argv[2], /*force=*/false);
        if (!ca) {
            fmt::print(stderr, "error: {}\n", ca.error().message);
            return 1;
        }
        CaInfo info = (*ca)->info();
        fmt::print("created {}\n  subject {}\n  sha256  {}\n  valid   {} .. {}\n", info.cert_path.string(),
                   info.subject, info.sha256_fingerprint, info.not_before, info.not_after);
        return 0;
    }
    if (argc != 5) return usage();
    auto ca = Authority::load(argv[1]);
    if (!ca) {
        fmt::print(stderr, "error: {}\n", ca.error().message);
        return 1;
    }
    LeafCache cache(*ca, 1);
    auto leaf = cache.get(argv[2]);
    if (!leaf) {
        fmt::print(stderr, "error: {}\n", leaf.error().message);
        return 1;
    }
    if (!write_file(argv[3], (*leaf)->cert_pem, 0644) || !write_file(argv[4], cache.key_pem(), 0600)) return 1;
    return 0;
}
