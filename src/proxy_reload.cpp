#include "proxy_reload.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "proxy_process.hpp"

namespace airlock {

namespace {

std::optional<unsigned long long> reload_count(const Paths& paths) {
    auto status = query_status(paths.control_socket());
    if (!status) return std::nullopt;
    static const std::regex line(R"((^|\n)reloads: (\d+))");
    std::smatch m;
    if (!std::regex_search(*status, m, line)) return std::nullopt;
    return std::stoull(m[2].str());
}

std::uintmax_t file_size_or_zero(const std::filesystem::path& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_size) : 0;
}

std::string read_from(const std::filesystem::path& file, std::uintmax_t offset) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return {};
    if (file_size_or_zero(file) < offset) offset = 0;  // rotated meanwhile
    in.seekg(static_cast<std::streamoff>(offset));
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

std::string reload_failure_in_log(std::string_view text) {
    static constexpr std::string_view marker = "reload failed: ";
    auto at = text.rfind(marker);
    if (at == std::string_view::npos) return {};
    auto rest = text.substr(at + marker.size());
    return std::string(rest.substr(0, rest.find('\n')));
}

Result<ReloadOutcome> reload_running_proxy(const Paths& paths, std::chrono::milliseconds timeout) {
    auto pid = running_proxy(paths);
    if (!pid) return ReloadOutcome::not_running;
    auto before = reload_count(paths);
    const auto log_offset = file_size_or_zero(paths.proxy_log());
    if (::kill(*pid, SIGHUP) != 0) {
        return make_error(fmt::format("cannot signal the proxy (pid {}): {}", *pid, std::strerror(errno)));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (auto why = reload_failure_in_log(read_from(paths.proxy_log(), log_offset)); !why.empty()) {
            return make_error(fmt::format("the proxy (pid {}) did not reload and keeps its previous rules: {}", *pid, why));
        }
        auto now = reload_count(paths);
        if (before && now && *now > *before) return ReloadOutcome::reloaded;
    }
    return make_error(fmt::format("the proxy (pid {}) did not confirm the reload within {} s; see {}", *pid,
                                  std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                                  paths.proxy_log().string()));
}

}  // namespace airlock
