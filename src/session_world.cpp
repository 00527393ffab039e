#include "session_world.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "backends/docker/container_spec.hpp"
#include "backends/docker/docker_backend.hpp"
#include "ca/ca.hpp"
#include "config.hpp"
#include "file_lock.hpp"
#include "proxy/clients.hpp"
#include "proxy/login_store.hpp"
#include "session/home_id.hpp"
#include "session/names.hpp"
#include "session/network.hpp"

namespace airlock {
namespace {

namespace fs = std::filesystem;

// The proxy's client store as the session layer sees it.
class StoreClients : public session::ProxyClients {
public:
    explicit StoreClients(proxy::ClientStore store) : store_(std::move(store)) {}
    Result<std::string> add(const std::string& name, const std::vector<std::string>& credentials,
                            const std::string& session) override {
        return store_.add(name, credentials, session);
    }
    Result<std::string> rotate(const std::string& name) override { return store_.rotate(name); }
    Status remove(const std::string& name) override {
        auto clients = store_.list();
        if (!clients) return clients.error();
        for (const auto& c : *clients)
            if (c.name == name) return store_.remove(name);
        return {};
    }

private:
    proxy::ClientStore store_;
};

std::string run_line(const char* command) {
    std::string out;
    if (FILE* p = ::popen(command, "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

std::string git_identity(const char* env, const char* key) {
    if (const char* v = std::getenv(env); v && *v) return v;
    return run_line(fmt::format("git config --get {} 2>/dev/null", key).c_str());
}

// The CA bundle containers trust: the system roots plus airlock's CA.
Result<std::string> write_ca_bundle(const Paths& paths) {
    auto bundle = paths.ca_dir() / "ca-bundle.pem";
    std::string text;
    for (const char* system : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}) {
        std::ifstream in(system, std::ios::binary);
        if (!in) continue;
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        break;
    }
    std::ifstream ca(paths.ca_dir() / "ca.pem", std::ios::binary);
    std::string ca_text((std::istreambuf_iterator<char>(ca)), std::istreambuf_iterator<char>());
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += ca_text;
    {
        std::ifstream current(bundle, std::ios::binary);
        std::string have((std::istreambuf_iterator<char>(current)), std::istreambuf_iterator<char>());
        if (have == text) return bundle.string();
    }
    auto tmp = bundle;
    tmp += fmt::format(".{}.tmp", ::getpid());  // concurrent creates each write their own
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) return make_error(fmt::format("cannot write {}", bundle.string()));
    }
    std::error_code ec;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read, ec);
    fs::rename(tmp, bundle, ec);
    if (ec) return make_error(fmt::format("cannot write {}: {}", bundle.string(), ec.message()));
    return bundle.string();
}

}  // namespace

