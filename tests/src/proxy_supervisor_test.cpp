#include "src/proxy_supervisor.hpp"

#include <doctest/doctest.h>

using airlock::RestartPolicy;
using namespace std::chrono_literals;

TEST_CASE("RestartPolicy: the delay doubles with each crash in a row, capped") {
    RestartPolicy p;
    CHECK(p.on_crash(20s) == 250ms);
    CHECK(p.on_crash(20s) == 500ms);
    CHECK(p.on_crash(20s) == 1000ms);
    for (int i = 0; i < 10; ++i) (void)p.on_crash(20s);
    CHECK(p.on_crash(20s) == 30'000ms);
}

TEST_CASE("RestartPolicy: a server that ran a while starts the count afresh") {
    RestartPolicy p;
    (void)p.on_crash(1s);
    (void)p.on_crash(1s);
    CHECK(p.on_crash(2min) == 250ms);
}

TEST_CASE("RestartPolicy: gives up after five fast crashes in a row, not after slow ones") {
    RestartPolicy p;
    for (int i = 0; i < 4; ++i) CHECK(p.on_crash(100ms).has_value());
    CHECK_FALSE(p.on_crash(100ms).has_value());

    RestartPolicy slow;
    for (int i = 0; i < 20; ++i) CHECK(slow.on_crash(15s).has_value());
    RestartPolicy mixed;  // a slow crash in between resets the fast count
    for (int i = 0; i < 4; ++i) (void)mixed.on_crash(100ms);
    CHECK(mixed.on_crash(15s).has_value());
    for (int i = 0; i < 4; ++i) CHECK(mixed.on_crash(100ms).has_value());
}
