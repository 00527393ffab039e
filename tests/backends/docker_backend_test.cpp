#include "backends/docker/docker_backend.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using namespace airlock;
using namespace airlock::docker;

namespace {

std::string frame(unsigned char stream, std::string_view payload) {
    std::string f{static_cast<char>(stream), 0, 0, 0};
    auto n = payload.size();
    f += static_cast<char>((n >> 24) & 0xff);
    f += static_cast<char>((n >> 16) & 0xff);
    f += static_cast<char>((n >> 8) & 0xff);
    f += static_cast<char>(n & 0xff);
    f += payload;
    return f;
}

struct Collected {
    std::string out, err;
    int calls = 0;
    LogDemuxer::Sink sink() {
        return [this](OutputStream s, std::string_view d) {
            ++calls;
            (s == OutputStream::stdout_stream ? out : err) += d;
            return true;
        };
    }
};

}  // namespace

TEST_CASE("LogDemuxer: frames whole, split anywhere, byte by byte") {
    const std::string big(70000, 'z');  // length needs more than two header bytes
    const std::string bytes = frame(1, "hello\n") + frame(2, "oops\n") + frame(1, "") + frame(1, big) +
                              frame(0, "in") + frame(3, "engine error");
    const std::string want_out = "hello\n" + big + "in";
    const std::string want_err = "oops\nengine error";

    SUBCASE("whole") {
        LogDemuxer d;
        Collected c;
        CHECK(d.feed(bytes, c.sink()));
        CHECK(c.out == want_out);
        CHECK(c.err == want_err);
        CHECK(d.at_frame_boundary());
    }
    SUBCASE("byte by byte") {
        LogDemuxer d;
        Collected c;
        bool all_fed = true;
        for (char ch : bytes) all_fed = d.feed(std::string_view(&ch, 1), c.sink()) && all_fed;
        CHECK(all_fed);
        CHECK(c.out == want_out);
        CHECK(c.err == want_err);
        CHECK(d.at_frame_boundary());
    }
    SUBCASE("every split point of the first frames") {
        const std::string small = frame(1, "ab") + frame(2, "cd") + frame(1, "e");
        for (std::size_t cut = 0; cut <= small.size(); ++cut) {
            CAPTURE(cut);
            LogDemuxer d;
            Collected c;
            REQUIRE(d.feed(std::string_view(small).substr(0, cut), c.sink()));
            CHECK(d.at_frame_boundary() == (cut == 0 || cut == 10 || cut == 20 || cut == small.size()));
            REQUIRE(d.feed(std::string_view(small).substr(cut), c.sink()));
            CHECK(c.out == "abe");
            CHECK(c.err == "cd");
            CHECK(d.at_frame_boundary());
        }
    }
    SUBCASE("empty input") {
        LogDemuxer d;
        Collected c;
        CHECK(d.feed("", c.sink()));
        CHECK(c.calls == 0);
    }
}

TEST_CASE("LogDemuxer: a truncated stream is not at a frame boundary") {
    LogDemuxer d;
    Collected c;
    std::string f = frame(1, "hello");
    CHECK(d.feed(std::string_view(f).substr(0, 10), c.sink()));
    CHECK(c.out == "he");
    CHECK_FALSE(d.at_frame_boundary());
}

TEST_CASE("LogDemuxer: raw TTY bytes are refused, not misread") {
    LogDemuxer d;
    Collected c;
    CHECK_FALSE(d.feed("hello world\r\n", c.sink()));
    CHECK(d.malformed());
    CHECK(c.calls == 0);
    CHECK_FALSE(d.feed(frame(1, "x"), c.sink()));  // stays failed
    LogDemuxer e;
    CHECK_FALSE(e.feed(std::string{1, 0, 1, 0, 0, 0, 0, 1, 'x'}, c.sink()));  // non-zero padding
    CHECK(e.malformed());
}

TEST_CASE("LogDemuxer: the sink can stop the stream") {
    LogDemuxer d;
    int calls = 0;
    auto stop = [&](OutputStream, std::string_view) { return ++calls < 2; };
    CHECK_FALSE(d.feed(frame(1, "a") + frame(1, "b") + frame(1, "c"), stop));
    CHECK(calls == 2);
    CHECK_FALSE(d.malformed());
}

