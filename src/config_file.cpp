#include "config_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace airlock {

namespace fs = std::filesystem;

Result<std::optional<std::string>> read_text_file(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return make_error(fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
    }
    std::string text;
    char buf[8192];
    for (;;) {
        auto n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            ::close(fd);
            return make_error(fmt::format("cannot read {}: {}", file.string(), std::strerror(e)));
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return std::optional<std::string>(std::move(text));
}

Status replace_file_atomically(const fs::path& file, std::string_view text, unsigned mode, bool keep_mode) {
    const fs::path dir = file.parent_path();
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) return make_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
        ::chmod(dir.c_str(), 0700);
    }
    struct stat st {};
    if (keep_mode && ::stat(file.c_str(), &st) == 0) mode = st.st_mode & 07777;
    std::string tmp = (dir / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) return make_error(fmt::format("cannot create a file in {}: {}", dir.string(), std::strerror(errno)));
    auto fail = [&](std::string what) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return make_error(fmt::format("cannot write {}: {}: {}", file.string(), what, std::strerror(e)));
    };
    if (::fchmod(fd, mode) != 0) return fail("chmod");
    for (std::size_t done = 0; done < text.size();) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("write");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("fsync");
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return make_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error(fmt::format("cannot replace {}: {}", file.string(), std::strerror(e)));
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

}  // namespace airlock
