#include "session/home_id.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "session/container.hpp"
#include "session/names.hpp"

namespace airlock::session {

namespace fs = std::filesystem;

Result<std::string> load_or_create_home_id(const fs::path& home) {
    const auto file = home / "home-id";
    auto read = [&]() -> Result<std::string> {
        std::ifstream in(file, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        if (auto st = validate_home_id(text); !st)
            return make_error(fmt::format("{} holds '{}', not a home id (10 characters of a-z and 0-9); restore it "
                                          "(sessions are found by it on the engine)",
                                          file.string(), text.substr(0, 40)));
        return text;
    };
    std::error_code ec;
    if (fs::exists(file, ec)) return read();
    fs::create_directories(home, ec);
    // Written to a temporary file, then linked into place: link() fails when another
    // process got there first, and then its id is the one.
    auto tmp = home / fmt::format(".home-id.{}.{}.tmp", ::getpid(), random_suffix(8));  // unique per caller
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << random_suffix(10) << '\n';
        if (!out) return make_error(fmt::format("cannot write {}", tmp.string()));
    }
    int rc = ::link(tmp.c_str(), file.c_str());
    int err = errno;
    fs::remove(tmp, ec);
    if (rc != 0 && err != EEXIST)
        return make_error(fmt::format("cannot create {}: {}", file.string(), std::strerror(err)));
    return read();
}

}  // namespace airlock::session
