// The container a session gets (session/container.hpp): of the user's repository only the
// object directories are mounted, read-only; the session's own repository is where commits go.
// Per network value: what confines it is in the spec.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>

#include "session/container.hpp"
#include "session/network.hpp"
#include "session/session_repo.hpp"

using namespace airlock;
using namespace airlock::session;

TEST_CASE("build_container_spec: nothing of the user's repository is writable") {
    Session s;
    s.name = "s";
    s.repo_root = "/repo";
    s.git_common_dir = "/repo/.git";
    s.worktree = "/home/u/.airlock/worktrees/s";
    s.branch = "airlock/s";
    s.image = "busybox:latest";
    s.agent_command = {"sh", "-c"};
    HostSettings host;
    host.session_git_dir = "/home/u/.airlock/sessions/s/git";
    host.object_dirs = {"/repo/.git/objects", "/shared/objects"};
    host.relay_binary = "/usr/libexec/airlock/airlock-relay";  // confined, the default
    host.proxy_socket_dir = "/home/u/.airlock/run";
    auto spec = build_container_spec(s, host, "token");
    REQUIRE(spec.ok());
    std::map<std::string, Mount> by_target;
    for (const auto& m : spec->mounts) by_target[m.target] = m;

    CHECK(by_target.at("/workspace").source == s.worktree);
    CHECK_FALSE(by_target.at("/workspace").read_only);
    CHECK(by_target.at("/workspace/.git").source == s.worktree + "/.git");
    CHECK(by_target.at("/workspace/.git").read_only);
    CHECK(by_target.at(kContainerGitDir).source == host.session_git_dir);
    CHECK_FALSE(by_target.at(kContainerGitDir).read_only);
    CHECK(by_target.at(std::string(kContainerGitDir) + "/config").read_only);
    CHECK(by_target.at(std::string(kContainerGitDir) + "/hooks").read_only);
    CHECK(by_target.at("/repo/.git/objects").read_only);
    CHECK(by_target.at("/shared/objects").read_only);
    for (const auto& m : spec->mounts) {
        INFO(m.source << " -> " << m.target);
        bool in_user_repo = m.source.rfind("/repo/.git", 0) == 0 || m.source.rfind("/shared", 0) == 0;
        if (in_user_repo) CHECK(m.read_only);
        CHECK(m.source != "/repo/.git");
        CHECK(m.target != "/repo/.git");
    }
}

namespace {

Session session_on(const std::string& network) {
    Session s;
    s.name = "fix-it";
    s.image = "node:22";
    s.worktree = "/h/worktrees/fix-it";
    s.git_common_dir = "/repo/.git";
    s.home_volume = "airlock-home-fix-it";
    s.agent_command = {"claude"};
    s.prompt = "fix the test";
    s.network = network;
    return s;
}

HostSettings host() {
    HostSettings h;
    h.home = "/h";
    h.ca_cert = "/h/ca/ca.pem";
    h.ca_bundle = "/h/ca/ca-bundle.pem";
    h.hooks_dir = "/h/hooks";
    h.proxy_port = 3030;
    h.proxy_socket_dir = "/h/run";
    h.relay_binary = "/usr/libexec/airlock/airlock-relay";
    h.user = "1000:1000";
    return h;
}

std::string env_value(const ContainerSpec& spec, const std::string& key) {
    for (const auto& e : spec.env)
        if (e.rfind(key + "=", 0) == 0) return e.substr(key.size() + 1);
    return "<unset>";
}

const Mount* mount_at(const ContainerSpec& spec, const std::string& target) {
    for (const auto& m : spec.mounts)
        if (m.target == target) return &m;
    return nullptr;
}

}  // namespace

