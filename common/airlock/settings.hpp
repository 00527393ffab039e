#pragma once
// The effective configuration as plain data. src/config.cpp fills it from
// $AIRLOCK_HOME/config.toml (see docs/configuration.md); the domain libraries read it.
// No parsing, no I/O here, so every module can depend on it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airlock {

enum class PullPolicy { always, if_not_present, never };

struct DockerSettings {
    std::string image = "airlock/agent:latest";  // what `airlock image build` builds
    PullPolicy pull_policy = PullPolicy::if_not_present;
    std::string cpus;            // "" = no limit; "2", "0.5"
    std::string memory;          // "" = no limit; "4g", "512m"
    std::int64_t pids_limit = 1024;
    std::string network = "confined";  // confined | open | none | <network name> (session/network.hpp)
    bool read_only_rootfs = false;
    int max_containers = 8;

    bool operator==(const DockerSettings&) const = default;
};

enum class Unmatched { tunnel, deny };

struct ProxySettings {
    std::uint16_t port = 3030;
    // Addresses to listen on; empty = 127.0.0.1 plus the Docker bridge gateway(s).
    std::vector<std::string> listen;
    Unmatched unmatched = Unmatched::tunnel;
    std::vector<std::string> allow;          // host patterns: exact or "*.suffix"
    std::vector<std::uint16_t> ports = {443}; // CONNECT ports allowed
    std::string upstream_ca;                 // extra PEM bundle trusted for upstream TLS
    unsigned threads = 0;                    // 0 = one per core
    std::uint32_t max_connections = 4096;    // open client connections, in all
    std::uint32_t max_connections_per_client = 256;
    std::map<std::string, std::string> resolve;  // "host:port" -> "ip:port"

    bool operator==(const ProxySettings&) const = default;
};

struct SecretSource {
    enum class Kind { none, file, env, command };
    Kind kind = Kind::none;
    std::string value;                 // file path (relative to home) or env var name
    std::vector<std::string> command;  // argv for Kind::command

    bool operator==(const SecretSource&) const = default;
};

struct Placeholder {
    std::string env;    // variable the container gets
    std::string value;  // its value (never the secret)

    bool operator==(const Placeholder&) const = default;
};

struct CredentialRule {
    std::string name;
    std::string preset;               // "" or anthropic | openai | github | gemini
    // "" or claude | chatgpt | google: a subscription login ($AIRLOCK_HOME/logins/<name>.json)
    // whose current access token the proxy injects and refreshes (proxy/login_broker.hpp).
    std::string login;
    std::vector<std::string> hosts;   // exact or "*.suffix"
    std::string header;               // e.g. "x-api-key", "Authorization"
    std::string value_template;       // "{secret}", "Bearer {secret}", "Basic user:{secret}"
    std::optional<Placeholder> placeholder;
    SecretSource secret;

    bool operator==(const CredentialRule&) const = default;
};

struct CacheVolume {
    std::string name;    // volume airlock-cache-<name>
    std::string target;  // mount point in the container

    bool operator==(const CacheVolume&) const = default;
};

enum class PromptMode { arg, stdin_, none };

// A file airlock writes into a session's home volume (/home/agent) before the agent starts,
// at create and at every refresh: written when absent, replaced only with `overwrite`, so
// what the agent (or the user inside the session) changed survives a refresh.
struct AgentFile {
    std::string path;     // relative to the home: ".codex/config.toml" (no "..", no leading '/')
    std::string content;  // the file's bytes, exactly
    unsigned mode = 0644;
    bool overwrite = false;

    bool operator==(const AgentFile&) const = default;
};

struct AgentDefinition {
    std::vector<std::string> command;
    PromptMode prompt = PromptMode::arg;
    // Set in the agent's container (after airlock's own variables, before --env). Never
    // secrets: the container's environment is readable by the agent.
    std::map<std::string, std::string> env;
    std::vector<AgentFile> files;  // at most one per path

    bool operator==(const AgentDefinition&) const = default;
};

struct Config {
    DockerSettings docker;
    ProxySettings proxy;
    std::vector<CredentialRule> credentials;
    std::vector<CacheVolume> caches;
    std::map<std::string, AgentDefinition> agents;

    bool operator==(const Config&) const = default;
};

}  // namespace airlock
