#include "src/proxy_log.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "airlock/text.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using airlock::escape_controls;
using airlock::format_log_line;
using airlock::ProxyLog;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("escape_controls: every control character shown as \\xNN, the rest kept") {
    CHECK(escape_controls("api.anthropic.com") == "api.anthropic.com");
    CHECK(escape_controls("a\nb\r\x1b[31m\x7f\t") == "a\\x0ab\\x0d\\x1b[31m\\x7f\\x09");
    CHECK(escape_controls(std::string("nul\0end", 7)) == "nul\\x00end");
    CHECK(escape_controls("caf\xc3\xa9") == "caf\xc3\xa9");
    // Stray bytes and C1 controls (U+0085 as UTF-8) are escaped too: only well-formed text passes.
    CHECK(escape_controls("\xff\xc2\x85\xe2\x82") == "\\xff\\xc2\\x85\\xe2\\x82");
}

TEST_CASE("printable: anything but printable ASCII as '?', cut at max with '...'") {
    CHECK(airlock::printable("fix-tests") == "fix-tests");
    CHECK(airlock::printable("a\nb\x7f caf\xc3\xa9") == "a?b? caf??");
    CHECK(airlock::printable(std::string(300, 'x'), 200) == std::string(200, 'x') + "...");
    CHECK(escape_controls(std::string(100, '\n'), 2) == "\\x0a\\x0a...");
}

TEST_CASE("format_log_line: an SNI with a newline cannot forge a second line") {
    auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1714566896));
    auto sni = std::string("api.anthropic.com\n2024-05-01T12:34:56Z airlock proxy: forged");
    auto line = format_log_line(t, "proxy", "tester: TLS server name '" + sni + "' does not match");
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(line.rfind("2024-05-01T12:34:56Z airlock proxy: tester: TLS server name 'api.anthropic.com\\x0a2024", 0) == 0);
}

TEST_CASE("ProxyLog: lines escaped, file 0600, rotated by size keeping three") {
    airlock::testing::TempDir dir;
    auto path = dir.path / "proxy.log";
    auto log = ProxyLog::open(path.string(), 1000, 3);
    REQUIRE(log);
    for (int i = 0; i < 100; ++i) (*log)->write("proxy", "line\nwith a newline " + std::to_string(i));
    CHECK(fs::file_size(path) <= 1000);
    CHECK(fs::exists(path.string() + ".3"));
    CHECK_FALSE(fs::exists(path.string() + ".4"));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto text = slurp(path);
    CHECK(text.find("line\\x0awith a newline 99\n") != std::string::npos);
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) CHECK(l.find(" airlock proxy: line\\x0awith") != std::string::npos);
}