TEST_CASE("confined: no network but loopback, the relay runs the agent, the proxy's socket directory mounted") {
    auto spec = build_container_spec(session_on("confined"), host(), "tok");
    REQUIRE(spec.ok());
    CHECK(spec->network == "none");
    CHECK(spec->extra_hosts.empty());  // no host.docker.internal: there is no route to it
    CHECK(spec->cmd == std::vector<std::string>{"/run/airlock/relay", "exec", "--port", "3030", "--socket",
                                                "/run/airlock/proxy/proxy.sock", "--", "claude", "fix the test"});
    const Mount* relay = mount_at(*spec, "/run/airlock/relay");
    REQUIRE(relay);
    CHECK(relay->source == "/usr/libexec/airlock/airlock-relay");
    CHECK(relay->read_only);
    CHECK(relay->kind == Mount::bind);
    const Mount* dir = mount_at(*spec, "/run/airlock/proxy");
    REQUIRE(dir);
    CHECK(dir->source == "/h/run");  // the directory, so a restarted proxy's new socket is seen
    CHECK(dir->read_only);
    CHECK(env_value(*spec, "HTTPS_PROXY") == "http://fix-it:tok@127.0.0.1:3030");
    CHECK(env_value(*spec, "http_proxy") == "http://fix-it:tok@127.0.0.1:3030");
    CHECK(env_value(*spec, "NO_PROXY") == "localhost,127.0.0.1");
    for (const auto& e : spec->env) CHECK(e.find("host.docker.internal") == std::string::npos);
}

TEST_CASE("confined: the stdin prompt wrapper runs under the relay too") {
    auto s = session_on("confined");
    s.prompt_mode = PromptMode::stdin_;
    auto spec = build_container_spec(s, host(), "tok");
    REQUIRE(spec.ok());
    REQUIRE(spec->cmd.size() > 8);
    CHECK(spec->cmd[0] == "/run/airlock/relay");
    CHECK(spec->cmd[7] == "sh");
    CHECK(spec->cmd.back() == "claude");
}

TEST_CASE("confined without a relay binary is an error naming the way out") {
    auto h = host();
    h.relay_binary.clear();
    auto spec = build_container_spec(session_on("confined"), h, "tok");
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error().message.find("--network open") != std::string::npos);
}

TEST_CASE("open and bridge: Docker's bridge, the proxy at host.docker.internal, the agent's own argv") {
    for (const char* network : {"open", "bridge"}) {
        CAPTURE(network);
        auto spec = build_container_spec(session_on(network), host(), "tok");
        REQUIRE(spec.ok());
        CHECK(spec->network == "bridge");
        CHECK(spec->extra_hosts == std::vector<std::string>{"host.docker.internal:host-gateway"});
        CHECK(spec->cmd == std::vector<std::string>{"claude", "fix the test"});
        CHECK(env_value(*spec, "HTTPS_PROXY") == "http://fix-it:tok@host.docker.internal:3030");
        CHECK(mount_at(*spec, "/run/airlock/relay") == nullptr);
        CHECK(mount_at(*spec, "/run/airlock/proxy") == nullptr);
    }
}

TEST_CASE("none: no network, no proxy variables, no relay") {
    auto spec = build_container_spec(session_on("none"), host(), "tok");
    REQUIRE(spec.ok());
    CHECK(spec->network == "none");
    CHECK(spec->extra_hosts.empty());
    CHECK(env_value(*spec, "HTTPS_PROXY") == "<unset>");
    CHECK(spec->cmd == std::vector<std::string>{"claude", "fix the test"});
    CHECK(mount_at(*spec, "/run/airlock/relay") == nullptr);
}

TEST_CASE("a user network: that network, as today") {
    auto spec = build_container_spec(session_on("team-net"), host(), "tok");
    REQUIRE(spec.ok());
    CHECK(spec->network == "team-net");
    CHECK(env_value(*spec, "HTTPS_PROXY") == "http://fix-it:tok@host.docker.internal:3030");
    CHECK(spec->extra_hosts == std::vector<std::string>{"host.docker.internal:host-gateway"});
}

TEST_CASE("network values: kinds, engine modes and what people are told") {
    CHECK(network_kind("confined") == NetworkKind::confined);
    CHECK(network_kind("open") == NetworkKind::open);
    CHECK(network_kind("bridge") == NetworkKind::open);
    CHECK(network_kind("none") == NetworkKind::none);
    CHECK(network_kind("host") == NetworkKind::user);
    CHECK(network_kind("Confined") == NetworkKind::user);  // names are exact, as Docker's are
    CHECK(docker_network_mode("confined") == "none");
    CHECK(docker_network_mode("open") == "bridge");
    CHECK(docker_network_mode("my-net") == "my-net");
    CHECK(describe_network("confined").rfind("confined: the proxy is all", 0) == 0);
    CHECK(describe_network("open").find("UNCONFINED") != std::string::npos);
    CHECK(describe_network("my-net").find("UNCONFINED") != std::string::npos);
    CHECK(describe_network("none").find("cannot reach the proxy") != std::string::npos);
    CHECK(network_column("confined") == "confined");
    CHECK(network_column("open") == "open (unconfined)");
    CHECK(network_column("none") == "none (no network)");
    CHECK(network_column("my-net") == "my-net (unconfined)");
    CHECK(std::string(kDefaultNetwork) == "confined");
    CHECK(Session{}.network == kDefaultNetwork);
    CHECK(DockerSettings{}.network == kDefaultNetwork);
}

