#pragma once
// An append-only file (mode 0600) rotated by size: the audit log and proxy.log.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::proxy {

// Not thread-safe: its owner serializes calls (AuditLog and the proxy log each hold a mutex).
class RotatingFile {
public:
    // Opens (creating) `path` with O_APPEND, mode 0600 (an existing file is chmod'ed to
    // 0600). `what` names the file in errors ("the audit log"). When an append would take
    // the file past max_bytes it is rotated first: path.(keep-1) -> path.keep, ...,
    // path -> path.1; keep = 0 keeps no old files. A single append larger than max_bytes
    // still goes into one (fresh) file.
    static Result<std::unique_ptr<RotatingFile>> open(std::string path, std::uint64_t max_bytes, unsigned keep,
                                                      std::string what);
    ~RotatingFile();
    RotatingFile(const RotatingFile&) = delete;
    RotatingFile& operator=(const RotatingFile&) = delete;

    // Appends `data` whole. `rotated` (if given) is set when the file was rotated first.
    Status append(std::string_view data, bool* rotated = nullptr);

    // Would appending `n` bytes rotate the file first?
    bool would_rotate(std::uint64_t n) const { return size_ > 0 && size_ + n > max_bytes_; }

    const std::string& path() const { return path_; }
    std::uint64_t max_bytes() const { return max_bytes_; }
    std::uint64_t size() const { return size_; }
    int fd() const { return fd_; }  // -1 after a failed rotation (the next append retries)

private:
    RotatingFile(std::string path, std::uint64_t max_bytes, unsigned keep, std::string what);
    Status open_file();
    Status rotate();

    const std::string path_;
    const std::uint64_t max_bytes_;
    const unsigned keep_;
    const std::string what_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

}  // namespace airlock::proxy
