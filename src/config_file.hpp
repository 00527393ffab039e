#pragma once
// config.toml and secret files as files: read, replace atomically (a reader sees the old
// file or the new one, never half of one), one editor at a time (flock on config.lock).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/result.hpp"
#include "file_lock.hpp"  // FileLock, for callers that edit the file under a lock

namespace airlock {

// The file's bytes; nullopt when it does not exist; an error when it cannot be read.
Result<std::optional<std::string>> read_text_file(const std::filesystem::path& file);

// Writes `text` to a temporary file beside `file` (mode `mode`; with `keep_mode`, the
// existing file's mode when it exists), fsyncs it and renames it over `file`. The directory is created 0700
// when missing. On failure `file` is unchanged and no temporary file is left.
Status replace_file_atomically(const std::filesystem::path& file, std::string_view text, unsigned mode = 0600,
                               bool keep_mode = true);


}  // namespace airlock
