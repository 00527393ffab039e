// The per-session operation lock, the start lock and the home id: what a killed process
// leaves behind and what the next one reads from it.

#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <vector>

#include "session/container.hpp"
#include "session/home_id.hpp"
#include "session/locks.hpp"

namespace fs = std::filesystem;
using namespace airlock::session;
using airlock::testing::TempDir;

namespace {
std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("operations as text") {
    for (auto op : {Operation::create, Operation::refresh, Operation::remove}) CHECK(parse_operation(to_string(op)) == op);
    CHECK(to_string(Operation::remove) == "delete");
    CHECK(parse_operation("delete\n") == Operation::remove);
    CHECK_FALSE(parse_operation("undo").has_value());
}

TEST_CASE("SessionLock: names its operation while held, goes away when done") {
    TempDir dir;
    auto file = dir.path / "sessions" / "s.lock";
    {
        std::optional<Operation> before;
        auto lock = SessionLock::take(file, Operation::refresh, &before);
        REQUIRE(lock.ok());
        CHECK_FALSE(before.has_value());
        CHECK(slurp(file) == "refresh\n");
        CHECK(SessionLock::held(file));
        CHECK_FALSE(SessionLock::interrupted(file).has_value());  // held: nothing interrupted
        auto second = SessionLock::take(file, Operation::remove);
        REQUIRE_FALSE(second.ok());
        CHECK(second.error().message.find("another airlock is working on this session") != std::string::npos);
        CHECK(slurp(file) == "refresh\n");  // the loser wrote nothing
    }
    CHECK_FALSE(fs::exists(file));
    CHECK_FALSE(SessionLock::held(file));
    CHECK_FALSE(SessionLock::interrupted(file).has_value());
}

TEST_CASE("SessionLock: a killed holder leaves the file, and the next taker learns what it was doing") {
    TempDir dir;
    auto file = dir.path / "s.lock";
    {
        auto lock = SessionLock::take(file, Operation::remove);
        REQUIRE(lock.ok());
        lock->keep_file();  // what a SIGKILL amounts to: the flock goes, the file stays
    }
    CHECK(fs::exists(file));
    CHECK_FALSE(SessionLock::held(file));
    CHECK(SessionLock::interrupted(file) == Operation::remove);
    std::optional<Operation> seen;
    auto again = SessionLock::take(file, Operation::remove, &seen);
    REQUIRE(again.ok());
    CHECK(seen == Operation::remove);
}

TEST_CASE("SessionLock: an empty lock file (an older airlock's) reads as an interrupted create") {
    TempDir dir;
    auto file = dir.path / "s.lock";
    std::ofstream(file).close();
    CHECK(SessionLock::interrupted(file) == Operation::create);
}

TEST_CASE("StartLock: one holder at a time") {
    TempDir dir;
    auto file = dir.path / ".start.lock";
    std::atomic<int> inside{0}, most{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            for (int k = 0; k < 20; ++k) {
                auto lock = StartLock::take(file);
                REQUIRE(lock.ok());
                int now = ++inside;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {}
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                --inside;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(most.load() == 1);
}

TEST_CASE("home id: made once, then read back; garbage is an error") {
    TempDir dir;
    auto first = load_or_create_home_id(dir.path / "home");
    REQUIRE(first.ok());
    CHECK(validate_home_id(*first).ok());
    CHECK(load_or_create_home_id(dir.path / "home").value() == *first);
    // Concurrent first uses agree.
    std::vector<std::thread> threads;
    std::vector<std::string> ids(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] { ids[static_cast<std::size_t>(i)] = load_or_create_home_id(dir.path / "race").value(); });
    for (auto& t : threads) t.join();
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
    fs::create_directories(dir.path / "bad");
    std::ofstream(dir.path / "bad" / "home-id") << "../../etc\n";
    auto bad = load_or_create_home_id(dir.path / "bad");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("not a home id") != std::string::npos);
}

TEST_CASE("names and labels carry the home id") {
    CHECK(container_name("abcde12345", "fix-it") == "airlock-fix-it-abcde12345");
    CHECK(home_volume_name("abcde12345", "fix-it") == "airlock-home-fix-it-abcde12345");
    CHECK(container_name("abcde12345", "x") != container_name("fghij67890", "x"));
    CHECK(belongs_to_home({{"dev.airlock.home-id", "abcde12345"}}, "abcde12345"));
    CHECK_FALSE(belongs_to_home({{"dev.airlock.home-id", "fghij67890"}}, "abcde12345"));
    CHECK_FALSE(belongs_to_home({{"dev.airlock.home", "/same/path"}}, "abcde12345"));  // unlabelled: not ours
    CHECK_FALSE(belongs_to_home({{"dev.airlock.home-id", ""}}, ""));
    CHECK_FALSE(validate_home_id("ABCDE12345").ok());
    CHECK_FALSE(validate_home_id("abc").ok());
}
