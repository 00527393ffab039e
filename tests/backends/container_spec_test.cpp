#include "backends/docker/container_spec.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

using namespace airlock;
using namespace airlock::docker;
namespace json = boost::json;

TEST_CASE("to_create_request: every field of a full spec") {
    ContainerSpec s;
    s.name = "airlock-fix-test";
    s.image = "node:22";
    s.cmd = {"claude", "--dangerously-skip-permissions", "fix it"};
    s.env = {"HTTPS_PROXY=http://s:t@host.docker.internal:3030", "NO_PROXY=localhost"};
    s.labels = {{"dev.airlock.session", "fix-test"}};
    s.working_dir = "/workspace";
    s.user = "1000:1000";
    s.mounts = {{"/home/u/wt", "/workspace", false, Mount::bind},
                {"airlock-cache-npm", "/home/agent/.npm", false, Mount::volume},
                {"/home/u/.airlock/ca/ca.pem", "/etc/airlock/ca.pem", true, Mount::bind},
                {"", "/scratch", false, Mount::tmpfs}};
    s.extra_hosts = {"host.docker.internal:host-gateway"};
    s.network = "bridge";
    s.cpus = 1.5;
    s.memory_bytes = 4LL << 30;
    s.pids_limit = 1024;
    s.read_only_rootfs = true;
    s.tty = true;
    s.open_stdin = true;
    s.init = true;
    s.cap_drop = {"ALL"};
    s.security_opt = {"no-new-privileges"};

    auto expected = json::parse(R"({
      "Image": "node:22",
      "Cmd": ["claude", "--dangerously-skip-permissions", "fix it"],
      "Env": ["HTTPS_PROXY=http://s:t@host.docker.internal:3030", "NO_PROXY=localhost"],
      "Labels": {"dev.airlock.session": "fix-test"},
      "WorkingDir": "/workspace",
      "User": "1000:1000",
      "Tty": true, "OpenStdin": true, "StdinOnce": false,
      "AttachStdin": true, "AttachStdout": true, "AttachStderr": true,
      "HostConfig": {
        "Mounts": [
          {"Type": "bind", "Source": "/home/u/wt", "Target": "/workspace", "ReadOnly": false},
          {"Type": "volume", "Source": "airlock-cache-npm", "Target": "/home/agent/.npm", "ReadOnly": false},
          {"Type": "bind", "Source": "/home/u/.airlock/ca/ca.pem", "Target": "/etc/airlock/ca.pem", "ReadOnly": true},
          {"Type": "tmpfs", "Target": "/scratch", "ReadOnly": false}
        ],
        "ExtraHosts": ["host.docker.internal:host-gateway"],
        "NetworkMode": "bridge",
        "NanoCpus": 1500000000,
        "Memory": 4294967296,
        "PidsLimit": 1024,
        "ReadonlyRootfs": true,
        "Init": true,
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "Tmpfs": {"/tmp": "rw,nosuid,nodev,mode=1777"}
      }
    })");
    json::value got = to_create_request(s);
    INFO(json::serialize(got));
    CHECK(got == expected);
}

TEST_CASE("to_create_request: a minimal spec leaves the image's defaults alone") {
    ContainerSpec s;
    s.name = "x";
    s.image = "airlock-test/busybox:latest";
    auto expected = json::parse(R"({
      "Image": "airlock-test/busybox:latest", "Env": [], "Labels": {}, "WorkingDir": "", "User": "",
      "Tty": false, "OpenStdin": false, "StdinOnce": false,
      "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
      "HostConfig": {"Mounts": [], "ExtraHosts": [], "ReadonlyRootfs": false, "CapDrop": [], "SecurityOpt": []}
    })");
    json::value got = to_create_request(s);
    INFO(json::serialize(got));
    CHECK(got == expected);
}

TEST_CASE("to_create_request: no automatic /tmp tmpfs when a mount targets /tmp") {
    ContainerSpec s;
    s.image = "i";
    s.read_only_rootfs = true;
    s.mounts = {{"", "/tmp", false, Mount::tmpfs}};
    auto got = to_create_request(s);
    CHECK_FALSE(got.at("HostConfig").as_object().contains("Tmpfs"));
    s.mounts.clear();
    s.read_only_rootfs = false;
    CHECK_FALSE(to_create_request(s).at("HostConfig").as_object().contains("Tmpfs"));
}

