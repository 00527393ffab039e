// airlock create | list | show | logs | stop | start | sync | diff | refresh | delete | clean-cache | doctor

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>

#include "backends/docker/container_spec.hpp"
#include "backends/docker/docker_backend.hpp"
#include "ca/ca.hpp"
#include "cli/command.hpp"
#include "cli/image_build.hpp"
#include "credential_check.hpp"
#include "agent_image.hpp"
#include "config.hpp"
#include "proxy/clients.hpp"
#include "file_lock.hpp"
#include "proxy_process.hpp"
#include "session/home_id.hpp"
#include "sync_watcher.hpp"
#include "session/manager.hpp"
#include "session/names.hpp"
#include "session/session_json.hpp"
#include "session/network.hpp"
#include "session_world.hpp"
#include "terminal_attach.hpp"

namespace airlock::cli {
namespace {

namespace fs = std::filesystem;

World open_world(Context& ctx, WorldNeeds needs = {}) {
    auto w = airlock::open_world(ctx.paths(), needs, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
    if (!w) throw CommandError(w.error().message);
    return std::move(*w);
}

void progress_line(const std::string& line) { fmt::print(stderr, "{}\n", line); }

std::string short_id(const std::string& id) {
    auto s = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
    return s.substr(0, 12);
}

// Does the proxy accept connections on its Unix socket? (What confined sessions reach.)
bool socket_answers(const fs::path& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    auto text = path.string();
    bool ok = text.size() < sizeof addr.sun_path;
    if (ok) {
        std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
        ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ::close(fd);
    return ok;
}

constexpr std::size_t kShowCommits = 50;

// Is something listening at addr:port? (What a container reaches as host.docker.internal.)
bool reachable(const std::string& addr, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    bool ok = ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) == 1 &&
              ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

template <class T>
std::shared_ptr<T> opt(T value = T{}) {
    return std::make_shared<T>(std::move(value));
}

}  // namespace

void add_session_commands(CLI::App& app, Context& ctx) {
    // ---- create ----
    struct CliCreateOptions : CreateOptions {
        std::string backend = "docker";
    };
    auto o = opt<CliCreateOptions>();
    auto* create = app.add_subcommand("create", "create a session: worktree, container, proxy identity; start the agent");
    create->add_option("--backend", o->backend, "where the session runs (docker)")->check(CLI::IsMember({"docker"}));
    create->add_option("--image", o->image, "container image (default: [docker] image)");
    create->add_option("--prompt,-p", o->prompt, "what the agent should do (one argv element, exactly as given)");
    create->add_option("--name", o->name, "session name (default: a slug of the prompt + 4 random characters)");
    create->add_option("--repo", o->repo, "the git repository, or a directory inside it (default: .)");
    create->add_option("--base", o->base, "start the branch from this ref (default: HEAD)");
    create->add_option("--agent", o->agent, "agent from [agent.<name>] or built-in: claude, codex, gemini, shell");
    create->add_option("--cpu-limit", o->cpus, "CPUs, e.g. 2 or 0.5 (default: [docker] cpus)");
    create->add_option("--memory-limit", o->memory, "memory, e.g. 4g or 512m (default: [docker] memory)");
    auto* pids_option = create->add_option("--pids-limit", o->pids,
                                           fmt::format("process limit, at least {} (default: [docker] pids_limit)",
                                                       docker::kMinPidsLimit));
    create->add_option("--pull-policy", o->pull_policy, "always | if-not-present | never (default: [docker] pull_policy)")
        ->check(CLI::IsMember({"always", "if-not-present", "never"}));
    create->add_option("--network", o->network,
                       "confined (the proxy only) | open (Docker's bridge, unconfined) | none | <network name> "
                       "(unconfined) (default: [docker] network)");
    create->add_flag("--read-only", o->read_only, "read-only root filesystem (tmpfs /tmp)");
    create->add_option("--env,-e", o->env,
                       "extra environment KEY=VALUE, over the agent definition's env (repeatable; never put secrets here; "
                       "not the proxy variables, HOME or AIRLOCK_SESSION)");
    create->add_option("--credentials", o->credentials, "credential rules the session may use (default: all)")
        ->delimiter(',');
    auto build_first = opt<bool>(false);
    create->add_flag("--build", *build_first, "build the default image first if it is missing or out of date (airlock image build)");
    create->callback([&ctx, o, pids_option, build_first] {
        // Usage errors first (exit 2), before anything is opened or made.
        if (!o->name.empty())
            if (auto st = session::validate_session_name(o->name); !st) throw CommandError(st.error().message, exit_usage);
        if (pids_option->count() > 0)
            if (auto p = docker::check_pids_limit(o->pids); !p) throw CommandError(p.error().message, exit_usage);
        auto w = open_world(ctx, {.ca = true, .git_identity = true});
        CreateOptions options = *o;
        options.pids_set = pids_option->count() > 0;
        auto request = make_create_request(options, w.config, ctx.paths());
        if (!request) throw CommandError(request.error().message, exit_usage);
        auto& r = *request;

        // The default image is built here, never pulled: say how (or, with --build, do it).
        if (r.image == kDefaultAgentImage) ensure_default_image(ctx, r.image, *build_first);

        // The proxy must be up before the agent's first request.
        auto proxy = start_proxy(ctx.paths());
        if (!proxy) throw CommandError(proxy.error().message);
        if (proxy->rfind("proxy started", 0) == 0) progress_line(*proxy);

        auto s = w.manager->create(r, progress_line);
        if (!s) throw CommandError(s.error().message);
        (void)spawn_sync_watcher(ctx.paths(), s->name, s->container_id);
        fmt::print("created session {}\n", s->name);
        fmt::print("  branch:    {}\n", s->branch);
        fmt::print("  worktree:  {}\n", s->worktree);
        fmt::print("  container: {} ({})\n", session::container_name(w.home_id, s->name), s->image);
        fmt::print("  network:   {}\n", session::describe_network(s->network));
        fmt::print("attach with 'airlock attach {}', logs with 'airlock logs {} -f'\n", s->name, s->name);
        fmt::print("review with 'airlock diff {}' or 'airlock show {}' (not plain git in the worktree); "
                   "'airlock sync {}' brings its commits to {} in your repository\n",
                   s->name, s->name, s->name, s->branch);
    });

    // ---- list / show ----
    auto list_json = opt<bool>(false);
    auto* list = app.add_subcommand("list", "sessions with the state the engine reports now");
    list->add_flag("--json", *list_json, "one JSON array");
    list->callback([&ctx, list_json] {
        auto w = open_world(ctx);
        auto views = w.manager->list();
        if (!views) throw CommandError(views.error().message);
        if (!views->empty() && !views->front().from_engine)
            fmt::print(stderr, "airlock: warning: the engine did not answer; showing the store's view (STATE is the "
                               "last recorded status)\n");
        // Sessions without the proxy have no API access: say so, on stderr with --json.
        const auto proxy_down = proxy_down_note(ctx.paths());
        if (*list_json) {
            boost::json::array a;
            for (const auto& v : *views) a.emplace_back(session::session_json(v, w.home_id));
            fmt::print("{}\n", boost::json::serialize(a));
            if (!proxy_down.empty()) fmt::print(stderr, "{}\n", proxy_down);
            return;
        }
        // Columns as wide as their longest value: long names never shift the others.
        std::size_t wn = 4, ws = 5, wb = 6, wi = 5;
        for (const auto& v : *views) {
            wn = std::max(wn, v.session.name.size());
            ws = std::max(ws, v.state.size() + (v.from_engine ? 0 : 9));
            wb = std::max(wb, v.session.branch.size());
            wi = std::max(wi, v.session.image.size());
        }
        fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", "NAME", wn, "STATE", ws, "BRANCH", wb, "IMAGE", wi, "NETWORK");
        for (const auto& v : *views)
            fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", v.session.name, wn,
                       v.from_engine ? v.state : v.state + " (stored)", ws, v.session.branch, wb, v.session.image, wi,
                       session::network_column(v.session.network));
        for (const auto& v : *views)
            if (!v.branch_note.empty())
                fmt::print(stderr, "note: {}: {}\n", v.session.name, session::terminal_safe(v.branch_note));
        if (!proxy_down.empty()) fmt::print("{}\n", proxy_down);
    });

    auto show_name = opt<std::string>();
    auto show_json = opt<bool>(false);
    auto* show = app.add_subcommand("show", "one session in detail");
    show->add_option("session", *show_name, "session name")->required();
    show->add_flag("--json", *show_json, "as JSON");
    show->callback([&ctx, show_name, show_json] {
        auto w = open_world(ctx);
        auto v = w.manager->show(*show_name);
        if (!v) throw CommandError(v.error().message);
        if (!v->from_engine)
            fmt::print(stderr, "airlock: warning: the engine did not answer; showing the store's view\n");
        auto o2 = session::session_json(*v, w.home_id);
        const auto proxy_down = proxy_down_note(ctx.paths());
        o2["proxy"] = proxy_down.empty() ? "running" : "down";
        auto log = session::session_log(w.manager->repo_paths(v->session), v->session.base_commit, kShowCommits);
        if (*show_json) {
            o2["commits"] = log ? session::commits_json(*log) : boost::json::array{};
            o2["commit_count"] = log ? log->total : 0;
            fmt::print("{}\n", boost::json::serialize(o2));
            if (!proxy_down.empty()) fmt::print(stderr, "{}\n", proxy_down);
            return;
        }
        for (const auto& [k, val] : o2)
            fmt::print("{:<14} {}\n", std::string(k) + ":",
                       session::terminal_safe(val.is_string() ? std::string(val.as_string()) : boost::json::serialize(val)));
        if (!proxy_down.empty()) fmt::print("{}\n", proxy_down);
        if (!log) {
            fmt::print("{:<14} {}\n", "commits:", session::terminal_safe(log.error().message));
            return;
        }
        fmt::print("{:<14} {} on {} since {} (see 'airlock diff {}')\n", "commits:", log->total, v->session.branch,
                   v->session.base_commit.substr(0, 12), v->session.name);
        for (const auto& c : log->commits)
            fmt::print("  {} {} ({})\n", c.id.substr(0, 12), session::terminal_safe(c.summary),
                       session::terminal_safe(c.author));
        if (log->total > log->commits.size()) fmt::print("  ... and {} more\n", log->total - log->commits.size());
    });

    // ---- logs / attach / stop / start ----
    auto logs_name = opt<std::string>();
    auto follow = opt<bool>(false);
    auto* logs = app.add_subcommand("logs", "the agent's output");
    logs->add_option("session", *logs_name, "session name")->required();
    logs->add_flag("-f,--follow", *follow, "keep following");
    logs->callback([&ctx, logs_name, follow] {
        auto w = open_world(ctx);
        auto id = w.manager->container_of(*logs_name);
        if (!id) throw CommandError(id.error().message);
        auto sink = [](OutputStream stream, std::string_view data) {
            std::fwrite(data.data(), 1, data.size(), stream == OutputStream::stderr_stream ? stderr : stdout);
            std::fflush(stream == OutputStream::stderr_stream ? stderr : stdout);
            return true;
        };
        for (;;) {
            auto st = w.backend->logs(*id, *follow, sink);
            if (!st) throw CommandError(st.error().message);
            if (!*follow) return;
            // The stream ended: the agent exited, or refresh replaced (or delete removed) the
            // container. Follow a replacement; otherwise say why it ended.
            std::string next;
            for (int i = 0; i < 100; ++i) {  // a refresh records its new container before removing the old one
                auto s = w.manager->get(*logs_name);
                if (!s) {
                    fmt::print(stderr, "airlock: the session {} was deleted; logs end here\n", *logs_name);
                    return;
                }
                if (s->container_id != *id) {
                    next = s->container_id;
                    break;
                }
                auto c = w.backend->inspect(*id);
                if (c && *c && (*c)->status != "running" && (*c)->status != "restarting" && (*c)->status != "removing")
                    break;
                if (c && !*c && i > 20) break;
                ::usleep(100 * 1000);
            }
            if (next.empty()) {
                (void)w.manager->sync(*logs_name, false);  // the container stopped: bring its commits
                auto c = w.backend->inspect(*id);
                if (c && *c)
                    fmt::print(stderr, "airlock: the agent of {} exited ({}); logs end here\n", *logs_name,
                               (*c)->exit_code);
                else
                    fmt::print(stderr, "airlock: the container of {} is gone; logs end here\n", *logs_name);
                return;
            }
            fmt::print(stderr, "airlock: {} was refreshed; following its new container\n", *logs_name);
            // Wait for the new container to run (or at least exist) before following it.
            for (int i = 0; i < 300; ++i) {
                auto c = w.backend->inspect(next);
                if (c && *c && (*c)->status != "created") break;
                ::usleep(100 * 1000);
            }
            *id = next;
        }
    });

    auto attach_name = opt<std::string>();
    auto* attach = app.add_subcommand("attach", "the agent's terminal (detach with ctrl-p ctrl-q)");
    attach->add_option("session", *attach_name, "session name")->required();
    attach->callback([&ctx, attach_name] {
        auto w = open_world(ctx);
        auto id = w.manager->container_of(*attach_name);
        if (!id) throw CommandError(id.error().message);
        auto code = relay_terminal(*w.backend, *id);
        (void)w.manager->sync(*attach_name, false);  // the agent may have committed meanwhile
        if (!code) throw CommandError(code.error().message);
    });

    for (const char* verb : {"stop", "start"}) {
        auto name = opt<std::string>();
        bool is_stop = std::string_view(verb) == "stop";
        auto* cmd = app.add_subcommand(verb, is_stop ? "stop a session's container (the worktree stays)"
                                                     : "start a stopped session's container again");
        cmd->add_option("session", *name, "session name")->required();
        cmd->callback([&ctx, name, is_stop] {
            auto w = open_world(ctx);
            if (!is_stop) {
                auto proxy = start_proxy(ctx.paths());
                if (!proxy) throw CommandError(proxy.error().message);
            }
            auto st = is_stop ? w.manager->stop(*name) : w.manager->start(*name);
            if (!st) throw CommandError(st.error().message);
            if (!is_stop)
                if (auto s = w.manager->get(*name)) (void)spawn_sync_watcher(ctx.paths(), *name, s->container_id);
            fmt::print("{} {}\n", is_stop ? "stopped" : "started", *name);
        });
    }

    // ---- _watch (hidden): what create, refresh and start leave behind (sync_watcher.hpp) ----
    auto watch_name = opt<std::string>();
    auto watch_id = opt<std::string>();
    auto* watch = app.add_subcommand("_watch", "")->group("");
    watch->add_option("session", *watch_name)->required();
    watch->add_option("container", *watch_id)->required();
    watch->callback([&ctx, watch_name, watch_id] {
        // Only the engine while waiting (no store held open for hours); the rest afterwards.
        auto endpoint = docker::endpoint_from_env();
        if (!endpoint) throw CommandError(endpoint.error().message);
        (void)docker::make_docker_backend(*endpoint)->wait(*watch_id);
        if (!fs::exists(ctx.paths().store())) return;  // the home is gone: nothing to bring, nothing to make
        auto w = open_world(ctx);
        if (auto r = w.manager->sync(*watch_name, false); !r) throw CommandError(r.error().message);
    });

    // ---- sync / diff ----
    auto sync_name = opt<std::string>();
    auto sync_force = opt<bool>(false);
    auto* sync = app.add_subcommand("sync", "bring the session's commits into your repository as branch airlock/<session> now");
    sync->add_option("session", *sync_name, "session name")->required();
    sync->add_flag("--force", *sync_force, "replace airlock/<session> even when it is not an ancestor of the session's branch");
    sync->callback([&ctx, sync_name, sync_force] {
        auto w = open_world(ctx);
        auto s = w.manager->get(*sync_name);
        if (!s) throw CommandError(s.error().message);
        auto r = w.manager->sync(*sync_name, *sync_force);
        if (!r) throw CommandError(r.error().message);
        auto said = session::sync_message(*r, s->branch, *sync_name);
        if (said.refused) throw CommandError(said.message);
        fmt::print("{}\n", said.message);
    });

    auto diff_name = opt<std::string>();
    auto diff_worktree = opt<bool>(false);
    auto* diff = app.add_subcommand("diff", "the session's work against its base, read safely (libgit2; nothing the agent wrote runs)");
    diff->add_option("session", *diff_name, "session name")->required();
    diff->add_flag("--worktree", *diff_worktree, "include uncommitted changes (the work tree against the base)");
    diff->callback([&ctx, diff_name, diff_worktree] {
        auto w = open_world(ctx);
        auto s = w.manager->get(*diff_name);
        if (!s) throw CommandError(s.error().message);
        auto patch = session::session_diff(w.manager->repo_paths(*s), s->base_commit, *diff_worktree);
        if (!patch) throw CommandError(patch.error().message);
        auto text = session::terminal_safe(*patch);
        std::fwrite(text.data(), 1, text.size(), stdout);
    });

    // ---- refresh / delete ----
    auto refresh_name = opt<std::string>();
    auto* refresh = app.add_subcommand("refresh", "re-pull the image and recreate the container; keep worktree and home");
    refresh->add_option("session", *refresh_name, "session name")->required();
    refresh->callback([&ctx, refresh_name] {
        auto w = open_world(ctx, {.ca = true, .git_identity = true});
        auto proxy = start_proxy(ctx.paths());
        if (!proxy) throw CommandError(proxy.error().message);
        auto r = w.manager->refresh(*refresh_name, progress_line);
        if (!r) throw CommandError(r.error().message);
        (void)spawn_sync_watcher(ctx.paths(), *refresh_name, r->new_container_id);
        fmt::print("refreshed {}: image {} -> {}, container {} -> {}\n", *refresh_name, short_id(r->old_image_id),
                   short_id(r->new_image_id), short_id(r->old_container_id), short_id(r->new_container_id));
    });

    auto delete_name = opt<std::string>();
    auto force = opt<bool>(false);
    auto delete_branch = opt<bool>(false);
    auto* del = app.add_subcommand("delete", "remove container, worktree, home volume and proxy client");
    del->add_option("session", *delete_name, "session name")->required();
    del->add_flag("--force", *force,
                  "even with uncommitted changes, commits that cannot be brought into airlock/<session>, or (with "
                  "--delete-branch) commits not merged into HEAD");
    del->add_flag("--delete-branch", *delete_branch,
                  "also delete the branch airlock/<session> (refused when it has commits not merged into HEAD, "
                  "unless --force)");
    del->callback([&ctx, delete_name, force, delete_branch] {
        auto w = open_world(ctx);
        auto removed = w.manager->remove(*delete_name, *force, *delete_branch);
        if (!removed) throw CommandError(removed.error().message);
        if (removed->branch_deleted)
            fmt::print("deleted session {} and branch airlock/{} (was {}; 'git branch airlock/{} {}' brings it "
                       "back)\n",
                       *delete_name, *delete_name, removed->branch_commit.substr(0, 12), *delete_name,
                       removed->branch_commit.substr(0, 12));
        else
            fmt::print("deleted session {} (branch airlock/{} kept{})\n", *delete_name, *delete_name,
                       removed->branch_commit.empty() ? "" : ", at " + removed->branch_commit.substr(0, 12));
    });

    // ---- clean-cache ----
    auto cache_force = opt<bool>(false);
    auto* clean = app.add_subcommand("clean-cache", "the shared cache volumes: show them (sizes), or remove with --force");
    clean->add_flag("--force", *cache_force, "remove them (volumes in use by a running session are skipped)");
    clean->callback([&ctx, cache_force] {
        auto w = open_world(ctx);
        auto volumes = w.backend->list_volumes({{session::kCacheLabel, ""}});
        if (!volumes) throw CommandError(volumes.error().message);
        auto containers = w.backend->list({{session::kSessionLabel, ""}});
        if (!containers) throw CommandError(containers.error().message);
        std::map<std::string, const ContainerState*> by_name;
        for (const auto& c : *containers) by_name[c.name] = &c;
        if (volumes->empty()) fmt::print("no cache volumes\n");
        for (const auto& v : *volumes) {
            std::vector<std::string> sessions, running;
            for (const auto& user : v.used_by) {
                auto it = by_name.find(user);
                auto label = it == by_name.end() ? user : it->second->labels.at(session::kSessionLabel);
                sessions.push_back(label);
                if (it != by_name.end() && it->second->status == "running") running.push_back(label);
            }
            auto size = v.size_bytes < 0 ? std::string("?") : fmt::format("{:.1f} MiB", v.size_bytes / 1048576.0);
            if (!*cache_force) {
                fmt::print("{:<32} {:>12}  used by: {}\n", v.name, size, sessions.empty() ? "-" : fmt::format("{}", fmt::join(sessions, ", ")));
                continue;
            }
            if (!running.empty()) {
                fmt::print("skipped {}: in use by running session {}\n", v.name, fmt::join(running, ", "));
                continue;
            }
            if (auto st = w.backend->remove_volume(v.name); !st) {
                fmt::print("skipped {}: {}\n", v.name, st.error().message);
                continue;
            }
            fmt::print("removed {} ({})\n", v.name, size);
        }
        if (!*cache_force && !volumes->empty()) fmt::print("nothing removed; run 'airlock clean-cache --force' to remove them\n");
    });

    // ---- doctor ----
    auto fix = opt<bool>(false);
    auto* doctor = app.add_subcommand("doctor", "check engine, image, CA, proxy, config and store; --fix repairs");
    doctor->add_flag("--fix", *fix, "remove orphans, undo interrupted creates, mark lost sessions");
    doctor->callback([&ctx, fix] {
        const auto& paths = ctx.paths();
        int problems = 0;
        auto good = [](const std::string& what) { fmt::print("ok       {}\n", what); };
        auto bad = [&problems](const std::string& what, const std::string& how) {
            ++problems;
            fmt::print("PROBLEM  {}\n         fix: {}\n", what, how);
        };
        auto config = load_config(paths.config());
        if (!config) {
            bad(config.error().message, "edit " + paths.config().string() + " (see docs/configuration.md)");
            ctx.exit_code = exit_failure;
            return;
        }
        good("config " + paths.config().string());
        for (const auto& c : check_credential_sources(config->credentials, paths)) {
            if (c.problem.empty()) good(fmt::format("credential '{}' ({})", c.name, c.source));
            else bad(c.problem, c.fix);
        }
        auto endpoint = docker::endpoint_from_env();
        std::unique_ptr<Backend> backend;
        if (!endpoint) {
            bad(endpoint.error().message, "fix DOCKER_HOST");
        } else {
            backend = docker::make_docker_backend(*endpoint);
            auto version = backend->version();
            if (!version) {
                bad(version.error().message, "start the engine (scripts/ensure-docker) or set DOCKER_HOST");
                backend.reset();
            } else {
                good(fmt::format("engine {} at {}", *version, endpoint->display()));
            }
        }
        if (auto relay = find_relay_binary(); relay.empty())
            bad("airlock-relay is not next to the airlock binary, nor in ../libexec/airlock/: confined sessions cannot "
                "be created",
                "reinstall airlock (the relay is built and installed with it)");
        else
            good("relay " + relay);
        auto authority = ca::Authority::load(paths.ca_dir());
        if (!authority) bad(authority.error().message, "airlock ca init (or chmod 600 the key)");
        else good("CA " + (*authority)->info().cert_path.string() + " (key 0600)");
        auto pid = running_proxy(paths);
        if (!pid) {
            bad(proxy_down_note(paths), "airlock proxy start (see " + paths.proxy_log().string() + ")");
        } else {
            auto supervisor = running_supervisor(paths);
            good(supervisor ? fmt::format("proxy running (pid {}, supervisor pid {})", *pid, *supervisor)
                            : fmt::format("proxy running (pid {}, no supervisor: it will not come back by itself "
                                          "if it dies; 'airlock proxy stop && airlock proxy start' adds one)",
                                          *pid));
            if (backend) {
                auto gateways = backend->bridge_gateways();
                if (!gateways || gateways->empty()) {
                    bad("cannot find the Docker bridge gateway", "check 'docker network inspect bridge'");
                } else if (!reachable(gateways->front(), config->proxy.port)) {
                    bad(fmt::format("the proxy does not answer at {}:{} (host.docker.internal for containers)",
                                    gateways->front(), config->proxy.port),
                        "airlock proxy stop && airlock proxy start (after the engine is up), or set [proxy] listen");
                } else {
                    good(fmt::format("proxy reachable from containers at {}:{}", gateways->front(), config->proxy.port));
                }
            }
            if (!socket_answers(paths.proxy_socket()))
                bad(fmt::format("the proxy does not answer on {} (confined sessions reach it there)",
                                paths.proxy_socket().string()),
                    "airlock proxy stop && airlock proxy start");
            else
                good(fmt::format("proxy answers on {} (for confined sessions)", paths.proxy_socket().string()));
        }
        if (backend) {
            auto image = backend->inspect_image(config->docker.image);
            if (!image || !*image)
                bad(fmt::format("default image {} is not present", config->docker.image),
                    config->docker.image == kDefaultAgentImage
                        ? std::string("run 'airlock image build'")
                        : fmt::format("docker pull {} (or set [docker] image)", config->docker.image));
            else good("default image " + config->docker.image);
            auto w = open_world(ctx);
            auto found = w.manager->reconcile(*fix, progress_line);
            if (!found) {
                bad(found.error().message, "check " + paths.store().string());
            } else {
                for (const auto& p : *found) bad(p.what, p.fix);
                if (found->empty()) good("store and engine agree");
            }
        }
        if (problems) {
            fmt::print("{} problem{}\n", problems, problems == 1 ? "" : "s");
            ctx.exit_code = exit_failure;
        }
    });
}

}  // namespace airlock::cli
