#include "session/names.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

namespace airlock::session {

namespace {

constexpr std::size_t kMaxSlugWords = 4;
constexpr std::size_t kMaxSlugChars = 30;
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

bool is_slug_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The length of the well-formed UTF-8 sequence of a printable character at s[i] (2 to 4
// bytes), 0 when there is none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
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

// A name as it may appear in a message: well-formed UTF-8 as it is, control characters and
// stray bytes as \xNN.
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto u = static_cast<unsigned char>(s[i]);
        if (u >= 0x20 && u < 0x7f) {
            out.push_back(s[i++]);
        } else if (auto n = utf8_length(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += fmt::format("\\x{:02x}", u);
            ++i;
        }
    }
    return out;
}

constexpr const char* kAllowed =
    "use 1 to 48 characters of a-z, 0-9 and '-', starting and ending with a letter or "
    "digit, without '--' (the name becomes the container name, the branch airlock/<name>, "
    "the worktree directory and the proxy client name)";

}  // namespace

std::string slug_from_prompt(std::string_view prompt, std::string_view suffix) {
    std::string clean_suffix;
    for (char c : suffix) {
        char l = ascii_lower(c);
        if (is_slug_char(l)) clean_suffix.push_back(l);
    }

    std::string slug;
    std::size_t words = 0;
    std::size_t i = 0;
    while (i < prompt.size() && words < kMaxSlugWords) {
        while (i < prompt.size() && !is_slug_char(ascii_lower(prompt[i]))) ++i;
        std::string word;
        while (i < prompt.size() && is_slug_char(ascii_lower(prompt[i]))) {
            word.push_back(ascii_lower(prompt[i]));
            ++i;
        }
        if (word.empty()) break;
        if (slug.empty()) {
            if (word.size() > kMaxSlugChars) word.resize(kMaxSlugChars);
            slug = std::move(word);
        } else {
            if (slug.size() + 1 + word.size() > kMaxSlugChars) break;
            slug += '-';
            slug += word;
        }
        ++words;
    }
    if (slug.empty()) slug = "session";
    if (!clean_suffix.empty()) {
        slug += '-';
        slug += clean_suffix;
    }
    return slug;
}

Status validate_session_name(std::string_view name) {
    if (name.empty()) {
        return make_error(fmt::format("the session name is empty; {}", kAllowed));
    }
    if (name.size() > kMaxSessionNameLength) {
        return make_error(fmt::format("session name '{}' is too long ({} characters); {}",
                                      printable(name), name.size(), kAllowed));
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (!is_slug_char(c) && c != '-') {
            std::size_t n = std::max<std::size_t>(1, utf8_length(name, i));
            std::string shown = (c >= 'A' && c <= 'Z')
                                    ? fmt::format("the upper-case letter '{}'", c)
                                    : fmt::format("'{}'", printable(name.substr(i, n)));
            return make_error(fmt::format("session name '{}' contains {}; {}", printable(name),
                                          shown, kAllowed));
        }
    }
    if (name.front() == '-') {
        return make_error(
            fmt::format("session name '{}' starts with '-'; {}", printable(name), kAllowed));
    }
    if (name.back() == '-') {
        return make_error(
            fmt::format("session name '{}' ends with '-'; {}", printable(name), kAllowed));
    }
    if (name.find("--") != std::string_view::npos) {
        return make_error(
            fmt::format("session name '{}' contains '--'; {}", printable(name), kAllowed));
    }
    return {};
}

std::string random_suffix(std::size_t length) {
    std::string out;
    out.reserve(length);
    // 252 = 7 * 36: bytes at or above it are rejected so every character is equally likely.
    constexpr unsigned kLimit = 252;
    std::array<unsigned char, 64> buf{};
    while (out.size() < length) {
        ssize_t n = ::getrandom(buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(),
                                    "getrandom failed while naming a session");
        }
        for (ssize_t k = 0; k < n && out.size() < length; ++k) {
            unsigned b = buf[static_cast<std::size_t>(k)];
            if (b < kLimit) out.push_back(kAlphabet[b % kAlphabet.size()]);
        }
    }
    return out;
}

}  // namespace airlock::session
