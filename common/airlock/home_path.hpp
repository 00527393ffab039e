#pragma once
// The one rule for a path written in the configuration (a secret file, [proxy] upstream_ca):
// "~" and "~/x" are the user's home ($HOME), other relative paths are relative to the
// airlock data directory, absolute paths stay as they are. Pure: the caller passes $HOME.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "airlock/result.hpp"

namespace airlock {

// `what` names the setting in the error, which comes only when the path starts with "~"
// and `user_home` is unset or empty. "~user/x" is not expanded (it is relative to home).
inline Result<std::filesystem::path> configured_path(std::string_view configured,
                                                     const std::filesystem::path& home,
                                                     const std::optional<std::string>& user_home,
                                                     std::string_view what) {
    if (configured == "~" || configured.starts_with("~/")) {
        if (!user_home || user_home->empty())
            return make_error(fmt::format("{} is \"{}\" but $HOME is not set to expand \"~\"; give an absolute path",
                                          what, configured));
        if (configured == "~") return std::filesystem::path(*user_home).lexically_normal();
        return (std::filesystem::path(*user_home) / std::string(configured.substr(2))).lexically_normal();
    }
    std::filesystem::path p{std::string(configured)};
    if (p.is_absolute()) return p.lexically_normal();
    return (home / p).lexically_normal();
}

}  // namespace airlock
