#include "terminal_attach.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

namespace airlock {

namespace {

// ---- State the signal handlers read (async-signal-safe access only) ----------------------

volatile sig_atomic_t g_raw_active = 0;  // 1 while g_saved must be put back on g_raw_fd
int g_raw_fd = -1;
termios g_saved{};
int g_winch_write = -1;  // write end of the SIGWINCH self-pipe

extern "C" void restore_and_die(int sig) {
    if (g_raw_active) ::tcsetattr(g_raw_fd, TCSANOW, &g_saved);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);  // blocked while this handler runs; delivered (default action) on return
}

extern "C" void note_winch(int) {
    int saved = errno;
    char c = 1;
    [[maybe_unused]] auto n = ::write(g_winch_write, &c, 1);
    errno = saved;
}

// Installs the handlers for the relay's lifetime and puts the previous ones back after.
class SignalScope {
public:
    SignalScope(bool restore_terminal, bool follow_size) {
        if (follow_size && ::pipe2(winch_pipe_, O_CLOEXEC | O_NONBLOCK) == 0) {
            g_winch_write = winch_pipe_[1];
            install(SIGWINCH, note_winch);
        }
        if (restore_terminal)
            for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) install(sig, restore_and_die);
        install(SIGPIPE, SIG_IGN);  // a closed stdout is an error to report, not a death
    }
    ~SignalScope() {
        for (int i = count_ - 1; i >= 0; --i) ::sigaction(saved_[i].sig, &saved_[i].action, nullptr);
        g_winch_write = -1;
        for (int fd : winch_pipe_)
            if (fd >= 0) ::close(fd);
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;

    int winch_fd() const { return winch_pipe_[0]; }

private:
    void install(int sig, void (*handler)(int)) {
        struct sigaction act {};
        act.sa_handler = handler;
        sigemptyset(&act.sa_mask);
        act.sa_flags = SA_RESTART;
        if (::sigaction(sig, &act, &saved_[count_].action) == 0) saved_[count_++].sig = sig;
    }

    struct Saved {
        int sig = 0;
        struct sigaction action {};
    };
    Saved saved_[8];
    int count_ = 0;
    int winch_pipe_[2] = {-1, -1};
};

// Raw mode on a terminal for this object's lifetime (cfmakeraw: no echo, no line editing,
// no signals from keys, no output processing: the container's TTY does all of that).
class RawTerminal {
public:
    explicit RawTerminal(int fd) {
        termios saved{};
        if (::tcgetattr(fd, &saved) != 0) return;
        termios raw = saved;
        ::cfmakeraw(&raw);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        g_saved = saved;
        g_raw_fd = fd;
        g_raw_active = 1;  // before the switch: a signal in between restores what is already right
        if (::tcsetattr(fd, TCSANOW, &raw) != 0) g_raw_active = 0;
    }
    ~RawTerminal() {
        if (!g_raw_active) return;
        ::tcsetattr(g_raw_fd, TCSANOW, &g_saved);
        g_raw_active = 0;
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
};

// ---- I/O helpers -------------------------------------------------------------------------

// Writes all of `data`; false (errno set) on failure.
bool write_all(int fd, const char* data, std::size_t size, bool socket) {
    while (size > 0) {
        ssize_t n = socket ? ::send(fd, data, size, MSG_NOSIGNAL) : ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking stdout: wait for room
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, -1);
                continue;
            }
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// The output of a container without a TTY: frames of an 8-byte header (byte 0: 1 stdout,
// 2 stderr; bytes 4-7: big-endian length) and the payload.
class Demux {
public:
    // False (errno set) when writing failed.
    bool feed(const char* data, std::size_t size) {
        while (size > 0) {
            if (remaining_ == 0) {
                std::size_t take = std::min(size, sizeof header_ - have_);
                std::memcpy(header_ + have_, data, take);
                have_ += take;
                data += take;
                size -= take;
                if (have_ < sizeof header_) return true;
                have_ = 0;
                out_ = header_[0] == 2 || header_[0] == 3 ? STDERR_FILENO : STDOUT_FILENO;
                remaining_ = (std::size_t{header_[4]} << 24) | (std::size_t{header_[5]} << 16) |
                             (std::size_t{header_[6]} << 8) | header_[7];
                continue;
            }
            std::size_t take = std::min(size, remaining_);
            if (!write_all(out_, data, take, false)) return false;
            remaining_ -= take;
            data += take;
            size -= take;
        }
        return true;
    }

private:
    unsigned char header_[8] = {};
    std::size_t have_ = 0;
    std::size_t remaining_ = 0;
    int out_ = STDOUT_FILENO;
};

std::optional<winsize> terminal_size(int fd) {
    winsize ws{};
    if (fd < 0 || ::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return std::nullopt;
    return ws;
}

enum class Ending { closed, detach_keys, end_of_input };

struct RelayOutcome {
    Ending ending = Ending::closed;
    std::optional<std::string> error;
};

RelayOutcome relay(Backend& backend, const std::string& id, AttachedStream& stream) {
    const bool raw = ::isatty(STDIN_FILENO) == 1;
    const int size_fd = ::isatty(STDOUT_FILENO) == 1 ? STDOUT_FILENO : raw ? STDIN_FILENO : -1;
    SignalScope signals(raw, stream.tty && size_fd >= 0);
    std::optional<RawTerminal> raw_mode;
    if (raw) raw_mode.emplace(STDIN_FILENO);

    const auto resize = [&] {
        if (auto ws = terminal_size(size_fd)) (void)backend.resize_tty(id, ws->ws_row, ws->ws_col);
    };
    if (stream.tty && size_fd >= 0) {
        // One size off first, so that a program already running at the right size still
        // gets SIGWINCH and redraws (a shell prints its prompt again), as docker attach does.
        if (auto ws = terminal_size(size_fd)) (void)backend.resize_tty(id, ws->ws_row + 1, ws->ws_col + 1);
        resize();
    }

    Demux demux;
    const auto output = [&](const char* data, std::size_t size) {
        return stream.tty ? write_all(STDOUT_FILENO, data, size, false) : demux.feed(data, size);
    };
    RelayOutcome out;
    const auto failed = [&](const char* what) {
        out.error = fmt::format("{}: {}", what, std::strerror(errno));
        return out;
    };
    if (!stream.initial.empty() && !output(stream.initial.data(), stream.initial.size()))
        return failed("cannot write to the terminal");

    char buf[32 * 1024];
    bool input_open = true;
    unsigned char last_two[2] = {0, 0};  // the last two bytes sent: ctrl-p ctrl-q = detach
    for (;;) {
        pollfd fds[3];
        nfds_t n = 0;
        fds[n++] = {stream.fd, POLLIN, 0};
        const nfds_t in_ix = input_open ? n++ : 99;
        if (input_open) fds[in_ix] = {STDIN_FILENO, POLLIN, 0};
        const nfds_t winch_ix = signals.winch_fd() >= 0 ? n++ : 99;
        if (winch_ix != 99) fds[winch_ix] = {signals.winch_fd(), POLLIN, 0};
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            return failed("poll");
        }
        if (winch_ix != 99 && fds[winch_ix].revents) {
            while (::read(signals.winch_fd(), buf, sizeof buf) > 0) {
            }
            resize();
        }
        if (fds[0].revents) {
            ssize_t got = ::read(stream.fd, buf, sizeof buf);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) break;  // the engine closed the stream (or reset it): the end
            if (!output(buf, static_cast<std::size_t>(got))) return failed("cannot write to the terminal");
        }
        if (input_open && fds[in_ix].revents) {
            ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) {  // end of input (EIO: the terminal went away)
                input_open = false;
                out.ending = Ending::end_of_input;
                ::shutdown(stream.fd, SHUT_WR);
                continue;
            }
            if (got >= 2) {
                last_two[0] = static_cast<unsigned char>(buf[got - 2]);
                last_two[1] = static_cast<unsigned char>(buf[got - 1]);
            } else {
                last_two[0] = last_two[1];
                last_two[1] = static_cast<unsigned char>(buf[0]);
            }
            if (!write_all(stream.fd, buf, static_cast<std::size_t>(got), true)) {
                if (errno == EPIPE || errno == ECONNRESET) {  // closing: read what is left
                    input_open = false;
                    continue;
                }
                return failed("cannot send to the container");
            }
        }
    }
    if (input_open && last_two[0] == 0x10 && last_two[1] == 0x11) out.ending = Ending::detach_keys;
    return out;
}

}  // namespace

