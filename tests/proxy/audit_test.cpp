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

TEST_CASE("parse_time_utc reads what format_time_utc writes") {
    using namespace std::chrono;
    for (long long ms : {0LL, 5LL, 1714566896789LL, 1795000000123LL}) {
        auto t = system_clock::time_point(milliseconds(ms));
        auto back = parse_time_utc(format_time_utc(t));
        REQUIRE(back);
        CHECK(*back == t);
    }
    CHECK(parse_time_utc("2024-05-01T12:34:56Z") == system_clock::time_point(milliseconds(1714566896000)));
    for (const char* bad : {"", "2024-05-01", "2024-05-01T12:34:56.789", "2024-13-01T12:34:56.789Z",
                            "2024-02-30T12:34:56.789Z", "2024-05-01T12:34:56.78Z", "x024-05-01T12:34:56.789Z",
                            "2024-05-01T12:34:56.789Zjunk"})
        CHECK_MESSAGE(!parse_time_utc(bad), bad);
}

TEST_CASE("parse_audit_line is the inverse of to_json_line") {
    auto r = sample();
    r.error = "quote \" and newline \n";
    r.peer = "10.0.0.1:5555";
    auto back = parse_audit_line(to_json_line(r));
    REQUIRE(back);
    CHECK(back->time == r.time);
    CHECK(back->client == r.client);
    CHECK(back->method == r.method);
    CHECK(back->host == r.host);
    CHECK(back->port == r.port);
    CHECK(back->path == "/v1/messages");
    CHECK(back->status == r.status);
    CHECK(back->bytes_up == r.bytes_up);
    CHECK(back->bytes_down == r.bytes_down);
    CHECK(back->duration_ms == r.duration_ms);
    CHECK(back->decision == r.decision);
    CHECK(back->rule == r.rule);
    CHECK(back->error == r.error);
    CHECK(back->peer == r.peer);

    // Torn, foreign and hostile lines are skipped or read with defaults, never trusted blindly.
    CHECK(!parse_audit_line(""));
    CHECK(!parse_audit_line("{\"time\":\"2024-05-01T12:34:56.789Z\",\"client\":\"a"));
    CHECK(!parse_audit_line("[1,2]"));
    CHECK(!parse_audit_line("{\"client\":\"a\"}"));
    auto odd = parse_audit_line(
        "{\"time\":\"2024-05-01T12:34:56.789Z\",\"port\":99999,\"status\":-1,\"decision\":\"x\",\"rule\":7}");
    REQUIRE(odd);
    CHECK(odd->port == 65535);
    CHECK(odd->status == 0);
    CHECK(odd->decision == Decision::deny);
    CHECK(odd->rule.empty());
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

namespace {

AuditRecord refusal(const std::string& peer, std::size_t target_bytes = 10) {
    AuditRecord r;
    r.time = std::chrono::system_clock::time_point(std::chrono::seconds(1714566896));
    r.method = "CONNECT";
    r.path = "/" + std::string(target_bytes, 'A');
    r.status = 407;
    r.decision = Decision::deny;
    r.error = "proxy authentication required";
    r.peer = peer;
    return r;
}

std::vector<boost::json::object> lines_of(const std::string& text) {
    std::vector<boost::json::object> out;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) out.push_back(boost::json::parse(l).as_object());
    return out;
}

}  // namespace

TEST_CASE("bound_field: short text kept, long text cut at the limit and marked") {
    CHECK(bound_field("api.anthropic.com", 256) == "api.anthropic.com");
    std::string big(65536, 'A');
    auto cut = bound_field(big, 1024);
    CHECK(cut.size() <= 1024);
    CHECK(cut.find("...[cut ") != std::string::npos);
    CHECK(cut.ends_with(" bytes]"));
    // The mark says how much is missing.
    auto kept = cut.substr(0, cut.find("..."));
    CHECK(cut == kept + "...[cut " + std::to_string(big.size() - kept.size()) + " bytes]");
    // JSON escaping counts: control characters take six bytes each in the line.
    std::string ctl(2000, '\x01');
    boost::json::string js(bound_field(ctl, 512));
    CHECK(boost::json::serialize(boost::json::value(js)).size() <= 512 + 2);  // + the quotes
    // Never inside a UTF-8 character.
    std::string utf8;
    for (int i = 0; i < 400; ++i) utf8 += "\xc3\xa9";  // é
    auto u = bound_field(utf8, 101);
    auto body = u.substr(0, u.find("..."));
    CHECK(body.size() % 2 == 0);
}

TEST_CASE("to_json_line: every field bounded; a 64 KiB refusal makes a line under 4 KiB") {
    auto r = refusal("127.0.0.1", 65536);
    r.client = std::string(5000, 'c');
    r.method = std::string(5000, 'M');
    r.host = std::string(5000, '\n');
    r.rule = std::string(5000, 'r');
    r.error = std::string(5000, '"');
    r.peer = std::string(5000, 'p');
    auto line = to_json_line(r);
    CHECK(line.size() < 4096);
    auto o = boost::json::parse(line).as_object();
    CHECK(std::string(o["path"].as_string()).find("...[cut ") != std::string::npos);
    CHECK(std::string(o["host"].as_string()).find("...[cut ") != std::string::npos);
    CHECK(o["peer"].as_string().size() <= AuditFieldLimits::peer);
    // Not set: not written.
    auto plain = boost::json::parse(to_json_line(sample())).as_object();
    CHECK_FALSE(plain.contains("peer"));
    CHECK_FALSE(plain.contains("suppressed"));
}

