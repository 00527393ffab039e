#include "src/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

Config parse_ok(std::string_view text) {
    auto config = parse_config(text, "/h/config.toml");
    if (!config.ok()) FAIL("unexpected error: " << config.error().message);
    return std::move(config).value();
}

std::string parse_error(std::string_view text) {
    auto config = parse_config(text, "/h/config.toml");
    if (config.ok()) FAIL("expected an error for:\n" << text);
    return config.error().message;
}

// A fresh empty directory under the build's temp dir, removed at scope exit.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "airlock-config-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string read(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A commented-out setting in the starter file: "# [section]" or "# key = value".
// (No std::regex: g++ 12 warns inside <regex> under -fsanitize with -Werror.)
bool is_setting_line(std::string_view line) {
    if (!line.starts_with("# ")) return false;
    line.remove_prefix(2);
    if (line.starts_with("[")) return true;
    std::size_t eq = line.find(" = ");
    if (eq == std::string_view::npos || eq == 0) return false;
    std::string_view key = line.substr(0, eq);
    if (key.size() >= 2 && key.front() == '"' && key.back() == '"') key = key.substr(1, key.size() - 2);
    return std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-';
    });
}

}  // namespace

TEST_CASE("config: an empty file is all defaults") {
    Config config = parse_ok("");
    CHECK(config == default_config());

    CHECK(config.docker.image == "airlock/agent:latest");
    CHECK(config.docker.pull_policy == PullPolicy::if_not_present);
    CHECK(config.docker.cpus.empty());
    CHECK(config.docker.memory.empty());
    CHECK(config.docker.pids_limit == 1024);
    CHECK(config.docker.network == "confined");
    CHECK_FALSE(config.docker.read_only_rootfs);
    CHECK(config.docker.max_containers == 8);

    CHECK(config.proxy.port == 3030);
    CHECK(config.proxy.listen.empty());
    CHECK(config.proxy.unmatched == Unmatched::tunnel);
    CHECK(config.proxy.allow.empty());
    CHECK(config.proxy.ports == std::vector<std::uint16_t>{443});
    CHECK(config.proxy.upstream_ca.empty());
    CHECK(config.proxy.threads == 0);
    CHECK(config.proxy.resolve.empty());

    CHECK(config.credentials.empty());
    REQUIRE(config.caches.size() == 5);
    CHECK(config.caches[0] == CacheVolume{"cargo-registry", "/home/agent/.cargo/registry"});
    CHECK(config.caches[4] == CacheVolume{"pip", "/home/agent/.cache/pip"});

    REQUIRE(config.agents.size() == 4);
    CHECK(config.agents.at("claude").command == std::vector<std::string>{"claude", "--dangerously-skip-permissions"});
    CHECK(config.agents.at("codex").command.at(0) == "codex");
    CHECK(config.agents.at("gemini").command.at(0) == "gemini");
    CHECK(config.agents.at("shell").command == std::vector<std::string>{"sh", "-c"});
    CHECK(config.agents.at("shell").prompt == PromptMode::arg);
}

TEST_CASE("config: a missing file is all defaults; an unreadable one is an error") {
    TempDir dir;
    auto missing = load_config(dir.path() / "config.toml");
    REQUIRE(missing.ok());
    CHECK(*missing == default_config());

    auto directory = load_config(dir.path());
    REQUIRE_FALSE(directory.ok());
    CHECK(directory.error().message.find("is a directory") != std::string::npos);

    fs::path file = dir.path() / "config.toml";
    std::ofstream(file) << "[docker]\nimage = \"node:22\"\n";
    auto loaded = load_config(file);
    REQUIRE(loaded.ok());
    CHECK(loaded->docker.image == "node:22");

    std::ofstream(file) << "[docker]\nimage = 3\n";
    auto bad = load_config(file);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == file.string() + ":2:9: [docker] image: expected a string, got an integer");
}

