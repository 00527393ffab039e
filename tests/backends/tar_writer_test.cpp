#include "backends/docker/tar_writer.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

using namespace airlock::docker;
namespace fs = std::filesystem;

namespace {

std::string build(const std::function<void(TarWriter&)>& fill) {
    std::string out;
    TarWriter tar([&out](std::string_view b) { out.append(b); });
    fill(tar);
    tar.finish();
    return out;
}

unsigned octal(const std::string& block, std::size_t at, std::size_t width) {
    return static_cast<unsigned>(std::stoul(block.substr(at, width), nullptr, 8));
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Dir {
    fs::path path;
    Dir() {
        std::string pattern = (fs::temp_directory_path() / "airlock-tar-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~Dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("a file entry: ustar header fields, checksum, padding, end blocks") {
    std::string tar = build([](TarWriter& t) { REQUIRE(t.add_file("Dockerfile", "FROM x\n", 0644).ok()); });
    REQUIRE(tar.size() == 512 + 512 + 1024);
    std::string h = tar.substr(0, 512);
    CHECK(h.substr(0, 10) == "Dockerfile");
    CHECK(octal(h, 100, 7) == 0644);
    CHECK(octal(h, 124, 11) == 7);
    CHECK(h[156] == '0');
    CHECK(h.substr(257, 6) == std::string("ustar\0", 6));
    unsigned sum = 0;
    for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    CHECK(octal(h, 148, 6) == sum);
    CHECK(tar.substr(512, 7) == "FROM x\n");
    CHECK(tar.substr(519) == std::string(512 - 7 + 1024, '\0'));
}

TEST_CASE("split_ustar_name uses the prefix field for long paths") {
    std::string prefix, rest;
    CHECK(split_ustar_name("short", prefix, rest));
    CHECK(prefix.empty());
    std::string dir(120, 'd');
    CHECK(split_ustar_name(dir + "/file", prefix, rest));
    CHECK(prefix == dir);
    CHECK(rest == "file");
    CHECK(!split_ustar_name(std::string(300, 'x'), prefix, rest));
}

TEST_CASE("pax_record counts its own length") {
    CHECK(pax_record("path", "a") == "9 path=a\n");
    CHECK(pax_record("path", "abcd") == "13 path=abcd\n");
    auto r = pax_record("path", std::string(95, 'p'));
    CHECK(r.size() == std::stoul(r.substr(0, r.find(' '))));
}

TEST_CASE("bad names are refused") {
    std::string out;
    TarWriter t([&out](std::string_view b) { out.append(b); });
    CHECK(!t.add_file("/etc/passwd", "x").ok());
    CHECK(!t.add_file("a/../../b", "x").ok());
    CHECK(!t.add_file("", "x").ok());
    CHECK(!t.add_file("a//b", "x").ok());
    CHECK(out.empty());
}

TEST_CASE("GNU tar reads back files, modes, links and names longer than ustar allows") {
    Dir d;
    fs::create_directories(d.path / "src/sub");
    {
        std::ofstream(d.path / "src/sub/run.sh") << "#!/bin/sh\necho hi\n";
        std::ofstream(d.path / "src/data.bin") << std::string(70000, 'z');
    }
    fs::permissions(d.path / "src/sub/run.sh", fs::perms(0755));
    fs::create_symlink("sub/run.sh", d.path / "src/link");
    std::string deep = "agents/" + std::string(90, 'a') + "/" + std::string(90, 'b') + "/" + std::string(90, 'c') + "/f.txt";
    std::string long_target(150, 't');
    std::string tar = build([&](TarWriter& t) {
        REQUIRE(t.add_file("Dockerfile", "FROM scratch\n").ok());
        REQUIRE(t.add_tree("ctx", d.path / "src").ok());
        REQUIRE(t.add_file(deep, "deep\n").ok());
        REQUIRE(t.add_symlink("longlink", long_target).ok());
    });
    std::ofstream(d.path / "out.tar", std::ios::binary) << tar;
    fs::create_directories(d.path / "x");
    std::string cmd = "tar -xf '" + (d.path / "out.tar").string() + "' -C '" + (d.path / "x").string() + "' 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(slurp(d.path / "x/Dockerfile") == "FROM scratch\n");
    CHECK(slurp(d.path / "x/ctx/sub/run.sh") == "#!/bin/sh\necho hi\n");
    CHECK((fs::status(d.path / "x/ctx/sub/run.sh").permissions() & fs::perms::owner_exec) != fs::perms::none);
    CHECK((fs::status(d.path / "x/ctx/data.bin").permissions() & fs::perms::owner_exec) == fs::perms::none);
    CHECK(slurp(d.path / "x/ctx/data.bin") == std::string(70000, 'z'));
    CHECK(fs::read_symlink(d.path / "x/ctx/link") == "sub/run.sh");
    CHECK(slurp(d.path / "x" / deep) == "deep\n");
    CHECK(fs::read_symlink(d.path / "x/longlink") == long_target);
}

TEST_CASE("the same tree gives the same bytes") {
    Dir d;
    fs::create_directories(d.path / "t");
    for (const char* n : {"b", "a", "c"}) std::ofstream(d.path / "t" / n) << n;
    auto once = [&] { return build([&](TarWriter& t) { REQUIRE(t.add_tree("t", d.path / "t").ok()); }); };
    CHECK(once() == once());
}
