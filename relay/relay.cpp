// airlock-relay: the only way out of a confined session's container.
//
// A confined container has no network but loopback (NetworkMode "none"). The host's airlock
// proxy listens on a Unix socket whose directory is bind-mounted into the container; this
// relay listens on 127.0.0.1:PORT (and [::1]:PORT when the container has IPv6 on lo) and
// joins every TCP connection to a new connection on that socket, bytes unchanged. The
// agent's HTTP(S)_PROXY name 127.0.0.1:PORT, so every client that honours a proxy works.
//
//   airlock-relay exec  --port N --socket PATH -- COMMAND [ARGS...]
//       Listens, leaves the relay running in the background (its own session, detached from
//       the terminal, a grandchild so the agent never has to reap it), then execs COMMAND in
//       this process: the agent keeps this PID, its signals and its exit status. Exit 127
//       (126) when COMMAND is missing (not executable), as a shell would.
//   airlock-relay serve --port N --socket PATH [--port-file FILE]
//       The relay in the foreground (tests; --port 0 picks a free port, written to FILE).
//
// When the socket cannot be reached (the proxy is restarting), the client gets an HTTP 502
// naming the problem, not a bare reset. The socket is connected anew for every connection, so
// a proxy that restarts and recreates the socket is picked up without restarting the relay.
//
// Built static (no libc or libstdc++ in the image needed), and without sanitizers: it runs in
// any image. One thread, epoll, non-blocking sockets, a 64 KiB buffer per direction.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kBuffer = 64 * 1024;

[[noreturn]] void die(const char* what, int err) {
    if (err) fprintf(stderr, "airlock-relay: %s: %s\n", what, strerror(err));
    else fprintf(stderr, "airlock-relay: %s\n", what);
    exit(1);
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct Options {
    std::string mode;
    int port = -1;
    std::string socket_path;
    std::string port_file;
    std::vector<char*> command;
};

const char* kUsage =
    "usage: airlock-relay exec --port N --socket PATH -- COMMAND [ARGS...]\n"
    "       airlock-relay serve --port N --socket PATH [--port-file FILE]\n";

Options parse(int argc, char** argv) {
    Options o;
    if (argc < 2) {
        fputs(kUsage, stderr);
        exit(2);
    }
    o.mode = argv[1];
    if (o.mode != "exec" && o.mode != "serve") {
        fprintf(stderr, "airlock-relay: unknown mode '%s'\n%s", argv[1], kUsage);
        exit(2);
    }
    int i = 2;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "airlock-relay: %s needs a value\n%s", argv[i], kUsage);
            exit(2);
        }
        const char* v = argv[++i];
        if (a == "--port") {
            char* end = nullptr;
            long p = strtol(v, &end, 10);
            if (!*v || *end || p < 0 || p > 65535) {
                fprintf(stderr, "airlock-relay: --port '%s': expected 0-65535\n", v);
                exit(2);
            }
            o.port = static_cast<int>(p);
        } else if (a == "--socket") {
            o.socket_path = v;
        } else if (a == "--port-file") {
            o.port_file = v;
        } else {
            fprintf(stderr, "airlock-relay: unknown option '%s'\n%s", a.c_str(), kUsage);
            exit(2);
        }
    }
    for (; i < argc; ++i) o.command.push_back(argv[i]);
    o.command.push_back(nullptr);
    if (o.port < 0 || o.socket_path.empty()) {
        fputs(kUsage, stderr);
        exit(2);
    }
    if (o.socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) die("--socket: path too long for a Unix socket", 0);
    if (o.mode == "exec" && o.command.size() < 2) die("exec: no command given after --", 0);
    return o;
}

