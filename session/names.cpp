#include "session/names.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "airlock/text.hpp"

namespace airlock::session {

namespace {

constexpr std::size_t kMaxSlugWords = 4;
constexpr std::size_t kMaxSlugChars = 30;
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

bool is_slug_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

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
                                      escape_controls(name), name.size(), kAllowed));
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (!is_slug_char(c) && c != '-') {
            std::size_t n = std::max<std::size_t>(1, utf8_length(name, i));
            std::string shown = (c >= 'A' && c <= 'Z')
                                    ? fmt::format("the upper-case letter '{}'", c)
                                    : fmt::format("'{}'", escape_controls(name.substr(i, n)));
            return make_error(fmt::format("session name '{}' contains {}; {}", escape_controls(name),
                                          shown, kAllowed));
        }
    }
    if (name.front() == '-') {
        return make_error(
            fmt::format("session name '{}' starts with '-'; {}", escape_controls(name), kAllowed));
    }
    if (name.back() == '-') {
        return make_error(
            fmt::format("session name '{}' ends with '-'; {}", escape_controls(name), kAllowed));
    }
    if (name.find("--") != std::string_view::npos) {
        return make_error(
            fmt::format("session name '{}' contains '--'; {}", escape_controls(name), kAllowed));
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
