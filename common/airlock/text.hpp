#pragma once
// Text that came from outside (a client's SNI, a request target, a file name, a command's
// stderr, a name typed on the command line) as it may appear in a log line or a message:
// the one place that decides how control characters are shown. Two policies:
//  - escape_controls: control characters and malformed UTF-8 as "\xNN", printable UTF-8
//    kept: log lines, paths, program output, and names typed by the user;
//  - printable: anything but printable ASCII as '?': names in messages (a session or
//    client name, a host) that must be plain ASCII anyway.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace airlock {

// The length of the well-formed UTF-8 sequence of a printable character at s[i] (2 to 4
// bytes; not a C1 control, a surrogate or an overlong form), 0 when there is none.
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
    auto u = static_cast<unsigned char>(s[i]);
    std::size_t n = u >= 0xc2 && u <= 0xdf ? 2 : u >= 0xe0 && u <= 0xef ? 3 : u >= 0xf0 && u <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    std::uint32_t cp = u & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
        auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3f);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0)) return 0;
    return n;
}

// Every C0 control character (0x00-0x1f), DEL (0x7f) and every byte that is not part of a
// well-formed printable UTF-8 character becomes "\xNN", so the result is one line that a
// terminal shows as written: a newline in the input can never start a forged log line, an
// ESC can never move the cursor. Printable ASCII and well-formed UTF-8 are kept (a name
// typed as "café" is shown as typed). With `max`, at most that many bytes of `s` are shown
// (never half a character), then "...".
inline std::string escape_controls(std::string_view s, std::size_t max = std::string_view::npos) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::min(s.size(), max));
    std::size_t i = 0;
    while (i < s.size() && i < max) {
        auto u = static_cast<unsigned char>(s[i]);
        if (u >= 0x20 && u < 0x7f) {
            out.push_back(s[i++]);
        } else if (auto n = utf8_length(s, i); n && i + n <= max) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
            ++i;
        }
    }
    if (i < s.size()) out += "...";
    return out;
}

// Whether `s` holds a C0 control character (0x00-0x1f) or DEL: what a value that ends up
// in a header, a path or one line must not.
inline bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
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