Result<World> open_world(const Paths& paths, WorldNeeds needs, const std::function<void(const std::string&)>& note) {
    World w;
    auto config = load_config(paths.config());
    if (!config) return make_error(config.error().message);
    w.config = std::move(*config);
    auto endpoint = docker::endpoint_from_env();
    if (!endpoint) return make_error(endpoint.error().message);
    w.backend = docker::make_docker_backend(*endpoint);
    auto store = session::SessionStore::open(paths.store());
    if (!store) return make_error(store.error().message);
    w.store = std::make_unique<session::SessionStore>(std::move(*store));
    auto clients = proxy::ClientStore::open(paths.store(), proxy::ClientStore::Mode::read_write);
    if (!clients) return make_error(clients.error().message);
    w.clients = std::make_unique<StoreClients>(std::move(*clients));

    session::ManagerSettings settings;
    auto home_id = session::load_or_create_home_id(paths.home);
    if (!home_id) return make_error(home_id.error().message);
    settings.host.home_id = *home_id;
    settings.max_containers = w.config.docker.max_containers;
    settings.home = paths.home.string();
    settings.worktrees_dir = paths.worktrees().string();
    settings.sessions_dir = (paths.home / "sessions").string();
    auto& host = settings.host;
    host.home = paths.home.string();
    host.ca_cert = (paths.ca_dir() / "ca.pem").string();
    host.ca_bundle = (paths.ca_dir() / "ca-bundle.pem").string();
    host.hooks_dir = paths.hooks().string();
    host.proxy_port = w.config.proxy.port;
    host.proxy_socket_dir = paths.run_dir().string();
    host.relay_binary = find_relay_binary();
    host.caches = w.config.caches;
    host.credentials = w.config.credentials;
    // Subscription logins: the session's home gets a placeholder login per login rule (the
    // account's metadata only; the tokens stay in logins/).
    for (const auto& rule : w.config.credentials) {
        if (rule.login.empty()) continue;
        auto login = proxy::read_login(paths.home, rule.name);
        if (!login) continue;  // doctor and credential list say what is missing
        for (auto& f : proxy::placeholder_files(*login, static_cast<proxy::Seconds>(std::time(nullptr))))
            host.home_files.push_back({rule.name, std::move(f.path), std::move(f.content), f.mode});
    }
    host.agents = w.config.agents;
    host.user = fmt::format("{}:{}", ::getuid(), ::getgid());
    if (needs.git_identity) {
        host.git_author_name = git_identity("GIT_AUTHOR_NAME", "user.name");
        host.git_author_email = git_identity("GIT_AUTHOR_EMAIL", "user.email");
    }
    if (needs.ca) {
        // Parallel creates in a new home: one creates the CA, the others wait and load it.
        auto ca_lock = FileLock::acquire(paths.ca_lock());
        if (!ca_lock) return make_error(ca_lock.error().message);
        if (!fs::exists(ca::Authority::cert_path(paths.ca_dir()))) {
            auto created = ca::Authority::create(paths.ca_dir(), false);
            if (!created) return make_error(created.error().message);
            if (note) note(fmt::format("created the CA in {}", paths.ca_dir().string()));
        } else if (auto loaded = ca::Authority::load(paths.ca_dir()); !loaded) {
            return make_error(loaded.error().message);
        }
        if (auto bundle = write_ca_bundle(paths); !bundle) return make_error(bundle.error().message);
        // Confined containers mount this directory; it must exist before the proxy made it.
        if (auto st = ensure_run_dir(paths); !st) return make_error(st.error().message);
    }
    w.home_id = settings.host.home_id;
    w.manager = std::make_unique<session::SessionManager>(*w.backend, *w.store, *w.clients, std::move(settings));
    return w;
}


Result<session::CreateRequest> make_create_request(const CreateOptions& o, const Config& config, const Paths& paths) {
    if (!o.name.empty())
        if (auto st = session::validate_session_name(o.name); !st) return st.error();
    if (o.pids_set)
        if (auto p = docker::check_pids_limit(o.pids); !p) return p.error();
    session::CreateRequest r;
    r.repo_path = o.repo.empty() ? "." : o.repo;
    r.name = o.name;
    r.base = o.base;
    r.image = o.image.empty() ? config.docker.image : o.image;
    r.agent = o.agent.empty() ? "claude" : o.agent;
    auto agent = config.agents.find(r.agent);
    if (agent == config.agents.end()) {
        std::vector<std::string> names;
        for (const auto& [n, a] : config.agents) names.push_back(n);
        return make_error(fmt::format("unknown agent '{}'; choose one of {} or define [agent.{}] in config.toml",
                                      r.agent, fmt::join(names, ", "), r.agent));
    }
    r.agent_definition = agent->second;
    r.prompt = o.prompt;
    r.cpus = o.cpus.empty() ? config.docker.cpus : o.cpus;
    r.memory = o.memory.empty() ? config.docker.memory : o.memory;
    if (!o.cpus.empty())
        if (auto c = docker::parse_cpus(o.cpus); !c) return c.error();
    if (!o.memory.empty())
        if (auto m = docker::parse_memory(o.memory); !m) return m.error();
    r.pids_limit = o.pids_set ? o.pids : config.docker.pids_limit;
    if (!o.pull_policy.empty()) {
        auto policy = parse_pull_policy(o.pull_policy);
        if (!policy)
            return make_error(fmt::format("unknown pull policy '{}'; choose always, if-not-present or never", o.pull_policy));
        r.pull_policy = *policy;
    } else {
        r.pull_policy = config.docker.pull_policy;
    }
    r.network = o.network.empty() ? config.docker.network : o.network;
    if (auto st = session::validate_network(r.network); !st) return st.error();
    if (session::is_confined(r.network))
        if (auto st = check_socket_path(paths.proxy_socket()); !st)
            return make_error(st.error().message + ", or choose --network open");
    r.read_only = o.read_only || config.docker.read_only_rootfs;
    r.extra_env = o.env;
    for (const auto& c : o.credentials) {
        bool known = false;
        for (const auto& rule : config.credentials) known = known || rule.name == c;
        if (!known) return make_error(fmt::format("--credentials: no [[credential]] named '{}' in config.toml", c));
    }
    r.credentials = o.credentials;
    r.max_containers = config.docker.max_containers;
    return r;
}

}  // namespace airlock
