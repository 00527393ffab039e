#include "proxy/secrets.hpp"

#include "airlock/home_path.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "airlock/text.hpp"

extern char** environ;

namespace airlock::proxy {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxSecretBytes = 1 << 20;  // nobody's API key is a megabyte
constexpr std::size_t kMaxStderrBytes = 4096;     // enough for its first line

void wipe(std::string& s) {
    if (!s.empty()) explicit_bzero(s.data(), s.size());
    s.clear();
}

// 10000 ms -> "10 s", 200 ms -> "0.2 s".
std::string seconds(std::chrono::milliseconds ms) {
    return fmt::format("{:g} s", static_cast<double>(ms.count()) / 1000.0);
}

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        reset(o.release());
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// Trims trailing newlines and checks what is left can go into an HTTP header.
Result<std::string> finish(std::string value, const CredentialRule& rule,
                           std::string_view source) {
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
        return make_error(fmt::format("the secret of credential '{}' from {} is empty; put the "
                                      "secret there (one line)",
                                      rule.name, source));
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        wipe(value);
        return make_error(fmt::format(
            "the secret of credential '{}' from {} has a line break or NUL inside; a secret "
            "must be one line",
            rule.name, source));
    }
    return value;
}

Result<std::filesystem::path> secret_path(const CredentialRule& rule,
                                          const std::filesystem::path& home) {
    const std::string& v = rule.secret.value;
    if (v.empty()) {
        return make_error(fmt::format(
            "credential '{}' has an empty secret file name; set secret = {{ file = \"...\" }}",
            rule.name));
    }
    const char* h = std::getenv("HOME");
    return configured_path(v, home, h ? std::optional<std::string>(h) : std::nullopt,
                           fmt::format("the secret file of credential '{}'", rule.name));
}

Result<std::string> load_file(const CredentialRule& rule, const std::filesystem::path& home) {
    auto path = secret_path(rule, home);
    if (!path) return path.error();
    const std::string f = escape_controls(path->string());
    // O_NONBLOCK: a FIFO must not hang the load; it is refused below as not a regular file.
    Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        int e = errno;
        if (e == ENOENT) {
            return make_error(fmt::format(
                "secret file {} for credential '{}' does not exist; write the secret into it "
                "and run chmod 600 {}",
                f, rule.name, f));
        }
        return make_error(fmt::format("cannot read secret file {} for credential '{}': {}", f,
                                      rule.name, std::strerror(e)));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return make_error(fmt::format("cannot read secret file {} for credential '{}': {}", f,
                                      rule.name, std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode)) {
        return make_error(fmt::format(
            "secret file {} for credential '{}' is not a regular file", f, rule.name));
    }
    if ((st.st_mode & 077) != 0) {
        return make_error(fmt::format(
            "secret file {} for credential '{}' is readable by group or others; run chmod 600 {}",
            f, rule.name, f));
    }
    std::string value;
    std::array<char, 4096> buf{};
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            wipe(value);
            return make_error(fmt::format("cannot read secret file {} for credential '{}': {}",
                                          f, rule.name, std::strerror(e)));
        }
        if (n == 0) break;
        value.append(buf.data(), static_cast<std::size_t>(n));
        if (value.size() > kMaxSecretBytes) {
            wipe(value);
            explicit_bzero(buf.data(), buf.size());
            return make_error(fmt::format(
                "secret file {} for credential '{}' is larger than 1 MiB; is it the right file?",
                f, rule.name));
        }
    }
    explicit_bzero(buf.data(), buf.size());
    return finish(std::move(value), rule, fmt::format("file {}", f));
}

Result<std::string> load_env(const CredentialRule& rule) {
    const std::string& var = rule.secret.value;
    if (var.empty()) {
        return make_error(fmt::format(
            "credential '{}' has an empty secret variable name; set secret = {{ env = \"VAR\" }}",
            rule.name));
    }
    const char* v = std::getenv(var.c_str());
    if (!v) {
        return make_error(fmt::format(
            "environment variable {} for credential '{}' is not set; export it where the proxy "
            "starts, or use another secret source",
            escape_controls(var), rule.name));
    }
    if (!*v) {
        return make_error(fmt::format(
            "environment variable {} for credential '{}' is empty; export the secret in it",
            escape_controls(var), rule.name));
    }
    return finish(v, rule, fmt::format("environment variable {}", escape_controls(var)));
}

