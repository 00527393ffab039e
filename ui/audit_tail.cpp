#include "ui/audit_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace airlock::ui {

namespace {

std::string read_tail_of(const std::filesystem::path& path, std::uint64_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    struct stat st {};
    std::string out;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        auto size = static_cast<std::uint64_t>(st.st_size);
        auto from = size > max_bytes ? size - max_bytes : 0;
        if (::lseek(fd, static_cast<off_t>(from), SEEK_SET) >= 0) {
            char buf[65536];
            for (;;) {
                auto n = ::read(fd, buf, sizeof buf);
                if (n <= 0) break;
                out.append(buf, static_cast<std::size_t>(n));
            }
            if (from > 0) {  // starts inside a line: skip to the next
                auto nl = out.find('\n');
                out.erase(0, nl == std::string::npos ? out.size() : nl + 1);
            }
        }
    }
    ::close(fd);
    return out;
}

}  // namespace

AuditTail::~AuditTail() {
    if (fd_ >= 0) ::close(fd_);
}

bool AuditTail::open_current() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return false;
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return true;
}

std::string AuditTail::read_rest(std::uint64_t max_bytes) {
    std::string out;
    if (fd_ < 0) return out;
    char buf[65536];
    while (out.size() < max_bytes) {
        auto n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string AuditTail::start(std::uint64_t max_bytes) {
    std::string out;
    if (open_current()) {
        struct stat st {};
        (void)::fstat(fd_, &st);
        auto size = static_cast<std::uint64_t>(std::max<off_t>(st.st_size, 0));
        if (size < max_bytes) {
            auto older = path_;
            older += ".1";
            out = read_tail_of(older, max_bytes - size);
        }
        auto from = size > max_bytes ? size - max_bytes : 0;
        (void)::lseek(fd_, static_cast<off_t>(from), SEEK_SET);
        auto current = read_rest(UINT64_MAX);
        if (from > 0) {
            auto nl = current.find('\n');
            current.erase(0, nl == std::string::npos ? current.size() : nl + 1);
        }
        out += current;
    }
    return out;
}

AuditTail::Appended AuditTail::poll() {
    Appended out;
    constexpr std::uint64_t kMax = 16u << 20;  // per poll; the rest comes next time
    if (fd_ < 0) {
        if (!open_current()) return out;
        out.rotated = true;
        out.after = read_rest(kMax);
        return out;
    }
    out.before = read_rest(kMax);
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return out;  // between rotation steps: next time
    if (static_cast<std::uint64_t>(st.st_dev) != dev_ || static_cast<std::uint64_t>(st.st_ino) != ino_) {
        out.before += read_rest(kMax);  // what the old file got before it was renamed
        if (open_current()) {
            out.rotated = true;
            out.after = read_rest(kMax);
        }
    } else if (::lseek(fd_, 0, SEEK_CUR) > st.st_size) {  // truncated in place
        (void)::lseek(fd_, 0, SEEK_SET);
        out.rotated = true;
        out.after = read_rest(kMax);
    }
    return out;
}

}  // namespace airlock::ui
