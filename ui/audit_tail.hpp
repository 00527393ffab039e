#pragma once
// Follows audit.jsonl as the proxy appends to it and rotates it (audit.jsonl -> .1): the
// file stays open, so the rest of a rotated file is still read, and each poll costs one
// fstat of the open file and one stat of the path when nothing changed.

#include <cstdint>
#include <filesystem>
#include <string>

namespace airlock::ui {

class AuditTail {
public:
    explicit AuditTail(std::filesystem::path path) : path_(std::move(path)) {}
    ~AuditTail();
    AuditTail(const AuditTail&) = delete;
    AuditTail& operator=(const AuditTail&) = delete;

    // The first read: the newest `max_bytes` of the rotated file .1 and the current file
    // together (a first line cut in the middle is dropped by the reader).
    std::string start(std::uint64_t max_bytes);
    // What was appended since the last call: `before` to the file read so far, and when it
    // was replaced (rotated), `after` from the new file (the caller drops an unfinished line
    // of the old one in between).
    struct Appended {
        std::string before, after;
        bool rotated = false;
    };
    Appended poll();

private:
    bool open_current();
    std::string read_rest(std::uint64_t max_bytes);

    std::filesystem::path path_;
    int fd_ = -1;
    std::uint64_t dev_ = 0, ino_ = 0;
};

}  // namespace airlock::ui