// A pipe whose ends are close-on-exec and never fds 0-2 (so dup2 onto 1 and 2 in the
// child cannot clash with them, even when this process runs with those closed).
Status make_pipe(Fd& read_end, Fd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return make_error(fmt::format("could not create a pipe: {}", std::strerror(errno)));
    }
    for (int i = 0; i < 2; ++i) {
        if (fds[i] <= 2) {
            int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            ::close(fds[i]);
            fds[i] = moved;
        }
    }
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    if (!read_end || !write_end) {
        return make_error(fmt::format("could not create a pipe: {}", std::strerror(errno)));
    }
    return {};
}

// Waits for pid, retrying on EINTR. Returns false when it cannot be waited for (ECHILD:
// e.g. SIGCHLD is ignored and the kernel reaped it).
bool reap(pid_t pid, int* status) {
    for (;;) {
        if (::waitpid(pid, status, 0) == pid) return true;
        if (errno != EINTR) return false;
    }
}

void kill_and_reap(pid_t pid) {
    ::kill(-pid, SIGKILL);  // its process group: the command and anything it started
    ::kill(pid, SIGKILL);
    int status = 0;
    reap(pid, &status);
}

struct SpawnResources {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnResources() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnResources() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnResources(const SpawnResources&) = delete;
    SpawnResources& operator=(const SpawnResources&) = delete;
};

std::string first_line(std::string_view text) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
        line.remove_suffix(1);
    }
    if (line.size() > 300) line = line.substr(0, 300);
    return escape_controls(line);
}

Result<std::string> load_command(const CredentialRule& rule, std::chrono::milliseconds timeout,
                                 const std::set<std::string>& withheld) {
    const auto& argv_in = rule.secret.command;
    if (argv_in.empty() || argv_in.front().empty()) {
        return make_error(fmt::format(
            "credential '{}' has an empty secret command; set secret = {{ command = [\"op\", "
            "\"read\", \"op://vault/item/field\"] }}",
            rule.name));
    }
    // Only the program is named in messages: its arguments are the user's and might hold
    // anything.
    const std::string program = escape_controls(argv_in.front());
    std::vector<char*> argv;
    for (const auto& a : argv_in) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    Fd out_r, out_w, err_r, err_w;
    if (auto st = make_pipe(out_r, out_w); !st) return st.error();
    if (auto st = make_pipe(err_r, err_w); !st) return st.error();

    SpawnResources sr;
    posix_spawn_file_actions_addopen(&sr.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&sr.actions, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&sr.actions, err_w.get(), 2);
    // Its own process group, so a timeout kills whatever it started too; default signal
    // dispositions and an empty mask whatever this process does with them.
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGUSR1, SIGUSR2}) {
        sigaddset(&defaults, sig);
    }
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&sr.attr, &defaults);
    posix_spawnattr_setsigmask(&sr.attr, &empty);
    posix_spawnattr_setpgroup(&sr.attr, 0);
    posix_spawnattr_setflags(&sr.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                           POSIX_SPAWN_SETSIGMASK);

    const auto deadline = Clock::now() + timeout;
    pid_t pid = -1;
    auto env_strings = secret_command_environment(environ, withheld);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    // posix_spawnp looks argv[0] up in this process's PATH, which the child's PATH equals.
    int rc = ::posix_spawnp(&pid, argv[0], &sr.actions, &sr.attr, argv.data(), envp.data());
    if (rc != 0) {
        return make_error(fmt::format(
            "could not run '{}' for the secret of credential '{}': {}; install it or fix "
            "secret.command in config.toml",
            program, rule.name, std::strerror(rc)));
    }
    out_w.reset();
    err_w.reset();

    std::string out, err;
    bool out_too_large = false;
    std::array<char, 4096> buf{};
    bool timed_out = false;
    while (out_r || err_r) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        std::array<pollfd, 2> pfds{};
        nfds_t n = 0;
        Fd* owners[2] = {nullptr, nullptr};
        for (Fd* f : {&out_r, &err_r}) {
            if (*f) {
                pfds[n] = pollfd{f->get(), POLLIN, 0};
                owners[n++] = f;
            }
        }
        int pr = ::poll(pfds.data(), n, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) {
            int e = errno;
            kill_and_reap(pid);
            wipe(out);
            return make_error(fmt::format("could not read the output of '{}' for credential "
                                          "'{}': {}",
                                          program, rule.name, std::strerror(e)));
        }
        for (nfds_t i = 0; i < n; ++i) {
            if (pfds[i].revents == 0) continue;
            ssize_t got = ::read(pfds[i].fd, buf.data(), buf.size());
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) {
                owners[i]->reset();
                continue;
            }
            auto chunk = std::string_view(buf.data(), static_cast<std::size_t>(got));
            if (owners[i] == &out_r) {
                if (out.size() + chunk.size() > kMaxSecretBytes) {
                    out_too_large = true;  // keep draining so the command is not blocked
                } else {
                    out.append(chunk);
                }
            } else if (err.size() < kMaxStderrBytes) {
                err.append(chunk.substr(0, kMaxStderrBytes - err.size()));
            }
        }
    }
    explicit_bzero(buf.data(), buf.size());

    // Both pipes closed: the command is (nearly always) done; wait for it, within the
    // deadline still.
    int status = 0;
    bool reaped = false;
    while (!timed_out) {
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            reaped = true;
            break;
        }
        if (w < 0 && errno != EINTR) break;  // ECHILD: reaped elsewhere; status unknown
        if (Clock::now() >= deadline) {
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (timed_out) {
        kill_and_reap(pid);
        wipe(out);
        return make_error(fmt::format(
            "the secret command '{}' for credential '{}' timed out after {}; check that it "
            "runs without prompting (e.g. sign in to your password manager first)",
            program, rule.name, seconds(timeout)));
    }
    if (reaped && WIFSIGNALED(status)) {
        wipe(out);
        return make_error(fmt::format(
            "the secret command '{}' for credential '{}' was killed by signal {}{}{}", program,
            rule.name, WTERMSIG(status), err.empty() ? "" : ": ", first_line(err)));
    }
    if (reaped && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        wipe(out);
        auto line = first_line(err);
        return make_error(fmt::format(
            "the secret command '{}' for credential '{}' exited with status {}: {}", program,
            rule.name, WEXITSTATUS(status), line.empty() ? "(no error output)" : line));
    }
    if (out_too_large) {
        wipe(out);
        return make_error(fmt::format(
            "the secret command '{}' for credential '{}' printed more than 1 MiB; it should "
            "print only the secret",
            program, rule.name));
    }
    return finish(std::move(out), rule, fmt::format("command '{}'", program));
}

}  // namespace

