#pragma once
// The real git CLI for tests: `git -C dir args` with a fixed identity and no user or system
// config, output (stdout and stderr) captured.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace airlock::testing {

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

struct GitRun {
    int status;
    std::string out;
};

inline GitRun run_git(const std::filesystem::path& dir, const std::string& args) {
    std::string cmd = "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
                      "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com "
                      "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com git -C " +
                      shell_quote(dir.string()) + " " + args + " 2>&1";
    GitRun r{0, {}};
    std::FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

inline std::string run_git_ok(const std::filesystem::path& dir, const std::string& args) {
    auto r = run_git(dir, args);
    INFO("git " << args << ": " << r.out);
    REQUIRE(r.status == 0);
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r.out;
}

inline void write_text_file(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

inline std::string read_text_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace airlock::testing
