#include "proxy/audit.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"

using namespace airlock::proxy;
namespace fs = std::filesystem;

namespace {

using airlock::testing::TempDir;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

AuditRecord sample() {
    AuditRecord r;
    r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714566896789));
    r.client = "fix-tests";
    r.method = "POST";
    r.host = "api.anthropic.com";
    r.port = 443;
    r.path = "/v1/messages?key=abc";
    r.status = 200;
    r.bytes_up = 512;
    r.bytes_down = 20480;
    r.duration_ms = 1534;
    r.decision = Decision::intercept;
    r.rule = "anthropic";
    return r;
}

}  // namespace

TEST_CASE("format_time_utc") {
    using namespace std::chrono;
    CHECK(format_time_utc(system_clock::time_point(milliseconds(1714566896789))) ==
          "2024-05-01T12:34:56.789Z");
    CHECK(format_time_utc(system_clock::time_point(milliseconds(0))) == "1970-01-01T00:00:00.000Z");
    CHECK(format_time_utc(system_clock::time_point(milliseconds(5))) == "1970-01-01T00:00:00.005Z");
}

TEST_CASE("to_json_line") {
    std::string line = to_json_line(sample());
    REQUIRE(!line.empty());
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    auto v = boost::json::parse(line).as_object();
    CHECK(v["time"].as_string() == "2024-05-01T12:34:56.789Z");
    CHECK(v["client"].as_string() == "fix-tests");
    CHECK(v["path"].as_string() == "/v1/messages");
    CHECK(v["status"].to_number<int>() == 200);
    CHECK(v["bytes_down"].to_number<std::uint64_t>() == 20480);
    CHECK(v["decision"].as_string() == "intercept");
    CHECK(v["rule"].as_string() == "anthropic");

    auto r = sample();
    r.error = "quote \" backslash \\ newline \n ctl \x01 end";
    line = to_json_line(r);
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(boost::json::parse(line).as_object()["error"].as_string() == r.error);
}

TEST_CASE("redact") {
    CHECK(redact("key sk-123 and sk-123", {"sk-123"}) == "key [REDACTED] and [REDACTED]");
    CHECK(redact("abcdef", {"abc", "abcdef"}) == "[REDACTED]");
    CHECK(redact("nothing", {"", "x"}) == "nothing");
    CHECK(redact("", {"x"}) == "");
}

TEST_CASE("AuditLog: append, mode, redaction") {
    TempDir dir;
    auto path = dir.path / "audit.jsonl";
    {
        std::ofstream(path) << "";
        ::chmod(path.c_str(), 0644);
    }
    auto log = AuditLog::open(path.string(), 1 << 20, 3);
    REQUIRE(log);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    (*log)->set_secrets({"sk-secret-1"});
    auto r = sample();
    r.error = "upstream said: bad key sk-secret-1";
    REQUIRE((*log)->write(r));
    REQUIRE((*log)->write(sample()));
    std::string text = slurp(path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
    CHECK(text.find("sk-secret-1") == std::string::npos);
    CHECK(text.find("[REDACTED]") != std::string::npos);
}

TEST_CASE("AuditLog: rotation keeps N files") {
    TempDir dir;
    auto path = dir.path / "audit.jsonl";
    const auto line_size = to_json_line(sample()).size();
    auto log = AuditLog::open(path.string(), line_size * 2, 2);  // two lines per file
    REQUIRE(log);
    for (int i = 0; i < 9; ++i) REQUIRE((*log)->write(sample()));
    CHECK(fs::file_size(path) == line_size);  // 9 = 2+2+2+2+1
    CHECK(fs::file_size(path.string() + ".1") == line_size * 2);
    CHECK(fs::file_size(path.string() + ".2") == line_size * 2);
    CHECK_FALSE(fs::exists(path.string() + ".3"));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("AuditLog: keep = 0 and concurrent writers") {
    TempDir dir;
    auto path = dir.path / "audit.jsonl";
    const auto line_size = to_json_line(sample()).size();
    auto log = AuditLog::open(path.string(), line_size * 400, 0);
    REQUIRE(log);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) (void)(*log)->write(sample());
        });
    for (auto& t : threads) t.join();
    std::string text = slurp(path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 400);
    // Every line intact.
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) CHECK(l + "\n" == to_json_line(sample()));
    REQUIRE((*log)->write(sample()));  // 401st line: rotated away, no .1 kept
    CHECK(fs::file_size(path) == line_size);
    CHECK_FALSE(fs::exists(path.string() + ".1"));
}

TEST_CASE("AuditLog: open error names the path") {
    auto log = AuditLog::open("/nonexistent-dir-airlock/audit.jsonl", 1000, 1);
    REQUIRE_FALSE(log);
    CHECK(log.error().message.find("/nonexistent-dir-airlock/audit.jsonl") != std::string::npos);
}
