#pragma once
// A small tar writer for build contexts (POSIX ustar, with pax "path"/"linkpath" records
// for names that do not fit ustar's 100+155 bytes). Everything goes to a sink as it is
// produced, so a large context can be streamed to a file. Reproducible: owner 0:0, fixed
// mtime, no user or group names (set_owner/set_mtime change that for one writer).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::docker {

class TarWriter {
public:
    using Sink = std::function<void(std::string_view bytes)>;
    explicit TarWriter(Sink sink) : sink_(std::move(sink)) {}

    // The owner and time of the entries added after this call (default 0:0 and a fixed
    // time, for reproducible build contexts; files written into a container want the
    // container user's ids).
    void set_owner(std::uint32_t uid, std::uint32_t gid) {
        uid_ = uid;
        gid_ = gid;
    }
    void set_mtime(std::uint64_t mtime) { mtime_ = mtime; }

    // `name` is relative ("agents/node_modules/x/package.json"), '/'-separated, no "..".
    Status add_file(std::string_view name, std::string_view content, unsigned mode = 0644);
    // A file's bytes read from disk (streamed in pieces).
    Status add_file_from(std::string_view name, const std::filesystem::path& source, unsigned mode);
    Status add_directory(std::string_view name, unsigned mode = 0755);
    Status add_symlink(std::string_view name, std::string_view target);
    // `source`'s tree under `name`: directories, regular files (their mode's x bits kept)
    // and symbolic links (as links); anything else is an error. Sorted, so the same tree
    // gives the same bytes.
    Status add_tree(std::string_view name, const std::filesystem::path& source);
    // The two zero blocks that end the archive. Nothing may be added after.
    void finish();

    std::uint64_t bytes_written() const { return written_; }

private:
    Status header(std::string_view name, char type, std::uint64_t size, unsigned mode, std::string_view link);
    void emit(std::string_view bytes);
    void pad(std::uint64_t size);

    Sink sink_;
    std::uint64_t written_ = 0;
    bool finished_ = false;
    std::uint32_t uid_ = 0, gid_ = 0;
    std::uint64_t mtime_ = 946684800;  // 2000-01-01, fixed so contexts are reproducible
};

// ---- pure pieces, exposed for tests ----

// Splits `name` into ustar's prefix (<=155) and name (<=100) at a '/'; false if impossible.
bool split_ustar_name(std::string_view name, std::string& prefix, std::string& rest);

// One pax record "LEN key=value\n" (LEN counts the whole record, itself included).
std::string pax_record(std::string_view key, std::string_view value);

}  // namespace airlock::docker
