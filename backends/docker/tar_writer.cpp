#include "backends/docker/tar_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace airlock::docker {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBlock = 512;

void put_octal(char* field, std::size_t width, std::uint64_t value) {
    // width-1 octal digits, zero padded, then NUL.
    std::string digits = fmt::format("{:0{}o}", value, width - 1);
    std::memcpy(field, digits.data(), width - 1);
    field[width - 1] = '\0';
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.front() == '/') return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        auto slash = name.find('/', start);
        auto part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (part == ".." || (part.empty() && slash != std::string_view::npos)) return false;
        if (part.find('\0') != std::string_view::npos) return false;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return true;
}

}  // namespace

bool split_ustar_name(std::string_view name, std::string& prefix, std::string& rest) {
    if (name.size() <= 100) {
        prefix.clear();
        rest = name;
        return true;
    }
    // The last '/' such that the prefix fits 155 and the rest fits 100.
    for (std::size_t i = std::min<std::size_t>(name.size() - 1, 155); i > 0; --i) {
        if (name[i] != '/') continue;
        if (name.size() - i - 1 > 100 || name.size() - i - 1 == 0) break;
        prefix = name.substr(0, i);
        rest = name.substr(i + 1);
        return true;
    }
    return false;
}

std::string pax_record(std::string_view key, std::string_view value) {
    std::size_t body = 1 + key.size() + 1 + value.size() + 1;  // ' ' key '=' value '\n'
    std::size_t len = body + 1;
    while (std::to_string(len).size() + body != len) ++len;
    return fmt::format("{} {}={}\n", len, key, value);
}

void TarWriter::emit(std::string_view bytes) {
    sink_(bytes);
    written_ += bytes.size();
}

void TarWriter::pad(std::uint64_t size) {
    static const std::array<char, kBlock> zeros{};
    auto rem = size % kBlock;
    if (rem) emit(std::string_view(zeros.data(), kBlock - rem));
}

Status TarWriter::header(std::string_view name, char type, std::uint64_t size, unsigned mode, std::string_view link) {
    if (finished_) return make_error("tar: an entry after the end of the archive");
    if (!valid_name(name)) return make_error(fmt::format("tar: invalid entry name '{}'", name));
    std::string prefix, rest;
    bool fits = split_ustar_name(name, prefix, rest);
    constexpr std::uint32_t kMaxId = 07777777;  // what ustar's 8-byte uid/gid fields hold
    const bool big_ids = type != 'x' && (uid_ > kMaxId || gid_ > kMaxId);
    if (!fits || link.size() > 100 || big_ids) {
        std::string records;
        if (!fits) records += pax_record("path", name);
        if (link.size() > 100) records += pax_record("linkpath", link);
        if (big_ids) {
            records += pax_record("uid", std::to_string(uid_));
            records += pax_record("gid", std::to_string(gid_));
        }
        std::string pax_name = fmt::format("PaxHeaders/{}", name.substr(0, 80));
        if (auto st = header(pax_name.substr(0, 100), 'x', records.size(), 0644, {}); !st) return st;
        emit(records);
        pad(records.size());
        if (!fits) {
            prefix.clear();
            rest = name.substr(0, 100);
        }
        if (link.size() > 100) link = link.substr(0, 100);
    }
    std::array<char, kBlock> h{};
    // (memcpy of an empty view: its data() may be null, which memcpy must never get)
    if (!rest.empty()) std::memcpy(h.data(), rest.data(), rest.size());  // name
    put_octal(h.data() + 100, 8, mode & 07777);                       // mode
    put_octal(h.data() + 108, 8, std::min(uid_, kMaxId));             // uid (pax "uid" when larger)
    put_octal(h.data() + 116, 8, std::min(gid_, kMaxId));             // gid
    put_octal(h.data() + 124, 12, size);                              // size
    put_octal(h.data() + 136, 12, mtime_);                            // mtime
    std::memset(h.data() + 148, ' ', 8);                              // checksum, as blanks
    h[156] = type;                                                    // typeflag
    if (!link.empty()) std::memcpy(h.data() + 157, link.data(), link.size());  // linkname
    std::memcpy(h.data() + 257, "ustar\0" "00", 8);                   // magic, version
    if (!prefix.empty()) std::memcpy(h.data() + 345, prefix.data(), prefix.size());  // prefix
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::string chk = fmt::format("{:06o}", sum);
    std::memcpy(h.data() + 148, chk.data(), 6);
    h[154] = '\0';
    h[155] = ' ';
    emit(std::string_view(h.data(), h.size()));
    return {};
}

Status TarWriter::add_file(std::string_view name, std::string_view content, unsigned mode) {
    if (auto st = header(name, '0', content.size(), mode, {}); !st) return st;
    emit(content);
    pad(content.size());
    return {};
}

Status TarWriter::add_file_from(std::string_view name, const fs::path& source, unsigned mode) {
    int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(fmt::format("cannot read {}: {}", source.string(), std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(fmt::format("cannot read {}: not a regular file", source.string()));
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (auto h = header(name, '0', size, mode, {}); !h) {
        ::close(fd);
        return h;
    }
    std::vector<char> buf(1 << 16);
    std::uint64_t done = 0;
    while (done < size) {
        auto n = ::read(fd, buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done)));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            // The header promised `size` bytes: the archive is unusable now.
            finished_ = true;
            return make_error(fmt::format("{} changed while it was read", source.string()));
        }
        emit(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        done += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    pad(size);
    return {};
}

Status TarWriter::add_directory(std::string_view name, unsigned mode) {
    std::string dir(name);
    if (!dir.ends_with('/')) dir += '/';
    return header(dir, '5', 0, mode, {});
}

Status TarWriter::add_symlink(std::string_view name, std::string_view target) {
    return header(name, '2', 0, 0777, target);
}

Status TarWriter::add_tree(std::string_view name, const fs::path& source) {
    std::error_code ec;
    auto status = fs::symlink_status(source, ec);
    if (ec) return make_error(fmt::format("cannot read {}: {}", source.string(), ec.message()));
    if (fs::is_symlink(status)) {
        auto target = fs::read_symlink(source, ec);
        if (ec) return make_error(fmt::format("cannot read {}: {}", source.string(), ec.message()));
        return add_symlink(name, target.string());
    }
    if (fs::is_regular_file(status)) {
        unsigned mode = (static_cast<unsigned>(status.permissions()) & 0111) ? 0755 : 0644;
        return add_file_from(name, source, mode);
    }
    if (!fs::is_directory(status)) return make_error(fmt::format("cannot put {} in a build context: not a file, directory or link", source.string()));
    if (auto st = add_directory(name); !st) return st;
    std::vector<fs::path> children;
    for (auto it = fs::directory_iterator(source, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        children.push_back(it->path());
    if (ec) return make_error(fmt::format("cannot list {}: {}", source.string(), ec.message()));
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
        if (auto st = add_tree(fmt::format("{}/{}", name, child.filename().string()), child); !st) return st;
    }
    return {};
}

void TarWriter::finish() {
    if (finished_) return;
    static const std::array<char, 2 * kBlock> zeros{};
    emit(std::string_view(zeros.data(), zeros.size()));
    finished_ = true;
}

}  // namespace airlock::docker
