#pragma once
// Text that came from outside (a client's SNI, a request target, a file name, a command's
// stderr) as it may appear in a log line or a message: one place that decides how control
// characters are shown.

#include <cstddef>
#include <string>
#include <string_view>

namespace airlock {

// Every C0 control character (0x00-0x1f) and DEL (0x7f) becomes "\xNN", so the result is
// one line that a terminal shows as written: a newline in the input can never start a
// forged log line, an ESC can never move the cursor. Other bytes (UTF-8 included) are kept.
inline std::string escape_controls(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace airlock