// 127.0.0.1:port, and [::1]:port when lo has IPv6 (Docker may disable it in the container).
std::vector<int> listen_loopback(int& port) {
    std::vector<int> fds;
    int v4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (v4 < 0) die("socket", errno);
    int one = 1;
    setsockopt(v4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a4{};
    a4.sin_family = AF_INET;
    a4.sin_port = htons(static_cast<std::uint16_t>(port));
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(v4, reinterpret_cast<sockaddr*>(&a4), sizeof a4) != 0 || listen(v4, 512) != 0) {
        char what[64];
        snprintf(what, sizeof what, "cannot listen on 127.0.0.1:%d", port);
        die(what, errno);
    }
    socklen_t len = sizeof a4;
    getsockname(v4, reinterpret_cast<sockaddr*>(&a4), &len);
    port = ntohs(a4.sin_port);
    fds.push_back(v4);

    int v6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (v6 >= 0) {
        setsockopt(v6, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        sockaddr_in6 a6{};
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(static_cast<std::uint16_t>(port));
        a6.sin6_addr = in6addr_loopback;
        if (bind(v6, reinterpret_cast<sockaddr*>(&a6), sizeof a6) == 0 && listen(v6, 512) == 0) fds.push_back(v6);
        else close(v6);
    }
    return fds;
}

// A new connection to the proxy's socket; -1 with errno when it cannot be reached.
int connect_proxy(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

// The proxy is not there: tell the client in HTTP (it speaks to us as to a proxy), after
// reading what it sent so the close is not a reset that could swallow the answer.
void refuse(int client, const std::string& path, int err) {
    int flags = fcntl(client, F_GETFL);
    fcntl(client, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{2, 0};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    (void)!read(client, buf, sizeof buf);
    std::string body = "airlock: the proxy is not reachable at " + path + " (" + strerror(err) +
                       "); on the host, run 'airlock proxy start'\n";
    std::string reply = "HTTP/1.1 502 Bad Gateway\r\nX-Airlock-Error: proxy-unreachable\r\n"
                        "Content-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
    (void)!write(client, reply.data(), reply.size());
    shutdown(client, SHUT_WR);
    while (read(client, buf, sizeof buf) > 0) {
    }
    close(client);
}

// One TCP connection joined to one proxy connection.
struct Pair;
struct Side {
    Pair* pair;
    int fd;
    bool eof = false;        // read EOF from this fd
    bool shut = false;       // we shut down writing to this fd
    std::string out;         // bytes waiting to be written to this fd
    std::size_t out_pos = 0;
};
struct Pair {
    Side a, b;  // a: the client, b: the proxy
};

Side& other(Side& s) { return &s == &s.pair->a ? s.pair->b : s.pair->a; }

class Loop {
    static constexpr std::uint64_t kEndTag = ~std::uint64_t(0);  // odd, and no listener's fd

public:
    Loop(std::vector<int> listeners, std::string socket_path)
        : listeners_(std::move(listeners)), path_(std::move(socket_path)) {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) die("epoll_create1", errno);
        for (int fd : listeners_) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = static_cast<std::uint64_t>(fd) << 1 | 1u;  // Side pointers are even
            epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
        }
    }

    // The relay ends when the process of `pidfd` does (exec mode: the agent; a pidfd becomes
    // readable when its process exits). -1: never (kernels before 5.3 have no pidfd_open;
    // the relay then ends with the container, as the agent's sibling).
    void end_with(int pidfd) {
        if (pidfd < 0) return;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kEndTag;
        epoll_ctl(ep_, EPOLL_CTL_ADD, pidfd, &ev);
    }

    [[noreturn]] void run() {
        epoll_event events[64];
        for (;;) {
            int n = epoll_wait(ep_, events, 64, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                die("epoll_wait", errno);
            }
            // Pairs closed in this round are freed after it: a later event may name them.
            for (int i = 0; i < n; ++i) {
                auto tag = events[i].data.u64;
                if (tag == kEndTag) _exit(0);
                if (tag & 1u) accept_all(static_cast<int>(tag >> 1));
                else handle(*static_cast<Side*>(events[i].data.ptr), events[i].events);
            }
            for (Pair* p : dead_) delete p;
            dead_.clear();
        }
    }

private:
    void accept_all(int listener) {
        for (;;) {
            int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (client < 0) return;  // EAGAIN, or a transient error (EMFILE: try at the next event)
            int proxy = connect_proxy(path_);
            if (proxy < 0) {
                int err = errno;
                // Answered off the loop: refuse() blocks for up to a few seconds.
                pid_t pid = fork();
                if (pid == 0) {
                    refuse(client, path_, err);
                    _exit(0);
                }
                close(client);
                continue;
            }
            set_nonblocking(proxy);
            int one = 1;
            setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto* p = new Pair;
            p->a.pair = p->b.pair = p;
            p->a.fd = client;
            p->b.fd = proxy;
            epoll_event ev{};
            ev.data.ptr = &p->a;
            ev.events = EPOLLIN;
            epoll_ctl(ep_, EPOLL_CTL_ADD, client, &ev);
            ev.data.ptr = &p->b;
            epoll_ctl(ep_, EPOLL_CTL_ADD, proxy, &ev);
        }
    }

    void handle(Side& s, std::uint32_t events) {
        Pair* p = s.pair;
        if (p->a.fd < 0) return;  // closed earlier in this round
        if (events & EPOLLOUT) {
            if (!flush(s)) return close_pair(*p);
        }
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            Side& o = other(s);
            if (!s.eof && o.out.size() - o.out_pos == 0) {
                o.out.resize(kBuffer);
                o.out_pos = 0;
                ssize_t n = read(s.fd, o.out.data(), kBuffer);
                if (n > 0) {
                    o.out.resize(static_cast<std::size_t>(n));
                    if (!flush(o)) return close_pair(*p);
                } else {
                    o.out.clear();
                    if (n == 0) s.eof = true;
                    else if (errno != EAGAIN && errno != EINTR) return close_pair(*p);
                }
            } else if (events & EPOLLERR) {
                return close_pair(*p);
            }
        }
        // Half-close: what one side ended is passed on once its bytes are through.
        for (Side* x : {&p->a, &p->b}) {
            Side& o = other(*x);
            if (x->eof && !o.shut && o.out.size() == o.out_pos) {
                shutdown(o.fd, SHUT_WR);
                o.shut = true;
            }
        }
        if (p->a.eof && p->b.eof && p->a.shut && p->b.shut) return close_pair(*p);
        update(p->a);
        update(p->b);
    }

    // Writes what is pending for `s`; false on a write error.
    bool flush(Side& s) {
        while (s.out_pos < s.out.size()) {
            ssize_t n = send(s.fd, s.out.data() + s.out_pos, s.out.size() - s.out_pos, MSG_NOSIGNAL);
            if (n > 0) {
                s.out_pos += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
            return false;
        }
        s.out.clear();
        s.out_pos = 0;
        return true;
    }

    // Read from a side while the other side has room; write to it while bytes wait.
    void update(Side& s) {
        Side& o = other(s);
        epoll_event ev{};
        ev.data.ptr = &s;
        if (!s.eof && o.out.size() == o.out_pos) ev.events |= EPOLLIN;
        if (s.out_pos < s.out.size()) ev.events |= EPOLLOUT;
        epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
    }

    void close_pair(Pair& p) {
        if (p.a.fd < 0) return;
        close(p.a.fd);  // closing removes the fds from the epoll set
        close(p.b.fd);
        p.a.fd = p.b.fd = -1;
        dead_.push_back(&p);
    }

    std::vector<int> listeners_;
    std::string path_;
    int ep_ = -1;
    std::vector<Pair*> dead_;
};

void detach_from_terminal() {
    setsid();  // no controlling terminal: ctrl-c in `airlock attach` is the agent's alone
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) close(null);
    }
}

