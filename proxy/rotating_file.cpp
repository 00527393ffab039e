#include "proxy/rotating_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace airlock::proxy {

Result<std::unique_ptr<RotatingFile>> RotatingFile::open(std::string path, std::uint64_t max_bytes, unsigned keep,
                                                         std::string what) {
    std::unique_ptr<RotatingFile> f(new RotatingFile(std::move(path), max_bytes, keep, std::move(what)));
    if (auto st = f->open_file(); !st) return st.error();
    return f;
}

RotatingFile::RotatingFile(std::string path, std::uint64_t max_bytes, unsigned keep, std::string what)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep), what_(std::move(what)) {}

RotatingFile::~RotatingFile() {
    if (fd_ >= 0) ::close(fd_);
}

Status RotatingFile::open_file() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(fmt::format("cannot open {} {}: {}", what_, path_, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || ::fchmod(fd, 0600) != 0) {
        int e = errno;
        ::close(fd);
        return make_error(fmt::format("cannot set {} {} to mode 0600: {}", what_, path_, std::strerror(e)));
    }
    fd_ = fd;
    size_ = static_cast<std::uint64_t>(st.st_size);
    return {};
}

Status RotatingFile::rotate() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (keep_ == 0) {
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
            return make_error(fmt::format("cannot rotate {} {}: {}", what_, path_, std::strerror(errno)));
    } else {
        for (unsigned i = keep_; i >= 1; --i) {
            std::string from = i == 1 ? path_ : fmt::format("{}.{}", path_, i - 1);
            std::string to = fmt::format("{}.{}", path_, i);
            if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
                return make_error(
                    fmt::format("cannot rotate {} {} to {}: {}", what_, from, to, std::strerror(errno)));
        }
    }
    return open_file();
}

Status RotatingFile::append(std::string_view data, bool* rotated) {
    if (rotated) *rotated = false;
    if (fd_ < 0) {  // a previous rotation could not reopen the file
        if (auto st = open_file(); !st) return st;
    }
    if (would_rotate(data.size())) {
        if (auto st = rotate(); !st) return st;
        if (rotated) *rotated = true;
    }
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(fmt::format("cannot write {} {}: {}", what_, path_, std::strerror(errno)));
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += data.size();
    return {};
}

}  // namespace airlock::proxy