Result<int> relay_terminal(Backend& backend, const std::string& container_id, const std::string& display_name) {
    auto stream = backend.attach(container_id);
    if (!stream) return stream.error();
    const std::string name = !display_name.empty() ? display_name : !stream->name.empty() ? stream->name : container_id;
    const bool was_raw = ::isatty(STDIN_FILENO) == 1;

    RelayOutcome outcome = relay(backend, container_id, *stream);  // the terminal is restored here
    stream->reset();
    if (outcome.error) return make_error(fmt::format("attach to {}: {}", name, *outcome.error));

    // Why did the stream end? The container's state says; right after an exit the engine may
    // still report it running for a moment, so unless the user detached, wait a little.
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::seconds(outcome.ending == Ending::closed ? 5 : 0);
    std::optional<ContainerState> state;
    for (;;) {
        auto inspected = backend.inspect(container_id);
        if (!inspected) return inspected.error();
        state = std::move(*inspected);
        if (!state || state->status != "running" || clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const char* lead = was_raw ? "\n" : "";  // the container's last line may lack a newline
    if (!state) {
        fmt::print(stderr, "{}session {} ended (its container is gone)\n", lead, name);
        return 0;
    }
    if (state->status == "running" || state->status == "paused") {
        const char* how = outcome.ending == Ending::detach_keys    ? "ctrl-p ctrl-q"
                          : outcome.ending == Ending::end_of_input ? "end of input"
                                                                   : "the engine closed the connection";
        fmt::print(stderr, "{}detached from {} ({})\n", lead, name, how);
        return 0;
    }
    fmt::print(stderr, "{}session {} exited (code {})\n", lead, name, state->exit_code);
    return state->exit_code;
}

}  // namespace airlock
