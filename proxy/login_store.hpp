#pragma once
// The store of imported subscription logins: $AIRLOCK_HOME/logins/ (mode 0700), one file
// per login, <name>.json (mode 0600, written whole to a temporary file and renamed, so a
// reader sees the old login or the new one, never half of one), and <name>.lock, the
// flock(2) that serialises refreshes of one login across threads and processes (a
// single-use refresh token is spent once). Only the proxy's broker refreshes; `airlock
// credential add --login` imports; list and doctor read.

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "airlock/result.hpp"
#include "proxy/login.hpp"

namespace airlock::proxy {

std::filesystem::path logins_dir(const std::filesystem::path& home);
std::filesystem::path login_path(const std::filesystem::path& home, std::string_view name);

// Errors: missing ("no login imported for credential 'x'; run ..."), readable by group or
// others, not a login airlock wrote.
Result<LoginRecord> read_login(const std::filesystem::path& home, std::string_view name);
// Writes atomically (temporary file 0600, fsync, rename, fsync of the directory).
Status write_login(const std::filesystem::path& home, std::string_view name, const LoginRecord& record);
// Removes the login and its lock file; missing is fine.
Status remove_login(const std::filesystem::path& home, std::string_view name);

// An exclusive lock on one login, held for the object's life.
class LoginLock {
public:
    static Result<LoginLock> acquire(const std::filesystem::path& home, std::string_view name);
    LoginLock(LoginLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    LoginLock& operator=(LoginLock&&) = delete;
    ~LoginLock();

private:
    explicit LoginLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace airlock::proxy
