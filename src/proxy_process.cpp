#include "proxy_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
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

std::optional<pid_t> running_proxy(const Paths& paths) {
    std::ifstream in(paths.proxy_pid());
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0 || !alive(pid)) return std::nullopt;
    // Guard against pid reuse: the process must be an airlock.
    std::ifstream cmd(fmt::format("/proc/{}/cmdline", pid));
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find("proxy") == std::string::npos) return std::nullopt;
    return pid;
}

Result<std::string> start_proxy(const Paths& paths, std::uint16_t port) {
    if (auto pid = running_proxy(paths)) return fmt::format("proxy already running (pid {})", *pid);
    std::error_code ec;
    std::filesystem::create_directories(paths.home, ec);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(fmt::format("pipe: {}", std::strerror(errno)));
    int log = ::open(paths.proxy_log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return make_error(fmt::format("cannot open {}: {}", paths.proxy_log().string(), std::strerror(errno)));
    }
    std::vector<std::string> args = {"airlock", "--home", paths.home.string(), "proxy", "run",
                                     "--ready-fd", std::to_string(fds[1])};
    if (port) {
        args.push_back("--port");
        args.push_back(std::to_string(port));
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t child = ::fork();
    if (child < 0) return make_error(fmt::format("fork: {}", std::strerror(errno)));
    if (child == 0) {
        ::setsid();
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::fcntl(fds[1], F_SETFD, 0);  // the ready descriptor survives exec
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    ::close(log);

    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[512];
        auto n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;  // the child exited without saying ready
        got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    if (got.rfind("ready", 0) == 0) {
        auto addresses = got.substr(6, got.find('\n') - 6);
        return fmt::format("proxy started (pid {}), listening on {}; log: {}", child, addresses,
                           paths.proxy_log().string());
    }
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        return make_error(fmt::format("the proxy did not start listening within 20 s; see {}",
                                      paths.proxy_log().string()));
    }
    auto last = last_line_of(paths.proxy_log());
    return make_error(fmt::format("the proxy failed to start: {}", last.empty() ? "no output" : last));
}

Result<std::string> stop_proxy(const Paths& paths, std::chrono::seconds grace) {
    auto pid = running_proxy(paths);
    if (!pid) return std::string("proxy not running");
    if (::kill(*pid, SIGTERM) != 0)
        return make_error(fmt::format("cannot signal the proxy (pid {}): {}", *pid, std::strerror(errno)));
    auto deadline = std::chrono::steady_clock::now() + grace + std::chrono::seconds(5);
    while (alive(*pid) && std::chrono::steady_clock::now() < deadline) {
        int status;
        ::waitpid(*pid, &status, WNOHANG);  // in case it is our child
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (alive(*pid)) {
        ::kill(*pid, SIGKILL);
        std::error_code ec;
        std::filesystem::remove(paths.proxy_pid(), ec);
        return fmt::format("proxy (pid {}) did not stop in time and was killed", *pid);
    }
    return fmt::format("proxy stopped (pid {})", *pid);
}

Result<std::string> query_status(const std::filesystem::path& control_socket) {
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
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
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