// The relay's own process: writes to a closed peer are errors, not signals; refusals run in
// short-lived children nobody waits for.
void ignore_children() {
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    int port = o.port;
    std::vector<int> listeners = listen_loopback(port);

    if (o.mode == "serve") {
        if (!o.port_file.empty()) {
            FILE* f = fopen(o.port_file.c_str(), "w");
            if (!f) die("cannot write --port-file", errno);
            fprintf(f, "%d\n", port);
            fclose(f);
        }
        ignore_children();
        Loop(std::move(listeners), o.socket_path).run();
    }

    // exec: the relay goes to a grandchild (reparented to the container's init), so the agent
    // has no child it did not start; the listeners exist before the agent does.
    // Opened before the fork, so the agent cannot have exited (and its PID been reused) by
    // the time the relay watches it. The command keeps this process (execvp below).
    int agent = -1;
#ifdef SYS_pidfd_open
    agent = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));  // O_CLOEXEC: the agent never sees it
#endif
    pid_t child = fork();
    if (child < 0) die("fork", errno);
    if (child == 0) {
        if (fork() != 0) _exit(0);
        detach_from_terminal();
        signal(SIGHUP, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        signal(SIGTSTP, SIG_IGN);
        ignore_children();
        Loop loop(std::move(listeners), o.socket_path);
        loop.end_with(agent);
        loop.run();
    }
    for (int fd : listeners) close(fd);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    execvp(o.command[0], o.command.data());
    int err = errno;
    fprintf(stderr, "airlock-relay: cannot run '%s': %s\n", o.command[0], strerror(err));
    return err == ENOENT ? 127 : 126;
}