TEST_CASE("RefusalLimiter: the first per_source of a source per window, then one summary") {
    using namespace std::chrono;
    RefusalLimiter::Options o;
    o.per_source = 3;
    o.per_window = 100;
    RefusalLimiter lim(o);
    auto t0 = system_clock::time_point(seconds(1000));
    int written = 0;
    for (int i = 0; i < 50; ++i) written += lim.admit(refusal("10.0.0.1"), t0 + milliseconds(i));
    written += lim.admit(refusal("10.0.0.2"), t0 + milliseconds(60));  // another peer has its own count
    CHECK(written == 4);
    CHECK(lim.take_summaries(t0 + milliseconds(999)).empty());  // window not over
    auto s = lim.take_summaries(t0 + milliseconds(1000));
    REQUIRE(s.size() == 1);
    CHECK(s[0].peer == "10.0.0.1");
    CHECK(s[0].status == 407);
    CHECK(s[0].suppressed == 47);
    CHECK(s[0].error == "47 more refusals (407) from 10.0.0.1 in 1 s were not written");
    CHECK(is_refusal(s[0]));
    CHECK(lim.take_summaries(t0 + seconds(5)).empty());
}

TEST_CASE("RefusalLimiter: a per-window total, many sources folded, windows grow while a flood lasts") {
    using namespace std::chrono;
    RefusalLimiter::Options o;
    o.per_source = 5;
    o.per_window = 20;
    o.max_sources = 16;
    o.max_summaries = 4;
    RefusalLimiter lim(o);
    auto t = system_clock::time_point(seconds(1000));
    int written = 0;
    for (int peer = 0; peer < 100; ++peer)
        for (int i = 0; i < 10; ++i) written += lim.admit(refusal("10.0.1." + std::to_string(peer)), t);
    CHECK(written == 20);
    auto s = lim.take_summaries(t + seconds(1));
    REQUIRE(s.size() == 5);  // four sources, then "other sources"
    std::uint64_t total = 0;
    for (const auto& r : s) total += r.suppressed;
    CHECK(total == 1000 - 20);
    CHECK(s.back().error.find("other sources") != std::string::npos);

    // The flood goes on: the next window is 2 s, then 4 s...
    written = 0;
    for (int i = 0; i < 1000; ++i) written += lim.admit(refusal("10.0.2.1"), t + seconds(1) + milliseconds(i));
    CHECK(written == 5);
    CHECK(lim.take_summaries(t + milliseconds(2999)).empty());
    auto s2 = lim.take_summaries(t + seconds(3));
    REQUIRE(s2.size() == 1);
    CHECK(s2[0].suppressed == 995);
    CHECK(s2[0].error.find("in 2 s") != std::string::npos);
    // A quiet window resets it.
    CHECK(lim.take_summaries(t + seconds(60)).empty());
    for (int i = 0; i < 10; ++i) (void)lim.admit(refusal("10.0.2.1"), t + seconds(100));
    auto s3 = lim.take_summaries(t + seconds(101));
    REQUIRE(s3.size() == 1);
    CHECK(s3[0].error.find("in 1 s") != std::string::npos);
}

TEST_CASE("AuditLog: a flood of 407s with 64 KiB targets cannot rotate away an authenticated record") {
    using namespace std::chrono;
    TempDir dir;
    auto path = dir.path / "audit.jsonl";
    auto now = system_clock::time_point(seconds(1714566896));
    AuditLog::Options options;
    options.clock = [&now] { return now; };
    auto log = AuditLog::open(path.string(), 256 * 1024, 2, options);
    REQUIRE(log);
    auto authenticated = sample();
    authenticated.path = "/v1/messages/the-record-that-must-stay";
    REQUIRE((*log)->write(authenticated));
    // 20,000 refusals over 100 s from 50 peers, each with a 64 KiB target.
    for (int i = 0; i < 20000; ++i) {
        now += milliseconds(5);
        REQUIRE((*log)->write(refusal("10.9.0." + std::to_string(i % 50), 65536)));
    }
    now += seconds(120);
    REQUIRE((*log)->write(sample()));  // flushes the last summaries
    CHECK_FALSE(fs::exists(path.string() + ".1"));  // never rotated
    std::string text = slurp(path);
    CHECK(text.size() < 256 * 1024);
    CHECK(text.find("the-record-that-must-stay") != std::string::npos);
    // Every refusal is accounted for: written, or counted in a summary.
    std::uint64_t written = 0, summarized = 0;
    for (auto& o : lines_of(text)) {
        if (o.contains("suppressed")) summarized += o["suppressed"].to_number<std::uint64_t>();
        else if (o["status"].to_number<int>() == 407) ++written;
    }
    CHECK(written > 0);
    CHECK(written + summarized == 20000);
}

TEST_CASE("AuditLog: refusals fill at most their share of a file; authenticated records still rotate it") {
    TempDir dir;
    auto path = dir.path / "audit.jsonl";
    AuditLog::Options options;
    options.refusals.per_source = 1'000'000;  // only the share limits here
    options.refusals.per_window = 1'000'000;
    auto log = AuditLog::open(path.string(), 64 * 1024, 1, options);
    REQUIRE(log);
    for (int i = 0; i < 5000; ++i) REQUIRE((*log)->write(refusal("10.0.0.1", 2000)));
    CHECK(fs::file_size(path) <= 16 * 1024 + 4096);
    CHECK_FALSE(fs::exists(path.string() + ".1"));
    const auto line_size = to_json_line(sample()).size();
    for (std::size_t i = 0; i < 2 * 64 * 1024 / line_size; ++i) REQUIRE((*log)->write(sample()));
    CHECK(fs::exists(path.string() + ".1"));
}