TEST_CASE("nano_cpus rounds to the nearest nanoCPU") {
    CHECK(nano_cpus(0.5) == 500'000'000);
    CHECK(nano_cpus(2) == 2'000'000'000);
    CHECK(nano_cpus(0.1) == 100'000'000);
    CHECK(nano_cpus(1.000000001) == 1'000'000'001);
}

TEST_CASE("parse_memory") {
    struct Ok { const char* text; std::int64_t bytes; };
    for (auto [text, bytes] : {Ok{"4g", 4LL << 30}, Ok{"4G", 4LL << 30}, Ok{"512m", 512LL << 20},
                               Ok{"512MB", 512LL << 20}, Ok{"8192k", 8LL << 20}, Ok{"6m", 6LL << 20},
                               Ok{"10485760", 10485760}, Ok{"10485760b", 10485760}, Ok{"1t", 1LL << 40}}) {
        CAPTURE(text);
        auto r = parse_memory(text);
        REQUIRE(r.ok());
        CHECK(*r == bytes);
    }
    for (const char* text : {"", "4x", "g", "-4g", "1.5g", " 4g", "4 g", "4gg", "0x10"}) {
        CAPTURE(text);
        auto r = parse_memory(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("expected a number with an optional unit b, k, m, g or t (or kb, mb, gb, tb; powers of 1024, any case), e.g. 512m or 4g") !=
              std::string::npos);
    }
    CHECK(parse_memory("4x").error().message ==
          "--memory-limit '4x': expected a number with an optional unit b, k, m, g or t (or kb, mb, gb, tb; powers of 1024, any case), e.g. 512m or 4g");
    CHECK(parse_memory("4x", "[docker] memory").error().message.starts_with("[docker] memory '4x': "));
    CHECK(parse_memory("1024k").error().message == "--memory-limit '1024k': below Docker's minimum memory limit of 6m");
    CHECK(parse_memory("123").error().message.find("minimum") != std::string::npos);
    CHECK(parse_memory("99999999999999999999").error().message.find("too large") != std::string::npos);
    CHECK(parse_memory("9999999999t").error().message.find("too large") != std::string::npos);
}

TEST_CASE("parse_cpus") {
    struct Ok { const char* text; double cpus; };
    for (auto [text, cpus] : {Ok{"2", 2.0}, Ok{"0.5", 0.5}, Ok{"1.25", 1.25}, Ok{"16", 16.0},
                              Ok{"0.000000001", 1e-9}}) {
        CAPTURE(text);
        auto r = parse_cpus(text);
        REQUIRE(r.ok());
        CHECK(*r == doctest::Approx(cpus).epsilon(1e-12));
        CHECK(nano_cpus(*r) == static_cast<std::int64_t>(cpus * 1e9 + 0.5));
    }
    for (const char* text : {"", "two", "-1", "1.", ".5", "1,5", "0x2", " 2", "1e3"}) {
        CAPTURE(text);
        auto r = parse_cpus(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == std::string("--cpu-limit '") + text + "': expected a positive number of CPUs, e.g. 2 or 0.5");
    }
    CHECK(parse_cpus("0").error().message == "--cpu-limit '0': must be greater than 0");
    CHECK(parse_cpus("0.0").error().message.find("greater than 0") != std::string::npos);
    CHECK(parse_cpus("0.0000000001").error().message.find("9 decimal places") != std::string::npos);
    CHECK(parse_cpus("99999999").error().message.find("too many CPUs") != std::string::npos);
}

TEST_CASE("check_pids_limit: one rule for --pids-limit and [docker] pids_limit, at least 32") {
    using airlock::docker::check_pids_limit;
    CHECK(check_pids_limit(32).value() == 32);
    CHECK(check_pids_limit(1024, "pids_limit").value() == 1024);
    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}, std::int64_t{31}}) {
        auto r = check_pids_limit(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("must be at least 32") != std::string::npos);
    }
    CHECK(check_pids_limit(0).error().message.find("0 does not mean unlimited") != std::string::npos);
}
