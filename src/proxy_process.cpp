#include "proxy_process.hpp"

#include "background_process.hpp"
#include "file_lock.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

namespace airlock {
namespace {

std::string last_line_of(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

std::string format_duration(long long seconds) {
    if (seconds < 60) return fmt::format("{}s", seconds);
    if (seconds < 3600) return fmt::format("{}m{}s", seconds / 60, seconds % 60);
    return fmt::format("{}h{}m", seconds / 3600, (seconds % 3600) / 60);
}

}  // namespace

Status write_pid_file(const std::filesystem::path& file) {
    auto tmp = file;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return make_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
    auto text = fmt::format("{}\n", ::getpid());
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0)
        return make_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
    return {};
}

void remove_pid_file(const std::filesystem::path& file) {
    std::error_code ec;
    // Only our own: a newer proxy may have replaced it.
    std::ifstream in(file);
    pid_t pid = 0;
    if (in >> pid && pid == ::getpid()) std::filesystem::remove(file, ec);
}

namespace {

// The pid in `file` if that process is alive and its command line holds `role`
// (guards against a reused pid, and a zombie's empty command line).
std::optional<pid_t> live_pid(const std::filesystem::path& file, std::string_view role) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0 || !alive(pid)) return std::nullopt;
    std::ifstream cmd(fmt::format("/proc/{}/cmdline", pid));
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find(role) == std::string::npos) return std::nullopt;
    return pid;
}

void reap_if_child(pid_t pid) {
    int status;
    ::waitpid(pid, &status, WNOHANG);
}

}  // namespace

std::optional<pid_t> running_proxy(const Paths& paths) {
    return live_pid(paths.proxy_pid(), std::string_view("proxy\0run", 9));
}

std::optional<pid_t> running_supervisor(const Paths& paths) {
    return live_pid(paths.proxy_supervisor_pid(), std::string_view("proxy\0supervise", 15));
}

std::string proxy_down_note(const Paths& paths) {
    if (running_proxy(paths)) return {};
    if (auto sup = running_supervisor(paths))
        return fmt::format("proxy: DOWN, its supervisor (pid {}) is restarting it; sessions have no API access "
                           "until it is back (see {})",
                           *sup, paths.proxy_log().string());
    return "proxy: DOWN (not running); sessions have no API access; start it with 'airlock proxy start'";
}

namespace {

Result<std::string> spawn_supervisor(const Paths& paths, std::uint16_t port) {
    std::vector<std::string> args = {"airlock", "--home", paths.home.string(), "proxy", "supervise"};
    if (port) {
        args.push_back("--port");
        args.push_back(std::to_string(port));
    }
    auto started = start_background(std::move(args), paths.proxy_log(), std::chrono::seconds(20));
    if (!started) return started.error();
    const pid_t child = started->pid;
    const std::string& got = started->ready_line;
    if (got.rfind("ready", 0) == 0) {
        auto addresses = got.size() > 6 ? got.substr(6) : std::string();
        auto server = running_proxy(paths);
        return fmt::format("proxy started (pid {}, supervisor pid {}), listening on {}; log: {}",
                           server ? *server : 0, child, addresses, paths.proxy_log().string());
    }
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == 0) {
        ::kill(child, SIGTERM);  // it passes it on to a server that may still be starting
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (::waitpid(child, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        return make_error(fmt::format("the proxy did not start listening within 20 s; see {}",
                                      paths.proxy_log().string()));
    }
    auto last = last_line_of(paths.proxy_log());
    return make_error(fmt::format("the proxy failed to start: {}", last.empty() ? "no output" : last));
}

}  // namespace

Result<std::string> start_proxy(const Paths& paths, std::uint16_t port) {
    auto lock = FileLock::acquire(paths.proxy_lock());
    if (!lock) return lock.error();
    if (auto pid = running_proxy(paths)) return fmt::format("proxy already running (pid {})", *pid);
    if (auto sup = running_supervisor(paths)) {
        // A supervisor between two tries: ask for the restart now and wait for it.
        ::kill(*sup, SIGUSR1);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline && running_supervisor(paths) && !running_proxy(paths))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (auto pid = running_proxy(paths))
            return fmt::format("proxy started (pid {}) by its supervisor (pid {}); log: {}", *pid, *sup,
                               paths.proxy_log().string());
        if (running_supervisor(paths))
            return make_error(fmt::format("the proxy's supervisor (pid {}) did not bring it back within 20 s; see {}",
                                          *sup, paths.proxy_log().string()));
        // It gave up meanwhile: start afresh.
    }
    return spawn_supervisor(paths, port);
}

Result<std::string> stop_proxy(const Paths& paths, std::chrono::seconds grace) {
    auto lock = FileLock::acquire(paths.proxy_lock());
    if (!lock) return lock.error();
    auto sup = running_supervisor(paths);
    auto pid = running_proxy(paths);
    if (!sup && !pid) return std::string("proxy not running");
    // The supervisor passes SIGTERM on and does not restart a server it stops.
    pid_t target = sup ? *sup : *pid;
    if (::kill(target, SIGTERM) != 0)
        return make_error(fmt::format("cannot signal the proxy (pid {}): {}", target, std::strerror(errno)));
    auto running = [&] {
        if (sup) reap_if_child(*sup);
        if (pid) reap_if_child(*pid);
        return (sup && running_supervisor(paths) == sup) || (pid && running_proxy(paths) == pid);
    };
    auto deadline = std::chrono::steady_clock::now() + grace + std::chrono::seconds(5);
    while (running() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string what = pid ? fmt::format("pid {}", *pid) : fmt::format("supervisor pid {}", *sup);
    if (running()) {
        if (sup) ::kill(*sup, SIGKILL);  // first, so it cannot start another
        if (pid) ::kill(*pid, SIGKILL);
        std::error_code ec;
        std::filesystem::remove(paths.proxy_pid(), ec);
        std::filesystem::remove(paths.proxy_supervisor_pid(), ec);
        return fmt::format("proxy ({}) did not stop in time and was killed", what);
    }
    return fmt::format("proxy stopped ({})", what);
}

Result<std::string> query_status_json(const std::filesystem::path& control_socket) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(fmt::format("socket: {}", std::strerror(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    auto path = control_socket.string();
    if (path.size() >= sizeof addr.sun_path) {
        ::close(fd);
        return make_error(fmt::format("control socket path too long: {}", path));
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return make_error(fmt::format("cannot reach the proxy at {}: {}", path, std::strerror(errno)));
    }
    std::string text;
    char buf[1024];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) <= 0) break;
        auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

Result<std::string> query_status(const std::filesystem::path& control_socket) {
    auto text = query_status_json(control_socket);
    if (!text) return text.error();
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    if (ec || !v.is_object()) return make_error("the proxy's control socket sent no status");
    const auto& o = v.as_object();
    std::string addresses;
    for (const auto& a : o.at("addresses").as_array()) {
        if (!addresses.empty()) addresses += ", ";
        addresses += std::string(a.as_string());
    }
    auto number = [&](const char* key) -> std::uint64_t {
        auto* field = o.if_contains(key);
        return field ? field->to_number<std::uint64_t>() : 0;
    };
    return fmt::format("addresses: {}\nuptime: {}\nopen connections: {}\ntotal connections: {}\nrequests: {}\nreloads: {}\n"
                       "upstream TLS handshakes: {} ({} resumed)\n",
                       addresses, format_duration(o.at("uptime_seconds").to_number<long long>()),
                       number("open_connections"), number("total_connections"), number("requests"), number("reloads"),
                       number("upstream_handshakes"), number("upstream_resumed"));
}

}  // namespace airlock