TEST_CASE("network values users may type") {
    for (const char* good : {"confined", "open", "none", "bridge", "my_net.2-b"}) CHECK(validate_network(good).ok());
    for (const char* bad : {"", "-x", ".x", "my net", "a/b", "x;y"}) {
        CAPTURE(bad);
        auto st = validate_network(bad);
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().message.find("expected confined, open, none or the name of a Docker network") !=
              std::string::npos);
    }
}

TEST_CASE("trust: the merged bundle read-only over every distribution's system trust store, and the variables") {
    for (const char* network : {"confined", "open", "none"}) {
        CAPTURE(network);
        auto spec = build_container_spec(session_on(network), host(), "tok");
        REQUIRE(spec.ok());
        for (const char* path : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                                 "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
                                 "/etc/ssl/ca-bundle.pem", "/etc/airlock/ca-bundle.pem"}) {
            CAPTURE(path);
            const Mount* m = mount_at(*spec, path);
            REQUIRE(m);
            CHECK(m->source == "/h/ca/ca-bundle.pem");
            CHECK(m->read_only);  // the agent cannot add a root of its own for the next session
            CHECK(m->kind == Mount::bind);
        }
        CHECK(mount_at(*spec, "/etc/airlock/ca.pem")->source == "/h/ca/ca.pem");
        for (const char* var : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT",
                                "CODEX_CA_CERTIFICATE"})
            CHECK_MESSAGE(env_value(*spec, var) == "/etc/airlock/ca-bundle.pem", var);
        CHECK(env_value(*spec, "NODE_EXTRA_CA_CERTS") == "/etc/airlock/ca.pem");  // added to Node's own roots
        CHECK(env_value(*spec, "NODE_USE_ENV_PROXY") == "1");
    }
}

TEST_CASE("agent env: the session's agent's variables, replaced by --env, never duplicated") {
    auto s = session_on("confined");
    s.agent = "gemini";
    s.extra_env = {"GEMINI_CLI_TRUST_WORKSPACE=false", "MINE=1", "SSL_CERT_FILE=/mine.pem"};
    auto h = host();
    AgentDefinition gemini;
    gemini.command = {"gemini"};
    gemini.env = {{"GEMINI_CLI_TRUST_WORKSPACE", "true"}, {"CURL_CA_BUNDLE", "/agent.pem"}, {"EMPTY", ""},
                  {"HTTPS_PROXY", "http://elsewhere:1"}};  // reserved: never applied (config refuses it too)
    h.agents["gemini"] = gemini;
    h.agents["other"] = AgentDefinition{{"other"}, PromptMode::arg, {{"OTHER_ONLY", "1"}}, {}};
    auto spec = build_container_spec(s, h, "tok");
    REQUIRE(spec.ok());
    CHECK(env_value(*spec, "GEMINI_CLI_TRUST_WORKSPACE") == "false");  // --env wins
    CHECK(env_value(*spec, "CURL_CA_BUNDLE") == "/agent.pem");         // the agent's over airlock's default
    CHECK(env_value(*spec, "SSL_CERT_FILE") == "/mine.pem");
    CHECK(env_value(*spec, "EMPTY") == "");
    CHECK(env_value(*spec, "MINE") == "1");
    CHECK(env_value(*spec, "OTHER_ONLY") == "<unset>");  // another agent's settings stay there
    CHECK(env_value(*spec, "HTTPS_PROXY") == "http://fix-it:tok@127.0.0.1:3030");
    std::map<std::string, int> names;
    for (const auto& e : spec->env) ++names[e.substr(0, e.find('='))];
    for (const auto& [name, n] : names) CHECK_MESSAGE(n == 1, name);

    s.agent = "";  // a raw command: no agent settings
    spec = build_container_spec(s, h, "tok");
    REQUIRE(spec.ok());
    CHECK(env_value(*spec, "CURL_CA_BUNDLE") == "/etc/airlock/ca-bundle.pem");
}
