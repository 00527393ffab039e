#include "ui/audit_tail.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "ui/audit_index.hpp"

using namespace airlock::ui;
namespace fs = std::filesystem;

namespace {
void append(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::app | std::ios::binary);
    out << text;
}
std::string line(int n) {
    return "{\"time\":\"2026-11-27T10:00:" + std::string(n < 10 ? "0" : "") + std::to_string(n) +
           ".000Z\",\"client\":\"s\",\"status\":200}\n";
}
}  // namespace

TEST_CASE("AuditTail: start reads .1 and the file, poll follows appends and a rotation") {
    airlock::testing::TempDir dir;
    auto path = dir.path / "audit.jsonl";
    auto older = dir.path / "audit.jsonl.1";
    append(older, line(1));
    append(path, line(2));
    AuditTail tail(path);
    AuditIndex idx;
    CHECK(idx.feed(tail.start(1 << 20)) == 2);

    auto got = tail.poll();
    CHECK(got.before.empty());
    CHECK(got.after.empty());
    CHECK(!got.rotated);

    // A line written in two pieces, then the proxy rotates (audit.jsonl -> .1) with the
    // rest of the old file written just before, and starts a new file.
    auto l3 = line(3);
    append(path, l3.substr(0, 10));
    got = tail.poll();
    CHECK(idx.feed(got.before) == 0);
    append(path, l3.substr(10) + line(4));
    fs::rename(path, older);
    append(path, line(5));
    got = tail.poll();
    CHECK(got.rotated);
    CHECK(idx.feed(got.before) == 2);  // 3 (completed) and 4: nothing of the old file lost
    idx.drop_partial();
    CHECK(idx.feed(got.after) == 1);  // 5
    CHECK(idx.total() == 5);

    // Truncated in place (seen when the file is shorter than what was read): from the start again.
    fs::resize_file(path, 0);
    got = tail.poll();
    CHECK(got.rotated);
    append(path, line(6));
    got = tail.poll();
    CHECK(idx.feed(got.before) == 1);
}

TEST_CASE("AuditTail: start keeps to max_bytes and skips a cut first line; a missing file appears later") {
    airlock::testing::TempDir dir;
    auto path = dir.path / "audit.jsonl";
    AuditTail missing(path);
    CHECK(missing.start(100).empty());
    CHECK(missing.poll().after.empty());
    for (int i = 0; i < 50; ++i) append(path, line(i % 60));
    auto got = missing.poll();
    CHECK(got.rotated);
    AuditIndex all;
    CHECK(all.feed(got.after) == 50);

    AuditTail tail(path);
    AuditIndex idx;
    auto text = tail.start(3 * line(0).size() + 5);
    CHECK(idx.feed(text) == 3);  // the cut line before them is dropped, not misread
}
