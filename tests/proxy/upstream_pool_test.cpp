#include "proxy/upstream_pool.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace airlock::proxy;
using namespace std::chrono_literals;

namespace {
struct Conn {
    std::string made_for;  // what the connection really is (host it was made to)
    bool open = true;
};
using Pool = UpstreamPool<Conn>;
const auto t0 = Pool::Clock::time_point{} + 1h;
auto always = [](Conn&) { return true; };

UpstreamKey key(std::string client, std::string host, std::uint16_t port = 443, std::string rule = "r",
                std::uint64_t generation = 1) {
    return UpstreamKey{std::move(client), std::move(host), port, std::move(rule), generation};
}
std::unique_ptr<Conn> conn(std::string host) { return std::make_unique<Conn>(Conn{std::move(host)}); }
}  // namespace

TEST_CASE("upstream pool: a connection is only ever taken for the exact key it was put with") {
    Pool pool;
    REQUIRE(pool.put(key("c1", "alpha.test", 443, "alpha"), conn("alpha.test"), t0));
    // The bug this pool replaces: a string key "client\0host:port" that fmt cut at the NUL,
    // so every host of one client shared one key.
    CHECK(pool.take(key("c1", "beta.test", 443, "alpha"), t0, always) == nullptr);
    CHECK(pool.take(key("c1", "alpha.test", 443, "beta"), t0, always) == nullptr);
    CHECK(pool.take(key("c1", "alpha.test", 8443, "alpha"), t0, always) == nullptr);
    CHECK(pool.take(key("c2", "alpha.test", 443, "alpha"), t0, always) == nullptr);
    CHECK(pool.take(key("c1", "alpha.test", 443, "alpha", 2), t0, always) == nullptr);
    // Names that a concatenated key would confuse stay apart.
    CHECK(pool.take(key("c1\0alpha.test", "", 443, "alpha"), t0, always) == nullptr);
    CHECK(pool.take(key("c", "1alpha.test", 443, "alpha"), t0, always) == nullptr);
    auto c = pool.take(key("c1", "alpha.test", 443, "alpha"), t0, always);
    REQUIRE(c);
    CHECK(c->made_for == "alpha.test");
    CHECK(pool.size() == 0);
}

TEST_CASE("upstream pool: random puts and takes never return another key's connection") {
    Pool pool;
    const char* hosts[] = {"alpha.test", "beta.test"};
    const char* clients[] = {"c1", "c2", "c3"};
    unsigned x = 12345;
    auto next = [&] { return x = x * 1103515245u + 12345u, (x >> 16) & 0x7fff; };
    int taken = 0;
    for (int i = 0; i < 2000; ++i) {
        std::string h = hosts[next() % 2], c = clients[next() % 3];
        auto k = key(c, h, 443, h == "alpha.test" ? "alpha" : "beta");
        if (next() % 2) {
            pool.put(k, conn(c + "/" + h), t0);
        } else if (auto got = pool.take(k, t0, always)) {
            CHECK(got->made_for == c + "/" + h);
            ++taken;
        }
    }
    CHECK(taken > 100);
}

TEST_CASE("upstream pool: a reload's new generation never reuses a connection made before it") {
    Pool pool;
    pool.put(key("c1", "alpha.test", 443, "alpha", 1), conn("old"), t0);
    CHECK(pool.take(key("c1", "alpha.test", 443, "alpha", 2), t0, always) == nullptr);
    // The next put of the new generation sweeps the old one away.
    pool.put(key("c1", "alpha.test", 443, "alpha", 2), conn("new"), t0 + 2s);
    CHECK(pool.size() == 1);
    CHECK(pool.take(key("c1", "alpha.test", 443, "alpha", 1), t0 + 2s, always) == nullptr);
    auto c = pool.take(key("c1", "alpha.test", 443, "alpha", 2), t0 + 2s, always);
    REQUIRE(c);
    CHECK(c->made_for == "new");
}

TEST_CASE("upstream pool: closed and aged-out connections are dropped, not returned") {
    Pool pool(UpstreamPoolLimits{30s, 64, 512});
    auto k = key("c1", "alpha.test");
    pool.put(k, conn("a"), t0);
    pool.put(k, conn("b"), t0);
    auto closed_b = [](Conn& c) { return c.made_for != "b"; };
    auto got = pool.take(k, t0, closed_b);
    REQUIRE(got);
    CHECK(got->made_for == "a");
    CHECK(pool.size() == 0);
    pool.put(k, conn("c"), t0);
    CHECK(pool.take(k, t0 + 30s, always) == nullptr);
    CHECK(pool.size() == 0);
}

TEST_CASE("upstream pool: limits per key and in total") {
    Pool pool(UpstreamPoolLimits{30s, 2, 3});
    auto a = key("c1", "alpha.test"), b = key("c1", "beta.test");
    CHECK(pool.put(a, conn("a1"), t0));
    CHECK(pool.put(a, conn("a2"), t0));
    CHECK_FALSE(pool.put(a, conn("a3"), t0));
    CHECK(pool.put(b, conn("b1"), t0));
    CHECK_FALSE(pool.put(b, conn("b2"), t0));
    CHECK(pool.size() == 3);
    // Once the old ones aged out, a put makes room.
    CHECK(pool.put(b, conn("b3"), t0 + 31s));
    CHECK(pool.size() == 1);
}
