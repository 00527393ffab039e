#include "session/locks.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace airlock::session {

namespace fs = std::filesystem;

std::string_view to_string(Operation op) {
    switch (op) {
        case Operation::create: return "create";
        case Operation::refresh: return "refresh";
        case Operation::remove: return "delete";
    }
    return "create";
}

std::optional<Operation> parse_operation(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    for (auto op : {Operation::create, Operation::refresh, Operation::remove})
        if (to_string(op) == text) return op;
    return std::nullopt;
}

namespace {

std::optional<Operation> read_operation(int fd) {
    char buf[32];
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    auto op = parse_operation(std::string_view(buf, static_cast<std::size_t>(n)));
    return op ? op : std::optional<Operation>(Operation::create);  // files of older airlocks are empty
}

}  // namespace

Result<SessionLock> SessionLock::take(const fs::path& file, Operation op, std::optional<Operation>* interrupted) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    int fd = -1;
    bool existed = false;
    for (;;) {
        existed = fs::exists(file, ec);
        fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return make_error(fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            return make_error(fmt::format("another airlock is working on this session ({} is locked); try again "
                                          "when it has finished",
                                          file.string()));
        }
        // The holder before us may have removed the file between our open and our lock:
        // then the lock is on a file nobody else will see; take the one at the path.
        struct stat ours {}, now {};
        if (::fstat(fd, &ours) == 0 && ::stat(file.c_str(), &now) == 0 && ours.st_ino == now.st_ino &&
            ours.st_dev == now.st_dev)
            break;
        ::close(fd);
    }
    if (interrupted) *interrupted = existed ? read_operation(fd) : std::nullopt;
    auto text = std::string(to_string(op)) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        ::close(fd);
        return make_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
    }
    (void)::fsync(fd);
    return SessionLock(file, fd);
}

bool SessionLock::held(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    return held;
}

std::optional<Operation> SessionLock::interrupted(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::optional<Operation> op;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) op = read_operation(fd);
    ::close(fd);
    return op;
}

SessionLock::SessionLock(SessionLock&& o) noexcept
    : file_(std::move(o.file_)), fd_(std::exchange(o.fd_, -1)), keep_(o.keep_) {}

SessionLock::~SessionLock() {
    if (fd_ < 0) return;
    std::error_code ec;
    if (!keep_) fs::remove(file_, ec);
    ::close(fd_);
}

Result<StartLock> StartLock::take(const fs::path& file) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return make_error(fmt::format("cannot lock {}: {}", file.string(), std::strerror(e)));
    }
    return StartLock(fd);
}

StartLock::StartLock(StartLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

StartLock::~StartLock() {
    if (fd_ >= 0) ::close(fd_);
}

void crash_point(std::string_view step) {
    static const char* kill_after = std::getenv("AIRLOCK_TEST_KILL_AFTER");
    static const char* pause_after = std::getenv("AIRLOCK_TEST_PAUSE_AFTER");
    if (kill_after && step == kill_after) ::kill(::getpid(), SIGKILL);
    if (pause_after && step == pause_after) ::sleep(8);  // room for a concurrent command in tests
}

}  // namespace airlock::session