TEST_CASE("config: every key") {
    Config c = parse_ok(R"(
[docker]
image = "node:22"
pull_policy = "always"
cpus = "1.5"
memory = "4G"
pids_limit = 256
network = "none"
read_only_rootfs = true
max_containers = 3

[proxy]
port = 8080
listen = ["127.0.0.1", "::1", "172.17.0.1"]
unmatched = "deny"
allow = ["*.npmjs.org", "PyPI.org"]
ports = [443, 8443]
upstream_ca = "certs/corp.pem"
threads = 4
max_connections = 10000
max_connections_per_client = 6000

[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:8443"
"API.openai.com:443" = "[::1]:9443"

[[credential]]
name = "internal"
hosts = ["api.internal.example", "*.svc.example"]
header = "Authorization"
template = "Bearer {secret}"
placeholder = { env = "INTERNAL_TOKEN", value = "airlock-placeholder" }
secret = { command = ["op", "read", "op://v/i/f"] }

[[credential]]
name = "files"
hosts = ["files.example"]
header = "X-Token"
template = "{secret}"
secret = { file = "secrets/files" }

[[credential]]
name = "env_one"
hosts = ["env.example"]
header = "X-Key"
template = "Key {secret}"
[credential.secret]
env = "ENV_ONE"

[[cache]]
name = "go.mod"
target = "/home/agent/go/pkg/mod"

[agent.claude]
prompt = "stdin"

[agent.aider]
command = ["aider", "--yes-always"]
prompt = "none"
)");
    CHECK(c.docker.image == "node:22");
    CHECK(c.docker.pull_policy == PullPolicy::always);
    CHECK(c.docker.cpus == "1.5");
    CHECK(c.docker.memory == "4g");
    CHECK(c.docker.pids_limit == 256);
    CHECK(c.docker.network == "none");
    CHECK(c.docker.read_only_rootfs);
    CHECK(c.docker.max_containers == 3);

    CHECK(c.proxy.port == 8080);
    CHECK(c.proxy.listen == std::vector<std::string>{"127.0.0.1", "::1", "172.17.0.1"});
    CHECK(c.proxy.unmatched == Unmatched::deny);
    CHECK(c.proxy.allow == std::vector<std::string>{"*.npmjs.org", "pypi.org"});
    CHECK(c.proxy.ports == std::vector<std::uint16_t>{443, 8443});
    CHECK(c.proxy.upstream_ca == "certs/corp.pem");
    CHECK(c.proxy.threads == 4);
    CHECK(c.proxy.max_connections == 10000);
    CHECK(c.proxy.max_connections_per_client == 6000);
    CHECK(c.proxy.resolve == std::map<std::string, std::string>{{"api.anthropic.com:443", "127.0.0.1:8443"},
                                                                 {"api.openai.com:443", "[::1]:9443"}});

    REQUIRE(c.credentials.size() == 3);
    const CredentialRule& internal = c.credentials[0];
    CHECK(internal.name == "internal");
    CHECK(internal.preset.empty());
    CHECK(internal.hosts == std::vector<std::string>{"api.internal.example", "*.svc.example"});
    CHECK(internal.header == "Authorization");
    CHECK(internal.value_template == "Bearer {secret}");
    REQUIRE(internal.placeholder);
    CHECK(*internal.placeholder == Placeholder{"INTERNAL_TOKEN", "airlock-placeholder"});
    CHECK(internal.secret.kind == SecretSource::Kind::command);
    CHECK(internal.secret.command == std::vector<std::string>{"op", "read", "op://v/i/f"});
    CHECK(c.credentials[1].secret.kind == SecretSource::Kind::file);
    CHECK(c.credentials[1].secret.value == "secrets/files");
    CHECK_FALSE(c.credentials[1].placeholder);
    CHECK(c.credentials[2].secret.kind == SecretSource::Kind::env);
    CHECK(c.credentials[2].secret.value == "ENV_ONE");

    CHECK(c.caches == std::vector<CacheVolume>{{"go.mod", "/home/agent/go/pkg/mod"}});

    CHECK(c.agents.size() == 5);
    CHECK(c.agents.at("claude").command == builtin_agents().at("claude").command);  // kept: only prompt overridden
    CHECK(c.agents.at("claude").prompt == PromptMode::stdin_);
    CHECK(c.agents.at("aider").command == std::vector<std::string>{"aider", "--yes-always"});
    CHECK(c.agents.at("aider").prompt == PromptMode::none);
}

TEST_CASE("config: values in their other accepted forms") {
    struct Case {
        const char* text;
        std::string cpus;
        std::string memory;
    };
    const Case cases[] = {
        {"[docker]\ncpus = 2\nmemory = 1073741824", "2", "1073741824"},
        {"[docker]\ncpus = 0.5\nmemory = \"512m\"", "0.5", "512m"},
        {"[docker]\ncpus = 2.0\nmemory = \"1024MB\"", "2", "1024mb"},
        {"[docker]\ncpus = \"0.25\"\nmemory = \"8192k\"", "0.25", "8192k"},
        {"[docker]\ncpus = \"\"\nmemory = \"\"", "", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        Config config = parse_ok(c.text);
        CHECK(config.docker.cpus == c.cpus);
        CHECK(config.docker.memory == c.memory);
    }
    // cache = [] turns the default caches off; credential = [] is no credentials.
    Config none = parse_ok("cache = []\ncredential = []\n");
    CHECK(none.caches.empty());
    CHECK(none.credentials.empty());
}

TEST_CASE("config: presets fill a credential and can be overridden") {
    REQUIRE(credential_presets().size() == 4);
    const CredentialRule* anthropic = find_preset("anthropic");
    REQUIRE(anthropic != nullptr);
    CHECK(anthropic->hosts == std::vector<std::string>{"api.anthropic.com"});
    CHECK(anthropic->header == "x-api-key");
    CHECK(anthropic->value_template == "{secret}");
    CHECK(*anthropic->placeholder == Placeholder{"ANTHROPIC_API_KEY", "sk-ant-api03-airlock-placeholder"});
    CHECK(find_preset("github")->hosts == std::vector<std::string>{"api.github.com", "github.com"});
    CHECK(find_preset("openai")->value_template == "Bearer {secret}");
    CHECK(find_preset("gemini")->header == "x-goog-api-key");
    CHECK(find_preset("nope") == nullptr);

    Config c = parse_ok(R"(
[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { file = "secrets/anthropic" }

[[credential]]
name = "gh"
preset = "github"
hosts = ["ghe.example.com"]
template = "token {secret}"
placeholder = { value = "ghp_other" }
secret = { env = "GITHUB_TOKEN" }
)");
    REQUIRE(c.credentials.size() == 2);
    const CredentialRule& a = c.credentials[0];
    CHECK(a.preset == "anthropic");
    CHECK(a.hosts == anthropic->hosts);
    CHECK(a.header == "x-api-key");
    CHECK(a.value_template == "{secret}");
    CHECK(a.placeholder == anthropic->placeholder);
    CHECK(a.secret.kind == SecretSource::Kind::file);

    const CredentialRule& gh = c.credentials[1];
    CHECK(gh.preset == "github");
    CHECK(gh.hosts == std::vector<std::string>{"ghe.example.com"});  // overridden
    CHECK(gh.header == "Authorization");                             // from the preset
    CHECK(gh.value_template == "token {secret}");                    // overridden
    CHECK(*gh.placeholder == Placeholder{"GH_TOKEN", "ghp_other"});  // env from the preset
}

TEST_CASE("config: errors name the file, line and column and what was expected") {
    struct Case {
        const char* what;
        const char* text;
        std::string message;
    };
    const Case cases[] = {
        // Unknown keys and sections.
        {"unknown top-level section", "[dockr]\nimage = \"x\"\n",
         "/h/config.toml:1:2: unknown section \"dockr\" (did you mean \"docker\"?); valid sections: docker, proxy, credential, cache, agent"},
        {"unknown top-level key", "colour = \"x\"\n",
         "/h/config.toml:1:1: unknown section \"colour\"; valid sections: docker, proxy, credential, cache, agent"},
        {"docker key at the top level", "image = \"x\"\n",
         "/h/config.toml:1:1: unknown top-level key \"image\"; it belongs in [docker] (write it after a [docker] line)"},
        {"section key at the top level", "port = 1\n[docker]\n",
         "/h/config.toml:1:1: unknown top-level key \"port\"; it belongs in [proxy] (write it after a [proxy] line)"},
        {"unknown docker key", "[docker]\nimage = \"x\"\npull = \"always\"\n",
         "/h/config.toml:3:1: [docker] unknown key \"pull\"; valid keys: image, pull_policy, cpus, memory, pids_limit, network, read_only_rootfs, max_containers"},
        {"unknown proxy key with a hint", "[proxy]\n  prot = 1\n",
         "/h/config.toml:2:3: [proxy] unknown key \"prot\" (did you mean \"port\"?); valid keys: port, listen, unmatched, allow, ports, upstream_ca, threads, max_connections, max_connections_per_client, resolve"},
        {"unknown credential key",
         "[[credential]]\nname = \"x\"\nhost = [\"a.example\"]\n",
         "/h/config.toml:3:1: [[credential]] #1 unknown key \"host\" (did you mean \"hosts\"?); valid keys: name, preset, login, hosts, header, template, placeholder, secret"},
        {"unknown key inside secret",
         "[[credential]]\nname = \"x\"\npreset = \"openai\"\nsecret = { path = \"s\" }\n",
         "/h/config.toml:4:12: [[credential]] \"x\" secret unknown key \"path\"; valid keys: file, env, command"},
        {"unknown key inside placeholder",
         "[[credential]]\nname = \"x\"\npreset = \"openai\"\nplaceholder = { name = \"A\" }\nsecret = { env = \"A\" }\n",
         "/h/config.toml:4:17: [[credential]] \"x\" placeholder unknown key \"name\"; valid keys: env, value"},
        {"unknown cache key", "[[cache]]\nname = \"n\"\ntarget = \"/t\"\nsize = 1\n",
         "/h/config.toml:4:1: [[cache]] #1 unknown key \"size\"; valid keys: name, target"},
        {"unknown agent key", "[agent.claude]\ncmd = [\"x\"]\n",
         "/h/config.toml:2:1: [agent.claude] unknown key \"cmd\"; valid keys: command, prompt, env, files, inherit_builtin"},

        // Wrong types.
        {"string expected", "[docker]\nimage = 3\n", "/h/config.toml:2:9: [docker] image: expected a string, got an integer"},
        {"integer expected", "[docker]\npids_limit = \"10\"\n",
         "/h/config.toml:2:14: [docker] pids_limit: expected an integer, got a string"},
        {"float for an integer", "[proxy]\nport = 80.0\n",
         "/h/config.toml:2:8: [proxy] port: expected an integer, got a floating-point number"},
        {"boolean expected", "[docker]\nread_only_rootfs = \"yes\"\n",
         "/h/config.toml:2:20: [docker] read_only_rootfs: expected a boolean (true or false), got a string"},
        {"array element", "[proxy]\nallow = [\"a.example\", 3]\n",
         "/h/config.toml:2:23: [proxy] allow[1]: expected a string, got an integer"},
        {"section not a table", "docker = \"x\"\n", "/h/config.toml:1:10: docker: expected a table ([docker]), got a string"},
        {"[cache] instead of [[cache]]", "[cache]\nname = \"x\"\n",
         "/h/config.toml:1:1: cache: expected an array of tables ([[cache]]), got a table"},
        {"cpus as boolean", "[docker]\ncpus = true\n",
         "/h/config.toml:2:8: [docker] cpus: expected a string or a number (\"2\", 0.5), got a boolean"},

        // Enums.
        {"bad pull_policy", "[docker]\npull_policy = \"sometimes\"\n",
         "/h/config.toml:2:15: [docker] pull_policy must be one of always, if-not-present, never (got \"sometimes\")"},
        {"bad unmatched", "[proxy]\nunmatched = \"drop\"\n",
         "/h/config.toml:2:13: [proxy] unmatched must be one of tunnel, deny (got \"drop\")"},
        {"bad prompt", "[agent.x]\ncommand = [\"x\"]\nprompt = \"file\"\n",
         "/h/config.toml:3:10: [agent.x] prompt must be one of arg, stdin, none (got \"file\")"},
        {"bad preset", "[[credential]]\nname = \"x\"\npreset = \"claude\"\n",
         "/h/config.toml:3:10: [[credential]] \"x\" preset must be one of anthropic, openai, github, gemini (got \"claude\")"},

        // Values.
        {"bad memory", "[docker]\nmemory = \"4 gigs\"\n",
         "/h/config.toml:2:10: [docker] memory is invalid: memory '4 gigs': expected a number with an optional unit b, k, m, g or t (or kb, mb, gb, tb; powers of 1024, any case), e.g. 512m or 4g"},
        {"tiny memory", "[docker]\nmemory = \"1k\"\n",
         "/h/config.toml:2:10: [docker] memory is invalid: memory '1k': below Docker's minimum memory limit of 6m"},
        {"bad cpus", "[docker]\ncpus = \"two\"\n",
         "/h/config.toml:2:8: [docker] cpus is invalid: cpus 'two': expected a positive number of CPUs, e.g. 2 or 0.5"},
        {"zero cpus", "[docker]\ncpus = 0\n", "/h/config.toml:2:8: [docker] cpus is invalid: cpus '0': must be greater than 0"},
        {"negative float cpus", "[docker]\ncpus = -0.5\n", "/h/config.toml:2:8: [docker] cpus must be greater than 0 (got -0.5)"},
        {"pids_limit zero", "[docker]\npids_limit = 0\n", "/h/config.toml:2:14: [docker] pids_limit is invalid: pids_limit 0: must be at least 32 (the container's init, the agent and its shell need processes; 0 does not mean unlimited)"},
        {"pids_limit below the minimum", "[docker]\npids_limit = 1\n", "/h/config.toml:2:14: [docker] pids_limit is invalid: pids_limit 1: must be at least 32 (the container's init, the agent and its shell need processes; 0 does not mean unlimited)"},
        {"max_containers zero", "[docker]\nmax_containers = 0\n",
         "/h/config.toml:2:18: [docker] max_containers must be between 1 and 100000 (got 0)"},
        {"port range", "[proxy]\nport = 70000\n", "/h/config.toml:2:8: [proxy] port must be between 1 and 65535 (got 70000)"},
        {"ports range", "[proxy]\nports = [443, 0]\n", "/h/config.toml:2:15: [proxy] ports[1] must be between 1 and 65535 (got 0)"},
        {"max_connections zero", "[proxy]\nmax_connections = 0\n",
         "/h/config.toml:2:19: [proxy] max_connections must be between 1 and 1000000 (got 0)"},
        {"threads negative", "[proxy]\nthreads = -1\n",
         "/h/config.toml:2:11: [proxy] threads must be between 0 (one per core) and 1024 (got -1)"},
        {"listen not an IP", "[proxy]\nlisten = [\"localhost\"]\n",
         "/h/config.toml:2:11: [proxy] listen[0] must be an IP address such as \"127.0.0.1\" or \"::1\" (got \"localhost\")"},
        {"allow pattern", "[proxy]\nallow = [\"*\"]\n",
         "/h/config.toml:2:10: [proxy] allow[0] must be a host name or \"*.suffix\" (got \"*\")"},
        {"allow pattern with a scheme", "[proxy]\nallow = [\"https://x.example\"]\n",
         "/h/config.toml:2:10: [proxy] allow[0] must be a host name or \"*.suffix\" (got \"https://x.example\")"},
        {"network name", "[docker]\nnetwork = \"my net\"\n",
         "/h/config.toml:2:11: [docker] network must be confined, open, none or a Docker network name (got \"my net\")"},

        // [proxy.resolve]
        {"resolve key without port", "[proxy.resolve]\n\"api.example.com\" = \"127.0.0.1:443\"\n",
         "/h/config.toml:2:1: [proxy.resolve] key \"api.example.com\" must be \"host:port\", e.g. \"api.anthropic.com:443\""},
        {"resolve key with a bad port", "[proxy.resolve]\n\"api.example.com:https\" = \"127.0.0.1:443\"\n",
         "/h/config.toml:2:1: [proxy.resolve] key \"api.example.com:https\" must be \"host:port\", e.g. \"api.anthropic.com:443\""},
        {"resolve target is a name", "[proxy.resolve]\n\"a.example:443\" = \"localhost:8443\"\n",
         "/h/config.toml:2:19: [proxy.resolve] \"a.example:443\" must resolve to an IP address and port, \"127.0.0.1:8443\" or \"[::1]:8443\" (got \"localhost:8443\")"},
        {"resolve target without port", "[proxy.resolve]\n\"a.example:443\" = \"127.0.0.1\"\n",
         "/h/config.toml:2:19: [proxy.resolve] \"a.example:443\" must resolve to an IP address and port, \"127.0.0.1:8443\" or \"[::1]:8443\" (got \"127.0.0.1\")"},
        {"resolve target v6 unbracketed", "[proxy.resolve]\n\"a.example:443\" = \"::1:8443\"\n",
         "/h/config.toml:2:19: [proxy.resolve] \"a.example:443\" must resolve to an IP address and port, \"127.0.0.1:8443\" or \"[::1]:8443\" (got \"::1:8443\")"},
        {"resolve target port out of range", "[proxy.resolve]\n\"a.example:443\" = \"[::1]:99999\"\n",
         "/h/config.toml:2:19: [proxy.resolve] \"a.example:443\" must resolve to an IP address and port, \"127.0.0.1:8443\" or \"[::1]:8443\" (got \"[::1]:99999\")"},
        {"resolve target not a string", "[proxy.resolve]\n\"a.example:443\" = 8443\n",
         "/h/config.toml:2:19: [proxy.resolve] \"a.example:443\": expected a string \"ip:port\", got an integer"},

        // Credentials.
        {"credential without a name", "[[credential]]\npreset = \"openai\"\n",
         "/h/config.toml:1:1: [[credential]] #1: missing required key \"name\""},
        {"credential name characters", "[[credential]]\nname = \"My Key\"\n",
         "/h/config.toml:2:8: [[credential]] #1 name must be lowercase letters, digits, '_' or '-' (got \"My Key\")"},
        {"duplicate credential name",
         "[[credential]]\nname = \"a\"\npreset = \"openai\"\nsecret = { env = \"A\" }\n"
         "[[credential]]\nname = \"a\"\npreset = \"gemini\"\nsecret = { env = \"B\" }\n",
         "/h/config.toml:6:8: [[credential]] name \"a\" is used twice; credential names must be unique"},
        {"two credentials for one host",
         "[[credential]]\nname = \"a\"\npreset = \"openai\"\nsecret = { env = \"A\" }\n"
         "[[credential]]\nname = \"b\"\npreset = \"openai\"\nsecret = { env = \"B\" }\n",
         "/h/config.toml:5:1: [[credential]] \"b\" host \"api.openai.com\" is already covered by credential \"a\"; a host can have only one credential"},
        {"no preset, no hosts", "[[credential]]\nname = \"x\"\nheader = \"A\"\ntemplate = \"{secret}\"\nsecret = { env = \"A\" }\n",
         "/h/config.toml:1:1: [[credential]] \"x\": missing required key \"hosts\" (e.g. hosts = [\"api.example.com\"]), or set preset to one of anthropic, openai, github, gemini to fill it"},
        {"no preset, no header", "[[credential]]\nname = \"x\"\nhosts = [\"a.example\"]\ntemplate = \"{secret}\"\nsecret = { env = \"A\" }\n",
         "/h/config.toml:1:1: [[credential]] \"x\": missing required key \"header\" (e.g. header = \"Authorization\"), or set preset to one of anthropic, openai, github, gemini to fill it"},
        {"no preset, no template", "[[credential]]\nname = \"x\"\nhosts = [\"a.example\"]\nheader = \"A\"\nsecret = { env = \"A\" }\n",
         "/h/config.toml:1:1: [[credential]] \"x\": missing required key \"template\" (e.g. template = \"Bearer {secret}\"), or set preset to one of anthropic, openai, github, gemini to fill it"},
        {"no secret", "[[credential]]\nname = \"x\"\npreset = \"openai\"\n",
         "/h/config.toml:1:1: [[credential]] \"x\": missing required key \"secret\": secret = { file = \"secrets/<name>\" } or { env = \"VAR\" } or { command = [\"op\", \"read\", \"...\"] }"},
        {"secret with two sources", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nsecret = { file = \"f\", env = \"E\" }\n",
         "/h/config.toml:4:30: [[credential]] \"x\" secret env cannot be combined with file; give exactly one of file, env, command"},
        {"secret with no source", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nsecret = {}\n",
         "/h/config.toml:4:10: [[credential]] \"x\" secret: give one of file, env, command"},
        {"secret not a table", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nsecret = \"sk-live\"\n",
         "/h/config.toml:4:10: [[credential]] \"x\" secret: expected a table { file = \"...\" } | { env = \"...\" } | { command = [...] }, got a string"},
        {"secret command empty", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nsecret = { command = [] }\n",
         "/h/config.toml:4:22: [[credential]] \"x\" secret command must be a non-empty argv array, e.g. [\"op\", \"read\", \"op://vault/item/field\"]"},
        {"secret env name", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nsecret = { env = \"A-B\" }\n",
         "/h/config.toml:4:18: [[credential]] \"x\" secret env must be an environment variable name (got \"A-B\")"},
        {"template without {secret}", "[[credential]]\nname = \"x\"\npreset = \"openai\"\ntemplate = \"Bearer\"\nsecret = { env = \"A\" }\n",
         "/h/config.toml:4:12: [[credential]] \"x\" template must contain {secret}, e.g. \"Bearer {secret}\" (got \"Bearer\")"},
        {"header with a space", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nheader = \"X Key\"\nsecret = { env = \"A\" }\n",
         "/h/config.toml:4:10: [[credential]] \"x\" header must be an HTTP header name such as \"Authorization\" (got \"X Key\")"},
        {"header the proxy owns", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nheader = \"Host\"\nsecret = { env = \"A\" }\n",
         "/h/config.toml:4:10: [[credential]] \"x\" header cannot be \"Host\": the proxy owns that header"},
        {"empty hosts", "[[credential]]\nname = \"x\"\npreset = \"openai\"\nhosts = []\nsecret = { env = \"A\" }\n",
         "/h/config.toml:4:9: [[credential]] \"x\" hosts must list at least one host"},
        {"placeholder without env, no preset",
         "[[credential]]\nname = \"x\"\nhosts = [\"a.example\"]\nheader = \"A\"\ntemplate = \"{secret}\"\nplaceholder = { value = \"v\" }\nsecret = { env = \"A\" }\n",
         "/h/config.toml:6:15: [[credential]] \"x\" placeholder: missing required key \"env\" (the variable the container gets)"},

        // Caches and agents.
        {"cache target relative", "[[cache]]\nname = \"n\"\ntarget = \"cache\"\n",
         "/h/config.toml:3:10: [[cache]] #1 target must be an absolute path in the container (got \"cache\")"},
        {"cache in workspace", "[[cache]]\nname = \"n\"\ntarget = \"/workspace/node_modules\"\n",
         "/h/config.toml:3:10: [[cache]] #1 target cannot be inside /workspace, where the worktree is mounted"},
        {"cache name", "[[cache]]\nname = \"N!\"\ntarget = \"/t\"\n",
         "/h/config.toml:2:8: [[cache]] #1 name must be lowercase letters, digits, '_', '.' or '-' (got \"N!\")"},
        {"duplicate cache name", "[[cache]]\nname = \"n\"\ntarget = \"/a\"\n[[cache]]\nname = \"n\"\ntarget = \"/b\"\n",
         "/h/config.toml:5:8: [[cache]] #2 name \"n\" is used twice; cache names must be unique"},
        {"cache without target", "[[cache]]\nname = \"n\"\n",
         "/h/config.toml:1:1: [[cache]] #1: missing required key \"target\" (the mount point in the container)"},
        {"new agent without command", "[agent.aider]\nprompt = \"arg\"\n",
         "/h/config.toml:1:1: [agent.aider]: missing required key \"command\", e.g. command = [\"my-agent\", \"--yes\"]"},
        {"agent empty command", "[agent.claude]\ncommand = []\n",
         "/h/config.toml:2:11: [agent.claude] command must be a non-empty array of strings, e.g. [\"claude\"]"},
        {"agent env reserved", "[agent.codex]\nenv = { HTTPS_PROXY = \"http://elsewhere\" }\n",
         "/h/config.toml:2:23: [agent.codex] env HTTPS_PROXY: airlock sets that variable itself (the proxy, the home, the session's name); leave it out"},
        {"agent env not a string", "[agent.codex]\nenv = { N = 1 }\n",
         "/h/config.toml:2:13: [agent.codex] env N: expected a string, got an integer"},
        {"agent env name", "[agent.codex]\nenv = { \"A-B\" = \"x\" }\n",
         "/h/config.toml:2:17: [agent.codex] env \"A-B\" is not an environment variable name (letters, digits, '_')"},
        {"agent file absolute", "[[agent.codex.files]]\npath = \"/etc/passwd\"\ncontent = \"x\"\n",
         "/h/config.toml:2:8: [[agent.codex.files]] #1 path is invalid: '/etc/passwd' is absolute; give it relative to the home (/home/agent), e.g. \".codex/config.toml\""},
        {"agent file escapes", "[[agent.x.files]]\npath = \".codex/../../etc/x\"\ncontent = \"x\"\n[agent.x]\ncommand = [\"x\"]\n",
         "/h/config.toml:2:8: [[agent.x.files]] #1 path is invalid: '.codex/../../etc/x' has a '..' part; give a plain path inside the home"},
        {"agent file in a shared cache", "[[agent.codex.files]]\npath = \".npm/_cacache/x\"\ncontent = \"x\"\n",
         "/h/config.toml:2:8: [[agent.codex.files]] #1 path \".npm/_cacache/x\" is inside the cache volume \"npm\" (/home/agent/.npm), which every session shares; write it elsewhere"},
        {"agent file twice", "[[agent.codex.files]]\npath = \"a\"\ncontent = \"x\"\n[[agent.codex.files]]\npath = \"a\"\ncontent = \"y\"\n",
         "/h/config.toml:5:8: [[agent.codex.files]] #2 path \"a\" is given twice"},
        {"agent file without content", "[[agent.codex.files]]\npath = \"a\"\n",
         "/h/config.toml:1:1: [[agent.codex.files]] #1: missing required key \"content\" (the file's text)"},
        {"agent file mode", "[[agent.codex.files]]\npath = \"a\"\ncontent = \"\"\nmode = 0o10000\n",
         "/h/config.toml:4:8: [[agent.codex.files]] #1 mode must be a file mode from 0o000 to 0o7777, e.g. 0o600 or \"0644\""},
        {"agent file mode unreadable", "[[agent.codex.files]]\npath = \"a\"\ncontent = \"\"\nmode = \"0200\"\n",
         "/h/config.toml:4:8: [[agent.codex.files]] #1 mode must let the owner read the file (0o400), or the agent cannot read it"},
        {"agent file unknown key", "[[agent.codex.files]]\npath = \"a\"\ncontent = \"\"\nowner = 1\n",
         "/h/config.toml:4:1: [[agent.codex.files]] #1 unknown key \"owner\"; valid keys: path, content, mode, overwrite"},
        {"agent name", "[agent.My_Agent]\ncommand = [\"x\"]\n",
         "/h/config.toml:1:8: [agent.My_Agent]: agent names must be lowercase letters, digits, '_' or '-'"},

        // TOML syntax errors keep toml++'s position.
        {"syntax error", "[docker]\nimage = \"unterminated\n",
         "/h/config.toml:2:22: invalid TOML: Error while parsing string: unescaped control characters other than TAB (U+0009) are explicitly prohibited"},
        {"duplicate key", "[docker]\nimage = \"a\"\nimage = \"b\"\n",
         "/h/config.toml:3:9: invalid TOML: Error while parsing key-value pair: cannot redefine existing string 'image'"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        CHECK(parse_error(c.text) == c.message);
    }
}

TEST_CASE("config: render_config parses back to an equal Config") {
    std::vector<Config> configs;
    configs.push_back(default_config());
    configs.push_back(parse_ok("cache = []\n[agent.x]\ncommand = [\"x\", \"quote\\\"d\", \"back\\\\slash\", \"tab\\t\"]\nprompt = \"stdin\"\n"));
    configs.push_back(parse_ok(R"(
[agent.codex]
inherit_builtin = false
env = { "A" = "quote\" back\\ tab\t nl\n" }
[[agent.codex.files]]
path = "dir/x.json"
content = "three \"\"\" quotes, a \\ backslash, \r\n and \u0001\nlast line without newline"
mode = 0o600
overwrite = true
[agent.mine]
command = ["mine"]
env = { B = "" }
[[agent.mine.files]]
path = "empty"
content = ""
)"));
    configs.push_back(parse_ok(R"(
[docker]
image = "node:22"
pull_policy = "never"
cpus = 0.5
memory = 1073741824
pids_limit = 99
network = "my-net"
read_only_rootfs = true
max_containers = 1
[proxy]
port = 1
listen = ["0.0.0.0"]
unmatched = "deny"
allow = ["*.a.example", "b.example"]
ports = []
upstream_ca = "/etc/ssl/corp.pem"
threads = 1024
max_connections = 1
max_connections_per_client = 1000000
[proxy.resolve]
"a.example:443" = "[2001:db8::1]:443"
"b.example:8443" = "10.0.0.1:1"
[[credential]]
name = "openai"
preset = "openai"
secret = { command = ["sh", "-c", "cat ~/.key"] }
[[credential]]
name = "x"
hosts = ["x.example"]
header = "X-Api-Key"
template = "Basic user:{secret}"
secret = { file = "secrets/x" }
[[credential]]
name = "y"
hosts = ["*.y.example"]
header = "Authorization"
template = "Bearer {secret}"
placeholder = { env = "Y", value = "y-placeholder" }
secret = { env = "Y_REAL" }
[[cache]]
name = "only"
target = "/only"
)"));
    for (const Config& config : configs) {
        std::string text = render_config(config);
        CAPTURE(text);
        auto back = parse_config(text, "rendered");
        REQUIRE_MESSAGE(back.ok(), back.error().message);
        CHECK(*back == config);
        CHECK(render_config(*back) == text);
    }
}

TEST_CASE("config: render_config never contains a secret value") {
    // The Config holds only where secrets come from; make sure the rendering shows that
    // and nothing else that looks like a key.
    Config c = parse_ok("[[credential]]\nname = \"a\"\npreset = \"anthropic\"\nsecret = { env = \"ANTHROPIC_API_KEY\" }\n");
    std::string text = render_config(c);
    CHECK(text.find("secret = { env = \"ANTHROPIC_API_KEY\" }") != std::string::npos);
    CHECK(text.find("sk-ant-api03-airlock-placeholder") != std::string::npos);  // placeholders are not secret
}

TEST_CASE("config: the starter config parses to the defaults") {
    std::string starter = starter_config();
    CHECK(parse_ok(starter) == default_config());

    // Uncommenting every setting line ("# key = ...", "# [section]") still parses: the
    // defaults stay defaults, and the examples are valid.
    std::string uncommented;
    std::istringstream in(starter);
    for (std::string line; std::getline(in, line);) {
        bool setting = is_setting_line(line);
        uncommented += (setting ? line.substr(2) : line) + "\n";
    }
    Config c = parse_ok(uncommented);
    Config defaults = default_config();
    CHECK(c.docker == defaults.docker);
    CHECK(c.proxy.port == defaults.proxy.port);
    CHECK(c.proxy.listen == defaults.proxy.listen);
    CHECK(c.proxy.allow == defaults.proxy.allow);
    CHECK(c.proxy.ports == defaults.proxy.ports);
    CHECK(c.proxy.threads == defaults.proxy.threads);
    CHECK(c.proxy.resolve.size() == 1);
    CHECK(c.caches == defaults.caches);
    CHECK(c.agents == defaults.agents);
    CHECK(c.credentials.size() == 2);
}

TEST_CASE("config: write_starter_config") {
    TempDir dir;
    fs::path home = dir.path() / "new" / "home";
    fs::path file = home / "config.toml";

    Status written = write_starter_config(file, false);
    REQUIRE_MESSAGE(written.ok(), written.error().message);
    CHECK(read(file) == starter_config());
    CHECK((fs::status(file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
    CHECK((fs::status(home).permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK(load_config(file).ok());

    std::ofstream(file) << "# mine\n";
    Status again = write_starter_config(file, false);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message == file.string() + " already exists; not overwriting it (use --force to replace it)");
    CHECK(read(file) == "# mine\n");

    Status forced = write_starter_config(file, true);
    REQUIRE_MESSAGE(forced.ok(), forced.error().message);
    CHECK(read(file) == starter_config());
    CHECK((fs::status(file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
    // No temporary file left beside it.
    CHECK(std::distance(fs::directory_iterator(home), fs::directory_iterator()) == 1);
}

TEST_CASE("config: enum names") {
    CHECK(to_string(PullPolicy::if_not_present) == "if-not-present");
    CHECK(parse_pull_policy("never") == PullPolicy::never);
    CHECK_FALSE(parse_pull_policy("Never"));
    CHECK(to_string(Unmatched::deny) == "deny");
    CHECK(parse_unmatched("tunnel") == Unmatched::tunnel);
    CHECK(to_string(PromptMode::stdin_) == "stdin");
    CHECK(parse_prompt_mode("none") == PromptMode::none);
}

TEST_CASE("config: render_config says whether the network confines") {
    airlock::Config c;
    CHECK(airlock::render_config(c).find("network = \"confined\"  # the proxy only\n") != std::string::npos);
    c.docker.network = "open";
    CHECK(airlock::render_config(c).find("network = \"open\"  # open (unconfined)\n") != std::string::npos);
    c.docker.network = "none";
    CHECK(airlock::render_config(c).find("network = \"none\"  # none (no network)\n") != std::string::npos);
}

TEST_CASE("config: agent env and files; a user's [agent.<name>] adds to or replaces the built-in's") {
    SUBCASE("the built-ins carry what each agent needs in a session") {
        const auto& agents = default_config().agents;
        const auto& codex = agents.at("codex");
        REQUIRE(codex.files.size() == 2);
        CHECK(codex.files[0].path == ".codex/config.toml");
        CHECK(codex.files[0].content.find("approval_policy = \"never\"") != std::string::npos);
        CHECK(codex.files[0].content.find("sandbox_mode = \"danger-full-access\"") != std::string::npos);
        CHECK(codex.files[0].content.find("check_for_update_on_startup = false") != std::string::npos);
        CHECK(codex.files[0].content.find("api_key_model_discovery = false") != std::string::npos);
        CHECK(codex.files[0].content.find("plugins = false") != std::string::npos);
        CHECK(codex.files[0].content.find("[analytics]\nenabled = false") != std::string::npos);
        CHECK(codex.files[0].content.find("ignore_default_excludes = true") != std::string::npos);
        CHECK(codex.files[1].path == ".codex/auth.json");
        CHECK(codex.files[1].mode == 0600);
        // The same placeholder the openai preset gives the container: never a secret.
        CHECK(codex.files[1].content.find(find_preset("openai")->placeholder->value) != std::string::npos);
        CHECK(agents.at("gemini").env.at("GEMINI_CLI_TRUST_WORKSPACE") == "true");
        CHECK(agents.at("gemini").files.at(0).content.find("\"usageStatisticsEnabled\": false") != std::string::npos);
        CHECK(agents.at("claude").env.at("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC") == "1");
        CHECK(agents.at("claude").env.at("IS_SANDBOX") == "1");
        CHECK(agents.at("claude").files.at(0).path == ".claude.json");
        // Claude Code approves a key by its last 20 characters: the anthropic placeholder's.
        const std::string key = find_preset("anthropic")->placeholder->value;
        CHECK(agents.at("claude").files.at(0).content.find("\"" + key.substr(key.size() - 20) + "\"") != std::string::npos);
        for (const auto& [name, agent] : agents)
            for (const auto& f : agent.files) {
                CAPTURE(f.path);
                CHECK_FALSE(f.overwrite);  // a refresh keeps what the agent changed
            }
        CHECK(agents.at("shell").files.empty());
        CHECK(agents.at("shell").env.empty());
    }
    SUBCASE("env merges by name, files by path, over the built-in's") {
        auto c = parse_ok(R"(
[agent.codex]
env = { EXTRA = "1", CODEX_CA_CERTIFICATE = "/mine.pem" }
[[agent.codex.files]]
path = ".codex/config.toml"
content = "model = \"o3\"\n"
overwrite = true
[[agent.codex.files]]
path = ".codex/AGENTS.md"
content = "Be brief.\n"
mode = "0640"
)");
        const auto& codex = c.agents.at("codex");
        CHECK(codex.command == builtin_agents().at("codex").command);
        CHECK(codex.env == std::map<std::string, std::string>{{"CODEX_CA_CERTIFICATE", "/mine.pem"}, {"EXTRA", "1"}});
        REQUIRE(codex.files.size() == 3);
        CHECK(codex.files[0].path == ".codex/config.toml");
        CHECK(codex.files[0].content == "model = \"o3\"\n");
        CHECK(codex.files[0].overwrite);
        CHECK(codex.files[0].mode == 0644);
        CHECK(codex.files[1] == builtin_agents().at("codex").files[1]);  // auth.json kept
        CHECK(codex.files[2].path == ".codex/AGENTS.md");
        CHECK(codex.files[2].mode == 0640);
    }
    SUBCASE("inherit_builtin = false drops the built-in env and files, not the command") {
        auto c = parse_ok("[agent.gemini]\ninherit_builtin = false\nenv = { X = \"y\" }\n");
        const auto& gemini = c.agents.at("gemini");
        CHECK(gemini.command == builtin_agents().at("gemini").command);
        CHECK(gemini.env == std::map<std::string, std::string>{{"X", "y"}});
        CHECK(gemini.files.empty());
    }
    SUBCASE("an agent of the user's own starts with nothing") {
        auto c = parse_ok("[agent.mine]\ncommand = [\"mine\"]\n[[agent.mine.files]]\npath = \".mine/rc\"\ncontent = \"x\"\nmode = 0o600\n");
        CHECK(c.agents.at("mine").env.empty());
        REQUIRE(c.agents.at("mine").files.size() == 1);
        CHECK(c.agents.at("mine").files[0] == AgentFile{".mine/rc", "x", 0600, false});
    }
}

TEST_CASE("config: a login rule brings its provider's hosts and needs no secret; render parses back") {
    Config c = parse_ok("[[credential]]\nname = \"gpt\"\nlogin = \"chatgpt\"\n\n[[credential]]\nname = \"c\"\nlogin = \"claude\"\n");
    REQUIRE(c.credentials.size() == 2);
    CHECK(c.credentials[0].login == "chatgpt");
    CHECK(c.credentials[0].hosts == std::vector<std::string>{"chatgpt.com", "auth.openai.com"});
    CHECK(c.credentials[0].header == "Authorization");
    CHECK(c.credentials[0].secret.kind == SecretSource::Kind::none);
    CHECK(c.credentials[1].hosts.front() == "api.anthropic.com");
    auto back = parse_config(render_config(c), "rendered");
    REQUIRE(back.ok());
    CHECK(*back == c);
    CHECK(parse_error("[[credential]]\nname = \"x\"\nlogin = \"aol\"\n").find("login must be one of claude, chatgpt, google") !=
          std::string::npos);
    CHECK(parse_error("[[credential]]\nname = \"x\"\nlogin = \"google\"\nsecret = { env = \"X\" }\n")
              .find("cannot be combined with login") != std::string::npos);
    CHECK(parse_error("[[credential]]\nname = \"x\"\npreset = \"openai\"\nlogin = \"chatgpt\"\n")
              .find("cannot be combined with preset") != std::string::npos);
    // A login's hosts are its own: another rule on them is refused.
    CHECK(parse_error("[[credential]]\nname = \"c\"\nlogin = \"claude\"\n\n[[credential]]\nname = \"a\"\npreset = "
                      "\"anthropic\"\nsecret = { env = \"K\" }\n")
              .find("already covered by credential") != std::string::npos);
}