TEST_CASE("parse_docker_host") {
    auto unix_default = parse_docker_host("");
    REQUIRE(unix_default.ok());
    CHECK(unix_default->kind == EngineEndpoint::unix_socket);
    CHECK(unix_default->path == "/var/run/docker.sock");
    CHECK(unix_default->display() == "unix:///var/run/docker.sock");

    auto podman = parse_docker_host("unix:///run/user/1000/podman/podman.sock");
    REQUIRE(podman.ok());
    CHECK(podman->path == "/run/user/1000/podman/podman.sock");

    auto tcp = parse_docker_host("tcp://127.0.0.1:2375");
    REQUIRE(tcp.ok());
    CHECK(tcp->kind == EngineEndpoint::tcp);
    CHECK(tcp->host == "127.0.0.1");
    CHECK(tcp->port == 2375);
    CHECK_FALSE(tcp->tls);
    CHECK(tcp->display() == "tcp://127.0.0.1:2375");

    CHECK(parse_docker_host("tcp://docker.example")->port == 2375);
    CHECK(parse_docker_host("tcp://docker.example/")->host == "docker.example");

    auto tls = parse_docker_host("tcp://docker.example", true, "/home/u/.docker");
    REQUIRE(tls.ok());
    CHECK(tls->tls);
    CHECK(tls->port == 2376);
    CHECK(tls->cert_path == "/home/u/.docker");

    auto v6 = parse_docker_host("tcp://[::1]:2375");
    REQUIRE(v6.ok());
    CHECK(v6->host == "::1");
    CHECK(v6->port == 2375);
    CHECK(v6->display() == "tcp://[::1]:2375");
    CHECK(parse_docker_host("tcp://[fe80::1]")->port == 2375);

    for (const char* bad : {"ssh://me@host", "npipe:////./pipe/docker_engine", "/var/run/docker.sock",
                            "unix://", "unix://relative.sock", "tcp://", "tcp://:2375", "tcp://h:0",
                            "tcp://h:65536", "tcp://h:x", "tcp://h:2375/base", "tcp://[::1", "tcp://[::1]x"}) {
        CAPTURE(bad);
        auto r = parse_docker_host(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.starts_with(std::string("DOCKER_HOST '") + bad + "': "));
        CHECK(r.error().message.find('\n') == std::string::npos);
    }
    CHECK(parse_docker_host("ssh://me@host").error().message ==
          "DOCKER_HOST 'ssh://me@host': unsupported scheme; use unix:///path/to/docker.sock or tcp://host:port");
}

TEST_CASE("endpoint_from_env") {
    const char* saved = std::getenv("DOCKER_HOST");
    std::string keep = saved ? saved : "";
    ::setenv("DOCKER_HOST", "tcp://10.0.0.5:2376", 1);
    ::setenv("DOCKER_TLS_VERIFY", "1", 1);
    ::setenv("DOCKER_CERT_PATH", "/certs", 1);
    auto ep = endpoint_from_env();
    REQUIRE(ep.ok());
    CHECK(ep->tls);
    CHECK(ep->cert_path == "/certs");
    CHECK(ep->port == 2376);
    ::unsetenv("DOCKER_TLS_VERIFY");
    ::unsetenv("DOCKER_CERT_PATH");
    ::unsetenv("DOCKER_HOST");
    CHECK(endpoint_from_env()->display() == "unix:///var/run/docker.sock");
    if (saved) ::setenv("DOCKER_HOST", keep.c_str(), 1);
}

TEST_CASE("engine_message") {
    CHECK(engine_message(R"({"message":"No such image: x:1"})") == "No such image: x:1");
    CHECK(engine_message("{\"message\":\"two\\nlines\"}\n") == "two lines");
    CHECK(engine_message("page not found\n") == "page not found");
    CHECK(engine_message("") == "");
}

// No engine needed: nothing listens at these endpoints.
TEST_CASE("an unreachable engine is one clear line") {
    auto ep = parse_docker_host("unix:///nonexistent");
    REQUIRE(ep.ok());
    auto missing = make_docker_backend(*ep)->version();
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message ==
          "cannot reach the Docker engine at unix:///nonexistent: No such file or directory; start it (e.g. 'sudo "
          "systemctl start docker' or 'scripts/ensure-docker') or set DOCKER_HOST");

    auto refused = make_docker_backend(*parse_docker_host("tcp://127.0.0.1:1"))->list({});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message ==
          "cannot reach the Docker engine at tcp://127.0.0.1:1: Connection refused; start it (e.g. 'sudo systemctl "
          "start docker' or 'scripts/ensure-docker') or set DOCKER_HOST");

    EngineEndpoint tls = *parse_docker_host("tcp://127.0.0.1:1", true, "/nonexistent-certs");
    auto no_certs = make_docker_backend(tls)->version();
    REQUIRE_FALSE(no_certs.ok());
    CHECK(no_certs.error().message.starts_with("cannot load /nonexistent-certs/ca.pem for TLS to the Docker engine at "
                                               "tcp://127.0.0.1:1: "));
}

TEST_CASE("exit_code_from_status: the code in a /containers/json Status text") {
    CHECK(exit_code_from_status("Exited (3) 2 seconds ago") == 3);
    CHECK(exit_code_from_status("Exited (0) About a minute ago") == 0);
    CHECK(exit_code_from_status("Exited (137) 5 hours ago") == 137);
    CHECK(exit_code_from_status("Restarting (1) 3 seconds ago") == 1);
    CHECK_FALSE(exit_code_from_status("Up 5 minutes").has_value());
    CHECK_FALSE(exit_code_from_status("Created").has_value());
    CHECK_FALSE(exit_code_from_status("Exited () ago").has_value());
    CHECK_FALSE(exit_code_from_status("Exited (x) ago").has_value());
    CHECK_FALSE(exit_code_from_status("").has_value());
}

