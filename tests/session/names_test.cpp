#include <doctest/doctest.h>

#include <set>
#include <string>

#include "session/names.hpp"

using airlock::session::random_suffix;
using airlock::session::slug_from_prompt;
using airlock::session::validate_session_name;

namespace {

std::string name_error(std::string_view name) {
    auto st = validate_session_name(name);
    return st ? std::string() : st.error().message;
}

}  // namespace

TEST_CASE("slug_from_prompt: words, lowercase, suffix") {
    CHECK(slug_from_prompt("fix the failing test", "k3x9") == "fix-the-failing-test-k3x9");
    CHECK(slug_from_prompt("Fix the FAILING test!", "k3x9") == "fix-the-failing-test-k3x9");
    CHECK(slug_from_prompt("  Add  OAuth2 support, please -- now", "ab12") ==
          "add-oauth2-support-please-ab12");
    CHECK(slug_from_prompt("src/main.cpp: crash", "0000") == "src-main-cpp-crash-0000");
}

TEST_CASE("slug_from_prompt: at most 4 words and 30 characters before the suffix") {
    CHECK(slug_from_prompt("one two three four five six", "aaaa") ==
          "one-two-three-four-aaaa");
    // "refactor-the-authentication" is 27; "+ -module" would make 34 > 30.
    CHECK(slug_from_prompt("refactor the authentication module", "zzzz") ==
          "refactor-the-authentication-zzzz");
    std::string long_word(80, 'a');
    auto s = slug_from_prompt(long_word + " b", "q1w2");
    CHECK(s == std::string(30, 'a') + "-q1w2");
    CHECK(validate_session_name(s).ok());
}

TEST_CASE("slug_from_prompt: empty and odd prompts") {
    CHECK(slug_from_prompt("", "x1y2") == "session-x1y2");
    CHECK(slug_from_prompt("   !!! ??? ---", "x1y2") == "session-x1y2");
    CHECK(slug_from_prompt("日本語のテスト", "x1y2") == "session-x1y2");
    CHECK(slug_from_prompt("café au lait", "x1y2") == "caf-au-lait-x1y2");
    CHECK(slug_from_prompt(std::string("a\0b", 3), "x1y2") == "a-b-x1y2");
    // A suffix with odd characters is cleaned, never makes an invalid name.
    CHECK(slug_from_prompt("fix", "A-b_") == "fix-ab");
    CHECK(slug_from_prompt("fix", "") == "fix");
}

TEST_CASE("slug_from_prompt always gives a valid name") {
    const char* prompts[] = {"", "-", "a", "The quick brown fox jumps", "--x--", "1 2 3 4 5",
                             "\t\n", "UPPER lower 123", "a-b-c-d-e-f-g-h-i-j"};
    for (const char* p : prompts) {
        auto s = slug_from_prompt(p, random_suffix(4));
        INFO(s);
        CHECK(validate_session_name(s).ok());
    }
}

TEST_CASE("validate_session_name: what is allowed") {
    CHECK(validate_session_name("a").ok());
    CHECK(validate_session_name("fix-the-test-k3x9").ok());
    CHECK(validate_session_name("0abc").ok());
    CHECK(validate_session_name(std::string(48, 'a')).ok());
}

TEST_CASE("validate_session_name: what is refused, with a message saying why") {
    CHECK(name_error("").find("empty") != std::string::npos);
    CHECK(name_error(std::string(49, 'a')).find("too long (49 characters)") !=
          std::string::npos);
    CHECK(name_error("Fix").find("upper-case letter 'F'") != std::string::npos);
    CHECK(name_error("a_b").find("contains '_'") != std::string::npos);
    CHECK(name_error("a.b").find("contains '.'") != std::string::npos);
    CHECK(name_error("a/b").find("contains '/'") != std::string::npos);
    CHECK(name_error("a b").find("contains ' '") != std::string::npos);
    // A non-ASCII name is shown as typed, the character whole (not one '?' per byte).
    CHECK(name_error("caf\xc3\xa9").find("session name 'caf\xc3\xa9' contains '\xc3\xa9'") != std::string::npos);
    CHECK(name_error("\xe6\x97\xa5\xe6\x9c\xac").find("contains '\xe6\x97\xa5'") != std::string::npos);
    // Stray bytes and control characters are escaped, never written raw to the terminal.
    CHECK(name_error("a\xff" "b").find("'a\\xffb' contains '\\xff'") != std::string::npos);
    CHECK(name_error("a\x1b[2Jb").find("contains '\\x1b'") != std::string::npos);
    CHECK(name_error("-ab").find("starts with '-'") != std::string::npos);
    CHECK(name_error("ab-").find("ends with '-'") != std::string::npos);
    CHECK(name_error("a--b").find("contains '--'") != std::string::npos);
    // Every message says what is allowed and why.
    auto msg = name_error("a--b");
    CHECK(msg.find("a-z, 0-9 and '-'") != std::string::npos);
    CHECK(msg.find("airlock/<name>") != std::string::npos);
    CHECK(msg.find("container") != std::string::npos);
}

TEST_CASE("random_suffix: length, alphabet, variety") {
    CHECK(random_suffix(0).empty());
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto s = random_suffix(4);
        REQUIRE(s.size() == 4);
        for (char c : s) CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')));
        seen.insert(s);
    }
    CHECK(seen.size() > 190);  // 36^4 = 1.7M possibilities: collisions are rare
    CHECK(random_suffix(100).size() == 100);
    // Every character of the alphabet appears over enough draws.
    std::set<char> chars;
    for (char c : random_suffix(5000)) chars.insert(c);
    CHECK(chars.size() == 36);
}
