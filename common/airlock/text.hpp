#pragma once
// Text that came from outside (a client's SNI, a request target, a file name, a command's
// stderr, a name typed on the command line) as it may appear in a log line or a message:
// the one place that decides how control characters are shown. Two policies:
//  - escape_controls: control characters as "\xNN", everything else (UTF-8) kept: log lines,
//    paths and program output, where the exact bytes matter;
//  - printable: anything but printable ASCII as '?': names in messages (a session or
//    client name, a host) that must be plain ASCII anyway.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace airlock {

// Every C0 control character (0x00-0x1f) and DEL (0x7f) becomes "\xNN", so the result is
// one line that a terminal shows as written: a newline in the input can never start a
// forged log line, an ESC can never move the cursor. Other bytes (UTF-8 included) are kept.
// With `max`, at most that many bytes of `s` are shown, then "...".
inline std::string escape_controls(std::string_view s, std::size_t max = std::string_view::npos) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (char c : s.substr(0, max)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    if (s.size() > max) out += "...";
    return out;
}

// Every byte outside printable ASCII (0x20-0x7e) becomes '?'. With `max`, at most that
// many bytes of `s` are shown, then "...".
inline std::string printable(std::string_view s, std::size_t max = std::string_view::npos) {
    std::string out;
    out.reserve(std::min(s.size(), max));
    for (char c : s.substr(0, max)) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
    }
    if (s.size() > max) out += "...";
    return out;
}

}  // namespace airlock