TEST_CASE("directory_owner_tar: one ustar directory entry the engine extracts as owner and mode") {
    auto tar = directory_owner_tar("agent", 1234, 5678, 0755, 1700000000);
    REQUIRE(tar.size() == 512 + 1024);
    CHECK(tar.substr(0, 7) == std::string("agent/\0", 7));
    CHECK(tar.substr(100, 8) == std::string("0000755\0", 8));
    CHECK(tar.substr(108, 8) == std::string("0002322\0", 8));  // 1234
    CHECK(tar.substr(116, 8) == std::string("0013056\0", 8));  // 5678
    CHECK(tar.substr(124, 12) == std::string("00000000000\0", 12));
    CHECK(tar[156] == '5');
    CHECK(tar.substr(257, 8) == std::string("ustar\0" "00", 8));
    // The checksum: the header's bytes summed with the checksum field as spaces.
    std::string header = tar.substr(0, 512);
    unsigned stored = std::stoul(header.substr(148, 6), nullptr, 8);
    header.replace(148, 8, 8, ' ');
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    CHECK(stored == sum);
    CHECK(tar.substr(512) == std::string(1024, '\0'));
}

TEST_CASE("directories_owner_tar: several entries, parents first, one archive") {
    auto tar = directories_owner_tar({"home/agent", "home/agent/.cache", "var/cache/x"}, 1000, 1000, 0755, 0);
    REQUIRE(tar.size() == 3 * 512 + 1024);
    CHECK(tar.substr(0, 11) == std::string("home/agent/", 11));
    CHECK(tar.substr(512, 18) == std::string("home/agent/.cache/", 18));
    CHECK(tar.substr(1024, 12) == std::string("var/cache/x/", 12));
    for (int i = 0; i < 3; ++i) CHECK(tar[static_cast<std::size_t>(i) * 512 + 156] == '5');
    CHECK(directory_owner_tar("agent", 1, 2, 0700, 5) == directories_owner_tar({"agent"}, 1, 2, 0700, 5));
}

namespace {

// `tar -tv --numeric-owner` of `archive` (GNU tar reading what the engine would extract).
std::string tar_listing(const std::string& archive) {
    char path[] = "/tmp/airlock-files-tar-XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, archive.data(), archive.size()) == static_cast<ssize_t>(archive.size()));
    ::close(fd);
    std::string out;
    std::string cmd = std::string("tar -tv --numeric-owner -f ") + path + " 2>&1";
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, p)) {
            // "drwxr-xr-x 1234/5678 0 2026-01-01 00:00 .codex/" -> "drwxr-xr-x 1234/5678 .codex/"
            std::string line(buf), mode, owner, size, date, time, name;
            std::istringstream in(line);
            in >> mode >> owner >> size >> date >> time >> name;
            out += mode + " " + owner + " " + size + " " + name + "\n";
        }
        ::pclose(p);
    }
    ::unlink(path);
    return out;
}

}  // namespace

TEST_CASE("files_owner_tar: parents first and each once, the user's ids and each file's mode") {
    std::vector<FileEntry> files = {{".codex/config.toml", "approval_policy = \"never\"\n", 0644},
                                    {".codex/auth.json", "{}\n", 0600},
                                    {".claude.json", "{}", 0600},
                                    {"a/b/c/d.txt", "", 0640}};
    auto tar = files_owner_tar(files, 1234, 5678, 1700000000);
    REQUIRE(tar.ok());
    CHECK(tar_listing(*tar) ==
          "drwxr-xr-x 1234/5678 0 .codex/\n"
          "drwxr-xr-x 1234/5678 0 a/\n"
          "drwxr-xr-x 1234/5678 0 a/b/\n"
          "drwxr-xr-x 1234/5678 0 a/b/c/\n"
          "-rw-r--r-- 1234/5678 26 .codex/config.toml\n"
          "-rw------- 1234/5678 3 .codex/auth.json\n"
          "-rw------- 1234/5678 2 .claude.json\n"
          "-rw-r----- 1234/5678 0 a/b/c/d.txt\n");
}

TEST_CASE("files_owner_tar: ids beyond ustar's fields go in pax records") {
    auto tar = files_owner_tar({{"f", "x", 0644}}, 3000000000u, 4000000000u, 1);
    REQUIRE(tar.ok());
    CHECK(tar_listing(*tar) == "-rw-r--r-- 3000000000/4000000000 1 f\n");
}

TEST_CASE("files_owner_tar: a path that could leave the directory is refused") {
    for (const char* bad : {"/etc/passwd", "../x", "a/../../x", "a//b", "", "a/./b"}) {
        CAPTURE(bad);
        auto tar = files_owner_tar({{bad, "x", 0644}}, 1, 1, 1);
        CHECK_FALSE(tar.ok());
    }
}
