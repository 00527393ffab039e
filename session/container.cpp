#include "session/container.hpp"

#include <fmt/core.h>

#include "backends/docker/container_spec.hpp"
#include "session/agent_files.hpp"
#include "session/network.hpp"
#include "session/session_repo.hpp"

namespace airlock::session {

std::string container_name(const std::string& home_id, const std::string& session) {
    return home_id.empty() ? "airlock-" + session : fmt::format("airlock-{}-{}", session, home_id);
}
std::string home_volume_name(const std::string& home_id, const std::string& session) {
    return home_id.empty() ? "airlock-home-" + session : fmt::format("airlock-home-{}-{}", session, home_id);
}
std::string cache_volume_name(const std::string& cache) { return "airlock-cache-" + cache; }

bool belongs_to_home(const std::map<std::string, std::string>& labels, const std::string& home_id) {
    auto it = labels.find(kHomeIdLabel);
    return it != labels.end() && !home_id.empty() && it->second == home_id;
}

Status validate_home_id(std::string_view id) {
    bool ok = id.size() == 10;
    for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    if (!ok) return make_error("the home id is not 10 characters of a-z and 0-9");
    return {};
}

std::string proxy_url(const std::string& session, const std::string& token, const std::string& network,
                      std::uint16_t port) {
    return fmt::format("http://{}:{}@{}:{}", session, token, is_confined(network) ? "127.0.0.1" : "host.docker.internal",
                       port);
}

std::vector<std::string> agent_argv(const Session& s) {
    std::vector<std::string> argv = s.agent_command;
    switch (s.prompt_mode) {
        case PromptMode::arg:
            argv.push_back(s.prompt);  // one argv element: quotes and newlines survive exactly
            break;
        case PromptMode::stdin_: {
            // No shell quoting of the prompt: the shell only redirects, "$@" is the agent.
            std::vector<std::string> wrapped = {"sh", "-c", "exec \"$@\" < /etc/airlock/prompt", "airlock-agent"};
            wrapped.insert(wrapped.end(), argv.begin(), argv.end());
            return wrapped;
        }
        case PromptMode::none:
            break;
    }
    return argv;
}

Result<ContainerSpec> build_container_spec(const Session& s, const HostSettings& host, const std::string& token) {
    ContainerSpec spec;
    spec.name = container_name(host.home_id, s.name);
    spec.image = s.image;
    spec.cmd = agent_argv(s);
    const NetworkKind network = network_kind(s.network);
    if (network == NetworkKind::confined) {
        if (host.relay_binary.empty())
            return make_error("airlock-relay was not found next to the airlock binary (or in ../libexec/airlock/), so "
                              "a confined session cannot reach the proxy; reinstall airlock, or choose --network open");
        // The relay listens before the agent starts, then becomes the agent (same PID).
        std::vector<std::string> wrapped = {kRelayPath, "exec", "--port", std::to_string(host.proxy_port), "--socket",
                                            fmt::format("{}/{}", kProxySocketDir, kProxySocketName), "--"};
        wrapped.insert(wrapped.end(), spec.cmd.begin(), spec.cmd.end());
        spec.cmd = std::move(wrapped);
    }
    spec.labels[kSessionLabel] = s.name;
    spec.labels[kHomeLabel] = host.home;
    if (!host.home_id.empty()) spec.labels[kHomeIdLabel] = host.home_id;
    spec.working_dir = s.repo_subdir.empty() ? kWorkspace : fmt::format("{}/{}", kWorkspace, s.repo_subdir);
    spec.user = host.user;
    spec.tty = true;
    spec.open_stdin = true;
    spec.init = true;

    // The work tree, its ".git" file read-only over itself (it names kContainerGitDir, a path
    // that exists only in here), the session's own repository there (its config and hooks
    // read-only), and the user's object directories read-only at their own paths, which the
    // session's objects/info/alternates names. Nothing else of the user's repository.
    const std::string git_dir = kContainerGitDir;
    spec.mounts.push_back({s.worktree, kWorkspace, false, Mount::bind});
    spec.mounts.push_back({s.worktree + "/.git", std::string(kWorkspace) + "/.git", true, Mount::bind});
    spec.mounts.push_back({host.session_git_dir, git_dir, false, Mount::bind});
    spec.mounts.push_back({host.session_git_dir + "/config", git_dir + "/config", true, Mount::bind});
    spec.mounts.push_back({host.session_git_dir + "/hooks", git_dir + "/hooks", true, Mount::bind});
    for (const auto& dir : host.object_dirs) spec.mounts.push_back({dir, dir, true, Mount::bind});
    spec.mounts.push_back({host.ca_cert, kCaPath, true, Mount::bind});
    spec.mounts.push_back({host.ca_bundle, kCaBundlePath, true, Mount::bind});
    for (const char* path : kSystemTrustPaths) spec.mounts.push_back({host.ca_bundle, path, true, Mount::bind});
    spec.mounts.push_back({host.hooks_dir, "/etc/airlock/hooks", true, Mount::bind});
    if (s.prompt_mode == PromptMode::stdin_ && !host.prompt_file.empty())
        spec.mounts.push_back({host.prompt_file, "/etc/airlock/prompt", true, Mount::bind});
    spec.mounts.push_back({s.home_volume, kAgentHome, false, Mount::volume});
    for (const auto& c : host.caches) spec.mounts.push_back({cache_volume_name(c.name), c.target, false, Mount::volume});
    if (network == NetworkKind::confined) {
        spec.mounts.push_back({host.relay_binary, kRelayPath, true, Mount::bind});
        spec.mounts.push_back({host.proxy_socket_dir, kProxySocketDir, true, Mount::bind});
    }

    if (network != NetworkKind::none) {
        auto proxy = proxy_url(s.name, token, s.network, host.proxy_port);
        for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
            spec.env.push_back(fmt::format("{}={}", k, proxy));
        spec.env.push_back("NO_PROXY=localhost,127.0.0.1");  // the container's own loopback
        spec.env.push_back("no_proxy=localhost,127.0.0.1");
    }
    for (const char* k : kCaBundleVariables) spec.env.push_back(fmt::format("{}={}", k, kCaBundlePath));
    spec.env.push_back(fmt::format("NODE_EXTRA_CA_CERTS={}", kCaPath));  // added to Node's own roots
    spec.env.push_back("NODE_USE_ENV_PROXY=1");
    spec.env.push_back(fmt::format("HOME={}", kAgentHome));
    spec.env.push_back(fmt::format("AIRLOCK_SESSION={}", s.name));
    for (const auto& rule : host.credentials) {
        bool in_scope = s.credentials.empty();
        for (const auto& c : s.credentials) in_scope = in_scope || c == rule.name;
        if (in_scope && rule.placeholder && !rule.placeholder->env.empty())
            spec.env.push_back(fmt::format("{}={}", rule.placeholder->env, rule.placeholder->value));
    }
    if (!host.git_author_name.empty()) {
        spec.env.push_back("GIT_AUTHOR_NAME=" + host.git_author_name);
        spec.env.push_back("GIT_COMMITTER_NAME=" + host.git_author_name);
    }
    if (!host.git_author_email.empty()) {
        spec.env.push_back("GIT_AUTHOR_EMAIL=" + host.git_author_email);
        spec.env.push_back("GIT_COMMITTER_EMAIL=" + host.git_author_email);
    }
    // The agent definition's variables, then --env: each replaces an earlier one of its name.
    if (auto agent = host.agents.find(s.agent); !s.agent.empty() && agent != host.agents.end())
        for (const auto& [k, v] : agent->second.env)
            if (!is_reserved_agent_env(k)) set_env(spec.env, fmt::format("{}={}", k, v));
    for (const auto& e : s.extra_env) set_env(spec.env, e);

    // Confined and none have no route to the host: no name for it either.
    if (network == NetworkKind::open || network == NetworkKind::user)
        spec.extra_hosts.push_back("host.docker.internal:host-gateway");
    spec.network = docker_network_mode(s.network);
    if (!s.cpus.empty()) {
        auto cpus = docker::parse_cpus(s.cpus);
        if (!cpus) return cpus.error();
        spec.cpus = *cpus;
    }
    if (!s.memory.empty()) {
        auto bytes = docker::parse_memory(s.memory);
        if (!bytes) return bytes.error();
        spec.memory_bytes = *bytes;
    }
    spec.pids_limit = s.pids_limit;
    spec.read_only_rootfs = s.read_only;
    spec.cap_drop = {"ALL"};
    spec.security_opt = {"no-new-privileges"};
    return spec;
}

}  // namespace airlock::session
