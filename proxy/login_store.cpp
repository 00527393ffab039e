#include "proxy/login_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace airlock::proxy {
namespace fs = std::filesystem;

namespace {

Status ensure_dir(const fs::path& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno)));
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error(fmt::format("{} is not a directory; move it away", dir.string()));
    if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
        return make_error(fmt::format("cannot make {} private (chmod 700): {}", dir.string(), std::strerror(errno)));
    return {};
}

}  // namespace

fs::path logins_dir(const fs::path& home) { return home / "logins"; }

fs::path login_path(const fs::path& home, std::string_view name) {
    return logins_dir(home) / (std::string(name) + ".json");
}

Result<LoginRecord> read_login(const fs::path& home, std::string_view name) {
    const fs::path path = login_path(home, name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return make_error(fmt::format("no login imported for credential '{}' ({} is missing); run 'airlock "
                                          "credential add {} --login PROVIDER'",
                                          name, path.string(), name));
        return make_error(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(fmt::format("{} is not a regular file", path.string()));
    }
    if ((st.st_mode & 077) != 0) {
        ::close(fd);
        return make_error(fmt::format("{} is readable by group or others; run chmod 600 {}", path.string(), path.string()));
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > (1 << 20)) break;
    }
    ::close(fd);
    explicit_bzero(buf, sizeof buf);
    auto r = parse_login(text, path.string());
    explicit_bzero(text.data(), text.size());
    return r;
}

Status write_login(const fs::path& home, std::string_view name, const LoginRecord& record) {
    if (auto st = ensure_dir(logins_dir(home)); !st) return st;
    const fs::path path = login_path(home, name);
    const fs::path tmp = path.string() + fmt::format(".tmp{}", ::getpid());
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
    std::string text = serialize_login(record);
    std::size_t off = 0;
    bool ok = true;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = false;
            break;
        }
        off += static_cast<std::size_t>(n);
    }
    int err = errno;
    explicit_bzero(text.data(), text.size());
    if (ok && ::fsync(fd) != 0) {
        ok = false;
        err = errno;
    }
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        if (ok) err = errno;
        ::unlink(tmp.c_str());
        return make_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(err)));
    }
    int dfd = ::open(logins_dir(home).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Status remove_login(const fs::path& home, std::string_view name) {
    for (const fs::path& p : {login_path(home, name), logins_dir(home) / (std::string(name) + ".lock")})
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            return make_error(fmt::format("cannot remove {}: {}", p.string(), std::strerror(errno)));
    return {};
}

Result<LoginLock> LoginLock::acquire(const fs::path& home, std::string_view name) {
    if (auto st = ensure_dir(logins_dir(home)); !st) return st.error();
    const fs::path path = logins_dir(home) / (std::string(name) + ".lock");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return make_error(fmt::format("cannot lock {}: {}", path.string(), std::strerror(e)));
    }
    return LoginLock(fd);
}

LoginLock::~LoginLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace airlock::proxy
