#pragma once
// An exclusive flock(2) on a file, held for the object's life: how concurrent airlock
// commands take turns at a check-then-act step (starting the proxy, creating the CA).
// The descriptor is close-on-exec, so a child started while holding it never keeps it.

#include <filesystem>
#include <utility>

#include "airlock/result.hpp"

namespace airlock {

class FileLock {
public:
    // Creates the file (mode 0600) and its directory if missing; blocks until locked.
    static Result<FileLock> acquire(const std::filesystem::path& file);
    FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    FileLock& operator=(FileLock&&) = delete;
    ~FileLock();

private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace airlock