std::vector<std::string> secret_command_environment(const char* const* env,
                                                    const std::set<std::string>& withheld) {
    static const std::set<std::string, std::less<>> names = {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
        "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
        "DBUS_SESSION_BUS_ADDRESS", "SSH_AUTH_SOCK", "GNUPGHOME", "GPG_TTY", "DISPLAY",
        "WAYLAND_DISPLAY"};
    static constexpr std::string_view prefixes[] = {"LC_", "OP_", "BW_", "VAULT_", "PASSWORD_STORE_", "AWS_"};
    std::vector<std::string> out;
    for (; env && *env; ++env) {
        std::string_view entry(*env);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        auto name = entry.substr(0, eq);
        if (withheld.count(std::string(name))) continue;
        bool keep = names.count(name) != 0;
        for (auto p : prefixes) keep = keep || name.starts_with(p);
        if (keep) out.emplace_back(entry);
    }
    return out;
}

Result<std::string> load_secret(const CredentialRule& rule, const std::filesystem::path& home,
                                std::chrono::milliseconds timeout, const std::set<std::string>& withheld) {
    switch (rule.secret.kind) {
        case SecretSource::Kind::file: return load_file(rule, home);
        case SecretSource::Kind::env: return load_env(rule);
        case SecretSource::Kind::command: return load_command(rule, timeout, withheld);
        case SecretSource::Kind::none: break;
    }
    return make_error(fmt::format(
        "credential '{}' has no secret; set secret = {{ file = \"secrets/{}\" }}, "
        "{{ env = \"VAR\" }} or {{ command = [...] }}",
        rule.name, rule.name));
}

std::vector<std::string> SecretSet::values() const {
    std::set<std::string> distinct;
    for (const auto& [name, value] : by_rule) distinct.insert(value);
    std::vector<std::string> out(distinct.begin(), distinct.end());
    std::stable_sort(out.begin(), out.end(),
                     [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return out;
}

Result<SecretSet> load_secrets(const std::vector<CredentialRule>& rules,
                               const std::filesystem::path& home,
                               std::chrono::milliseconds timeout) {
    std::set<std::string> env_secret_names;
    for (const auto& rule : rules)
        if (rule.secret.kind == SecretSource::Kind::env) env_secret_names.insert(rule.secret.value);
    SecretSet set;
    for (const auto& rule : rules) {
        if (set.by_rule.count(rule.name) != 0) {
            return make_error(fmt::format(
                "credential '{}' is defined twice; give each [[credential]] its own name",
                rule.name));
        }
        if (!rule.login.empty()) continue;  // a login's tokens come from the login broker
        auto value = load_secret(rule, home, timeout, env_secret_names);
        if (!value) return value.error();
        set.by_rule.emplace(rule.name, std::move(*value));
    }
    return set;
}

}  // namespace airlock::proxy
