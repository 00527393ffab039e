// airlock ui: the dashboard (ui/server.hpp) in the foreground or in the background.

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent_image.hpp"
#include "background_process.hpp"
#include "cli/command.hpp"
#include "credential_setup.hpp"
#include "proxy_process.hpp"
#include "session_world.hpp"
#include "sync_watcher.hpp"
#include "ui/server.hpp"

#ifndef AIRLOCK_VERSION
#define AIRLOCK_VERSION "unknown"
#endif

namespace airlock::cli {
namespace {

namespace fs = std::filesystem;

// The dashboard's view of one operation: the CLI's World, so every action is the CLI's code.
class CliWorkspace : public ui::Workspace {
public:
    CliWorkspace(const Paths& paths, World world) : paths_(paths), world_(std::move(world)) {}
    session::SessionManager& manager() override { return *world_.manager; }
    Backend& backend() override { return *world_.backend; }
    const Config& config() const override { return world_.config; }
    const std::string& home_id() const override { return world_.home_id; }
    Result<session::CreateRequest> create_request(const session::CreateOptions& options) override {
        auto r = make_create_request(options, world_.config, paths_);
        if (!r) return r;
        // The default image is built, never pulled (airlock image build): say so instead of a failed pull.
        if (r->image == kDefaultAgentImage) {
            auto image = world_.backend->inspect_image(r->image);
            if (image && !*image)
                return make_error(fmt::format("image {} is not present; run 'airlock image build'", r->image));
        }
        return r;
    }
    Status ensure_proxy() override {
        auto started = start_proxy(paths_);
        if (!started) return started.error();
        return {};
    }
    void watch(const std::string& session, const std::string& container_id) override {
        (void)spawn_sync_watcher(paths_, session, container_id);
    }
    std::string describe_source(const CredentialRule& rule) const override { return airlock::describe_source(rule.secret); }

private:
    Paths paths_;
    World world_;
};

fs::path ui_socket(const Paths& paths) { return paths.home / "ui.sock"; }
fs::path ui_pid(const Paths& paths) { return paths.home / "ui.pid"; }
fs::path ui_log(const Paths& paths) { return paths.home / "ui.log"; }

// The pid in ui.pid when it is an `airlock ui` process still (a stale file whose pid was
// reused by something else is not: --stop must never signal a stranger).
std::optional<pid_t> running_ui(const Paths& paths) {
    std::ifstream in(ui_pid(paths));
    long pid = 0;
    if (!(in >> pid) || pid <= 0) return std::nullopt;
    std::ifstream cmd(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
    std::string args((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    bool is_ui = false;
    for (std::size_t at = 0; at < args.size();) {
        auto end = args.find('\0', at);
        if (end == std::string::npos) end = args.size();
        if (args.compare(at, end - at, "ui") == 0) is_ui = true;
        at = end + 1;
    }
    std::error_code ec;
    auto exe = fs::read_symlink(fmt::format("/proc/{}/exe", pid), ec);
    auto self = fs::read_symlink("/proc/self/exe", ec);
    if (!is_ui || exe.filename() != self.filename()) return std::nullopt;
    return static_cast<pid_t>(pid);
}

void open_browser(const std::string& url) {
    pid_t child = ::fork();
    if (child == 0) {
        ::setsid();
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        ::execlp("xdg-open", "xdg-open", url.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
}

struct UiFlags {
    std::uint16_t port = 7070;
    bool open = false, background = false, stop = false;
    std::string repo;
    int ready_fd = -1;
};

// Starts `airlock ui` in the background (log: ui.log) and waits for its sign-in link.
std::string start_ui_background(const Paths& paths, const UiFlags& f) {
    auto started = airlock::start_background({"airlock", "--home", paths.home.string(), "ui", "--port",
                                              std::to_string(f.port), "--repo", f.repo},
                                             ui_log(paths), std::chrono::seconds(20));
    if (!started) throw CommandError(started.error().message);
    const pid_t child = started->pid;
    if (started->ready_line.rfind("http://", 0) == 0) return started->ready_line;
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == 0) ::kill(child, SIGTERM);
    std::ifstream in(ui_log(paths));
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    throw CommandError(fmt::format("the dashboard did not start: {}", last.empty() ? "no output" : last));
}

void stop_ui(const Paths& paths) {
    auto pid = running_ui(paths);
    if (!pid) {
        fmt::print("the dashboard is not running\n");
        return;
    }
    ::kill(*pid, SIGTERM);
    for (int i = 0; i < 100 && ::kill(*pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::kill(*pid, 0) == 0) ::kill(*pid, SIGKILL);
    fmt::print("stopped the dashboard (pid {})\n", *pid);
}

}  // namespace

void add_ui_commands(CLI::App& app, Context& ctx) {
    auto f = std::make_shared<UiFlags>();
    auto* ui = app.add_subcommand("ui", "the dashboard in your browser: sessions, terminals, logs, request timelines");
    ui->add_option("--port", f->port, "listen on 127.0.0.1:PORT (default 7070)");
    ui->add_flag("--open", f->open, "open the link in the browser (xdg-open)");
    ui->add_flag("--background", f->background, "run in the background (log: $AIRLOCK_HOME/ui.log)");
    ui->add_flag("--stop", f->stop, "stop the dashboard running in the background");
    ui->add_option("--repo", f->repo, "where new sessions are created (default: the current directory)");
    ui->add_option("--ready-fd", f->ready_fd, "write the sign-in link to this descriptor once listening")->group("");
    ui->footer("The link printed signs one browser in once (then a cookie); run 'airlock ui' again for another.\n"
               "Only this machine can connect (127.0.0.1). See docs/ui.md.");
    ui->callback([&ctx, f] {
        const auto& paths = ctx.paths();
        if (f->stop) {
            stop_ui(paths);
            return;
        }
        // One dashboard per home: a second `airlock ui` prints a new link to the running one.
        if (running_ui(paths)) {
            auto url = ui::request_sign_in_url(ui_socket(paths));
            if (!url) throw CommandError(url.error().message + "; stop it with 'airlock ui --stop'");
            fmt::print("the dashboard is running; sign in with (works once):\n  {}\n", *url);
            if (f->open) open_browser(*url);
            return;
        }
        if (f->repo.empty()) f->repo = fs::current_path().string();
        f->repo = fs::absolute(f->repo).lexically_normal().string();
        if (f->background) {
            auto url = start_ui_background(paths, *f);
            fmt::print("the dashboard runs in the background (log: {}; stop: airlock ui --stop)\n", ui_log(paths).string());
            fmt::print("sign in with (works once):\n  {}\n", url);
            if (f->open) open_browser(url);
            return;
        }
        // Needs the configuration now: a broken config.toml is an error here, not on every click.
        if (auto w = open_world(paths); !w) throw CommandError(w.error().message);

        ui::ServerOptions o;
        o.port = f->port;
        o.audit_log = paths.audit_log();
        o.control_socket = ui_socket(paths);
        if (const char* dir = std::getenv("AIRLOCK_UI_ASSETS"); dir && *dir) o.assets_dir = dir;
        o.repo = f->repo;
        o.version = AIRLOCK_VERSION;
        o.open = [paths](bool for_create) -> Result<std::unique_ptr<ui::Workspace>> {
            auto w = open_world(paths, {.ca = for_create, .git_identity = for_create});
            if (!w) return w.error();
            return std::unique_ptr<ui::Workspace>(std::make_unique<CliWorkspace>(paths, std::move(*w)));
        };
        o.proxy_status = [paths] {
            ui::ProxyStatus s;
            auto pid = running_proxy(paths);
            s.running = pid.has_value();
            s.pid = pid ? *pid : 0;
            s.note = proxy_down_note(paths);
            if (pid)
                if (auto j = query_status_json(paths.home / "proxy.sock")) s.stats_json = *j;
            return s;
        };
        o.log = [](const std::string& line) {
            auto now = std::chrono::system_clock::now();
            auto t = std::chrono::system_clock::to_time_t(now);
            std::tm tm{};
            gmtime_r(&t, &tm);
            fmt::print(stderr, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z ui {}\n", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, line);
        };
        auto server = ui::Server::create(std::move(o));
        if (!server) throw CommandError(server.error().message);
        if (auto st = write_pid_file(ui_pid(paths)); !st) throw CommandError(st.error().message);
        auto url = (*server)->sign_in_url((*server)->issue_token());
        if (f->ready_fd >= 0) {
            auto line = url + "\n";
            (void)!::write(f->ready_fd, line.data(), line.size());
            ::close(f->ready_fd);
        } else {
            fmt::print("the dashboard listens on http://127.0.0.1:{}/ (ctrl-c stops it)\n", (*server)->port());
            fmt::print("sign in with (works once):\n  {}\n", url);
            std::fflush(stdout);
            if (f->open) open_browser(url);
        }
        (*server)->run();
        remove_pid_file(ui_pid(paths));
    });
}

}  // namespace airlock::cli
