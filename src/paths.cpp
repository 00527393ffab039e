#include "paths.hpp"

#include <sys/un.h>

#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "airlock/home_path.hpp"

namespace airlock {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> non_empty(std::optional<std::string> value) {
    if (value && value->empty()) return std::nullopt;
    return value;
}

// "~" and "~/x" become $HOME and $HOME/x; anything else is returned unchanged.
Result<std::string> expand_tilde(const std::string& path, const EnvLookup& env, std::string_view what) {
    if (path != "~" && !path.starts_with("~/")) return path;
    auto home = non_empty(env("HOME"));
    if (!home) return make_error(fmt::format("{} is \"{}\" but $HOME is not set to expand \"~\"; give an absolute path", what, path));
    return *home + path.substr(1);
}

Result<fs::path> make_absolute(const std::string& path, std::string_view what) {
    std::error_code ec;
    fs::path abs = fs::absolute(fs::path(path), ec);
    if (ec) return make_error(fmt::format("cannot make {} \"{}\" absolute: {}", what, path, ec.message()));
    abs = abs.lexically_normal();
    // "/a/b/" normalises to "/a/b/" (an empty last element); drop it so home / "x" reads well.
    if (!abs.has_filename() && abs.has_parent_path() && abs != abs.root_path()) abs = abs.parent_path();
    return abs;
}

}  // namespace

std::optional<std::string> process_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

Result<fs::path> Paths::in_home(const std::string& configured, std::string_view what) const {
    return configured_path(configured, home, process_env("HOME"), what);
}

std::vector<fs::path> relay_candidates(const fs::path& exe) {
    const fs::path dir = exe.parent_path();
    return {dir / "airlock-relay", (dir / ".." / "libexec" / "airlock" / "airlock-relay").lexically_normal(),
            (dir / ".." / "relay" / "airlock-relay").lexically_normal()};
}

std::string find_relay_binary() {
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "";
    for (const auto& candidate : relay_candidates(exe))
        if (fs::is_regular_file(candidate, ec)) return candidate.string();
    return "";
}

Status ensure_run_dir(const Paths& paths) {
    std::error_code ec;
    fs::create_directories(paths.run_dir(), ec);
    if (!ec) fs::permissions(paths.run_dir(), fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return make_error(fmt::format("cannot create {}: {}", paths.run_dir().string(), ec.message()));
    return {};
}

Status check_socket_path(const fs::path& socket) {
    const auto size = socket.string().size();
    if (size >= sizeof(sockaddr_un{}.sun_path))
        return make_error(fmt::format("the proxy's socket path {} is {} bytes, longer than a Unix socket allows ({}); "
                                      "set AIRLOCK_HOME (or --home) to a shorter directory",
                                      socket.string(), size, sizeof(sockaddr_un{}.sun_path) - 1));
    return {};
}

Result<Paths> resolve_paths(std::optional<std::string> home_flag, const EnvLookup& env) {
    std::string chosen;
    std::string what;
    if (home_flag) {
        if (home_flag->empty()) return make_error("--home is empty; give the airlock data directory, e.g. --home ~/.airlock");
        chosen = *home_flag;
        what = "--home";
    } else if (auto from_env = non_empty(env("AIRLOCK_HOME"))) {
        chosen = *from_env;
        what = "$AIRLOCK_HOME";
    } else if (auto user_home = non_empty(env("HOME"))) {
        chosen = (fs::path(*user_home) / ".airlock").string();
        what = "$HOME/.airlock";
    } else {
        return make_error("cannot find the airlock data directory: neither $AIRLOCK_HOME nor $HOME is set; "
                          "set one of them or pass --home <dir>");
    }
    auto expanded = expand_tilde(chosen, env, what);
    if (!expanded) return expanded.error();
    auto abs = make_absolute(*expanded, what);
    if (!abs) return abs.error();
    return Paths{std::move(*abs)};
}

}  // namespace airlock
