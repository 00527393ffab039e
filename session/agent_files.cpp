#include "session/agent_files.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace airlock::session {

Status validate_home_file_path(std::string_view path) {
    if (path.empty()) return make_error("the path is empty; give a path inside the home such as \".codex/config.toml\"");
    if (path.size() > 240) return make_error("the path is longer than 240 bytes");
    if (path.front() == '/')
        return make_error(fmt::format("'{}' is absolute; give it relative to the home (/home/agent), e.g. "
                                      "\".codex/config.toml\"",
                                      path));
    for (char c : path)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return make_error("the path contains a control character");
    std::size_t start = 0;
    while (true) {
        auto slash = path.find('/', start);
        auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (part.empty()) return make_error(fmt::format("'{}' has an empty part ('//' or a trailing '/')", path));
        if (part == "." || part == "..")
            return make_error(fmt::format("'{}' has a '{}' part; give a plain path inside the home", path, part));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return {};
}

bool is_reserved_agent_env(std::string_view name) {
    static constexpr std::string_view reserved[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                                                    "NO_PROXY",   "no_proxy",    "HOME",       "AIRLOCK_SESSION"};
    return std::find(std::begin(reserved), std::end(reserved), name) != std::end(reserved);
}

std::vector<AgentFile> files_to_write(const std::vector<AgentFile>& files, const std::set<std::string>& existing) {
    std::vector<AgentFile> out;
    for (const auto& f : files)
        if (f.overwrite || !existing.contains(f.path)) out.push_back(f);
    return out;
}

void set_env(std::vector<std::string>& env, std::string_view entry) {
    auto eq = entry.find('=');
    auto name = entry.substr(0, eq);
    std::erase_if(env, [&](const std::string& e) { return std::string_view(e).substr(0, e.find('=')) == name; });
    env.emplace_back(entry);
}

}  // namespace airlock::session
