#include "config.hpp"

#include "airlock/text.hpp"
#include "backends/docker/container_spec.hpp"
#include "proxy/login.hpp"
#include "session/agent_files.hpp"
#include "session/network.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace airlock {

namespace fs = std::filesystem;

// ---- Presets and built-ins --------------------------------------------------------

namespace {

CredentialRule make_preset(std::string name, std::vector<std::string> hosts, std::string header,
                           std::string value_template, std::string env, std::string placeholder) {
    CredentialRule rule;
    rule.name = name;
    rule.preset = std::move(name);
    rule.hosts = std::move(hosts);
    rule.header = std::move(header);
    rule.value_template = std::move(value_template);
    rule.placeholder = Placeholder{std::move(env), std::move(placeholder)};
    return rule;
}

const std::vector<CredentialRule>& preset_table() {
    static const std::vector<CredentialRule> presets = {
        make_preset("anthropic", {"api.anthropic.com"}, "x-api-key", "{secret}", "ANTHROPIC_API_KEY",
                    "sk-ant-api03-airlock-placeholder"),
        make_preset("openai", {"api.openai.com"}, "Authorization", "Bearer {secret}", "OPENAI_API_KEY",
                    "sk-airlock-placeholder"),
        make_preset("github", {"api.github.com", "github.com"}, "Authorization", "Bearer {secret}", "GH_TOKEN",
                    "ghp_airlockplaceholder"),
        make_preset("gemini", {"generativelanguage.googleapis.com"}, "x-goog-api-key", "{secret}", "GEMINI_API_KEY",
                    "airlock-placeholder"),
    };
    return presets;
}

}  // namespace

std::span<const CredentialRule> credential_presets() { return preset_table(); }

const CredentialRule* find_preset(std::string_view name) {
    for (const auto& preset : preset_table()) {
        if (preset.preset == name) return &preset;
    }
    return nullptr;
}

// builtin_agents(): builtin_agents.cpp (the agents and what each needs in a session).

const std::vector<CacheVolume>& default_caches() {
    static const std::vector<CacheVolume> caches = {
        {"cargo-registry", "/home/agent/.cargo/registry"},
        {"cargo-git", "/home/agent/.cargo/git"},
        {"sccache", "/home/agent/.cache/sccache"},
        {"npm", "/home/agent/.npm"},
        {"pip", "/home/agent/.cache/pip"},
    };
    return caches;
}

Config default_config() {
    Config config;
    config.caches = default_caches();
    config.agents = builtin_agents();
    return config;
}

// ---- Value helpers ----------------------------------------------------------------

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Decimal digits to a non-negative integer; nullopt on overflow.
std::optional<std::int64_t> to_int64(std::string_view digits) {
    std::int64_t value = 0;
    for (char c : digits) {
        int d = c - '0';
        if (value > (std::numeric_limits<std::int64_t>::max() - d) / 10) return std::nullopt;
        value = value * 10 + d;
    }
    return value;
}


}  // namespace

std::string toml_quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\f': out += "\\f"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
                else out += static_cast<char>(c);
        }
    }
    out += '"';
    return out;
}

// ---- Parsing ----------------------------------------------------------------------

namespace {

// Thrown inside the parser only; parse_config turns it into an Error.
struct ConfigError {
    std::string message;
};


std::string_view type_name(toml::node_type type) {
    switch (type) {
        case toml::node_type::none: return "nothing";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
    }
    return "a value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string join(const std::vector<std::string_view>& items, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += items[i];
    }
    return out;
}

bool is_ip_literal(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Host names as the proxy matches them: lowercase labels of [a-z0-9_-], dot-separated.
bool is_host_name(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t label = 0;
    for (char c : s) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

bool is_name(std::string_view s, std::string_view extra) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || extra.find(c) != std::string_view::npos;
    });
}

bool is_env_name(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool is_header_token(std::string_view s) {
    static constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               specials.find(c) != std::string_view::npos;
    });
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (!all_digits(s) || s.size() > 5) return std::nullopt;
    auto v = to_int64(s);
    if (!v || *v < 1 || *v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}

class Parser;

// One TOML table being read: knows its label for messages ("[docker]") and its keys.
class Section {
public:
    Section(const Parser& parser, const toml::table& table, std::string label,
            std::vector<std::string_view> keys, std::string_view what = "key");

    const toml::table& table() const { return table_; }
    const std::string& label() const { return label_; }

    const toml::node* get(std::string_view key) const { return table_.get(key); }

    std::optional<std::string> string(std::string_view key) const;
    std::optional<std::int64_t> integer(std::string_view key) const;
    std::optional<bool> boolean(std::string_view key) const;
    std::optional<std::vector<std::string>> strings(std::string_view key) const;
    const toml::table* subtable(std::string_view key) const;

    // "<label> <key>: expected a string, got an integer"
    [[noreturn]] void type_error(const toml::node& at, std::string_view key, std::string_view expected) const;
    // "<label> <key> <what>"
    [[noreturn]] void fail(const toml::node& at, std::string_view key, std::string_view what) const;
    // "<label>: <what>" at the table itself
    [[noreturn]] void fail_here(std::string_view what) const;

private:
    const Parser& parser_;
    const toml::table& table_;
    std::string label_;
};

class Parser {
public:
    explicit Parser(std::string_view source) : source_(source) {}

    Config parse(const toml::table& root) const;

    [[noreturn]] void fail(const toml::source_region& where, std::string_view what) const {
        if (where.begin.line == 0) throw ConfigError{fmt::format("{}: {}", source_, what)};
        throw ConfigError{fmt::format("{}:{}:{}: {}", source_, where.begin.line, where.begin.column, what)};
    }

private:
    void parse_docker(const Section& s, DockerSettings& docker) const;
    void parse_proxy(const Section& s, ProxySettings& proxy) const;
    void parse_resolve(const Section& s, std::map<std::string, std::string>& resolve) const;
    std::vector<CredentialRule> parse_credentials(const toml::node& node) const;
    CredentialRule parse_credential(const toml::table& table, std::size_t index) const;
    SecretSource parse_secret(const Section& s) const;
    std::vector<CacheVolume> parse_caches(const toml::node& node) const;
    void parse_agents(const toml::table& table, std::map<std::string, AgentDefinition>& agents,
                      const std::vector<CacheVolume>& caches) const;
    std::vector<AgentFile> parse_agent_files(const toml::node& node, const std::string& label,
                                             const std::vector<CacheVolume>& caches) const;
    std::vector<const toml::table*> array_of_tables(const toml::node& node, std::string_view name) const;

    std::string source_;
};

Section::Section(const Parser& parser, const toml::table& table, std::string label,
                 std::vector<std::string_view> keys, std::string_view what)
    : parser_(parser), table_(table), label_(std::move(label)) {
    if (keys.empty()) return;  // free-form table (e.g. [proxy.resolve]): the caller checks keys
    for (auto&& [key, value] : table_) {
        if (std::find(keys.begin(), keys.end(), key.str()) != keys.end()) continue;
        std::string hint;
        std::size_t best = 3;
        for (auto known : keys) {
            std::size_t d = edit_distance(key.str(), known);
            if (d < best) {
                best = d;
                hint = fmt::format(" (did you mean \"{}\"?)", known);
            }
        }
        std::string where = label_.empty() ? std::string() : label_ + " ";
        parser_.fail(key.source().begin.line ? key.source() : value.source(),
                     fmt::format("{}unknown {} {}{}; valid {}s: {}", where, what, toml_quote(key.str()), hint, what,
                                 join(keys, ", ")));
    }
}

void Section::type_error(const toml::node& at, std::string_view key, std::string_view expected) const {
    parser_.fail(at.source(), fmt::format("{} {}: expected {}, got {}", label_, key, expected, type_name(at.type())));
}

void Section::fail(const toml::node& at, std::string_view key, std::string_view what) const {
    parser_.fail(at.source(), fmt::format("{} {} {}", label_, key, what));
}

void Section::fail_here(std::string_view what) const {
    parser_.fail(table_.source(), fmt::format("{}: {}", label_, what));
}

std::optional<std::string> Section::string(std::string_view key) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) type_error(*node, key, "a string");
    return node->as_string()->get();
}

std::optional<std::int64_t> Section::integer(std::string_view key) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) type_error(*node, key, "an integer");
    return node->as_integer()->get();
}

std::optional<bool> Section::boolean(std::string_view key) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean()) type_error(*node, key, "a boolean (true or false)");
    return node->as_boolean()->get();
}

std::optional<std::vector<std::string>> Section::strings(std::string_view key) const {
    const toml::node* node = get(key);
    if (!node) return std::nullopt;
    if (!node->is_array()) type_error(*node, key, "an array of strings");
    std::vector<std::string> out;
    const toml::array& array = *node->as_array();
    for (std::size_t i = 0; i < array.size(); ++i) {
        const toml::node& element = *array.get(i);
        if (!element.is_string()) type_error(element, fmt::format("{}[{}]", key, i), "a string");
        out.push_back(element.as_string()->get());
    }
    return out;
}

const toml::table* Section::subtable(std::string_view key) const {
    const toml::node* node = get(key);
    if (!node) return nullptr;
    if (!node->is_table()) type_error(*node, key, "a table");
    return node->as_table();
}

constexpr std::string_view kPresetNames = "anthropic, openai, github, gemini";
const std::vector<std::string_view> kDockerKeys = {"image",   "pull_policy", "cpus",           "memory",
                                                   "pids_limit", "network",  "read_only_rootfs", "max_containers"};
const std::vector<std::string_view> kProxyKeys = {"port",        "listen",  "unmatched",       "allow",
                                                  "ports",       "upstream_ca", "threads",     "max_connections",
                                                  "max_connections_per_client", "resolve"};

Config Parser::parse(const toml::table& root) const {
    Config config = default_config();
    // A section key written at the top level (before any [section]) gets a pointed hint.
    static const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> owners = {
        {"[docker]", kDockerKeys},
        {"[proxy]", kProxyKeys},
    };
    for (auto&& [key, value] : root) {
        for (const auto& [section, keys] : owners) {
            if (std::find(keys.begin(), keys.end(), key.str()) != keys.end()) {
                fail(key.source().begin.line ? key.source() : value.source(),
                     fmt::format("unknown top-level key {}; it belongs in {} (write it after a {} line)", toml_quote(key.str()),
                                 section, section));
            }
        }
    }
    Section top(*this, root, "", {"docker", "proxy", "credential", "cache", "agent"}, "section");

    if (const toml::node* node = root.get("docker")) {
        if (!node->is_table()) fail(node->source(), fmt::format("docker: expected a table ([docker]), got {}", type_name(node->type())));
        parse_docker(Section(*this, *node->as_table(), "[docker]",
                             kDockerKeys),
                     config.docker);
    }
    if (const toml::node* node = root.get("proxy")) {
        if (!node->is_table()) fail(node->source(), fmt::format("proxy: expected a table ([proxy]), got {}", type_name(node->type())));
        parse_proxy(Section(*this, *node->as_table(), "[proxy]",
                            kProxyKeys),
                    config.proxy);
    }
    if (const toml::node* node = root.get("credential")) config.credentials = parse_credentials(*node);
    if (const toml::node* node = root.get("cache")) config.caches = parse_caches(*node);
    if (const toml::node* node = root.get("agent")) {
        if (!node->is_table()) fail(node->source(), fmt::format("agent: expected a table ([agent.<name>]), got {}", type_name(node->type())));
        parse_agents(*node->as_table(), config.agents, config.caches);
    }
    return config;
}

void Parser::parse_docker(const Section& s, DockerSettings& docker) const {
    if (auto image = s.string("image")) {
        if (image->empty() || has_control(*image) || image->find(' ') != std::string::npos) {
            s.fail(*s.get("image"), "image", fmt::format("must be an image reference such as \"node:22\" (got {})", toml_quote(*image)));
        }
        docker.image = *image;
    }
    if (auto policy = s.string("pull_policy")) {
        auto parsed = parse_pull_policy(*policy);
        if (!parsed) {
            s.fail(*s.get("pull_policy"), "pull_policy",
                   fmt::format("must be one of always, if-not-present, never (got {})", toml_quote(*policy)));
        }
        docker.pull_policy = *parsed;
    }
    if (const toml::node* node = s.get("cpus")) {
        std::string text;
        if (node->is_string()) text = node->as_string()->get();
        else if (node->is_integer()) text = std::to_string(node->as_integer()->get());
        else if (node->is_floating_point()) {
            double v = node->as_floating_point()->get();
            if (!std::isfinite(v) || v <= 0) s.fail(*node, "cpus", fmt::format("must be greater than 0 (got {})", v));
            text = fmt::format("{}", v);
            if (text.find_first_of("eE") != std::string::npos) text = fmt::format("{:.9f}", v);
        } else s.type_error(*node, "cpus", "a string or a number (\"2\", 0.5)");
        if (!text.empty()) {
            if (auto cpus = docker::parse_cpus(text, "cpus"); !cpus) s.fail(*node, "cpus", fmt::format("is invalid: {}", cpus.error().message));
        }
        docker.cpus = text;
    }
    if (const toml::node* node = s.get("memory")) {
        std::string text;
        if (node->is_string()) text = lower(node->as_string()->get());
        else if (node->is_integer()) text = std::to_string(node->as_integer()->get());
        else s.type_error(*node, "memory", "a string (\"4g\", \"512m\") or a number of bytes");
        if (!text.empty()) {
            if (auto bytes = docker::parse_memory(text, "memory"); !bytes) s.fail(*node, "memory", fmt::format("is invalid: {}", bytes.error().message));
        }
        docker.memory = text;
    }
    if (auto pids = s.integer("pids_limit")) {
        if (auto checked = docker::check_pids_limit(*pids, "pids_limit"); !checked)
            s.fail(*s.get("pids_limit"), "pids_limit", fmt::format("is invalid: {}", checked.error().message));
        docker.pids_limit = *pids;
    }
    if (auto network = s.string("network")) {
        if (!is_name(lower(*network), "_.-") || (*network)[0] == '.' || (*network)[0] == '-') {
            s.fail(*s.get("network"), "network",
                   fmt::format("must be confined, open, none or a Docker network name (got {})", toml_quote(*network)));
        }
        docker.network = *network;
    }
    if (auto ro = s.boolean("read_only_rootfs")) docker.read_only_rootfs = *ro;
    if (auto max = s.integer("max_containers")) {
        if (*max < 1 || *max > 100000) {
            s.fail(*s.get("max_containers"), "max_containers", fmt::format("must be between 1 and 100000 (got {})", *max));
        }
        docker.max_containers = static_cast<int>(*max);
    }
}

void Parser::parse_proxy(const Section& s, ProxySettings& proxy) const {
    if (auto port = s.integer("port")) {
        if (*port < 1 || *port > 65535) s.fail(*s.get("port"), "port", fmt::format("must be between 1 and 65535 (got {})", *port));
        proxy.port = static_cast<std::uint16_t>(*port);
    }
    if (auto listen = s.strings("listen")) {
        const toml::array& array = *s.get("listen")->as_array();
        for (std::size_t i = 0; i < listen->size(); ++i) {
            if (!is_ip_literal((*listen)[i])) {
                s.fail(*array.get(i), fmt::format("listen[{}]", i),
                       fmt::format("must be an IP address such as \"127.0.0.1\" or \"::1\" (got {})", toml_quote((*listen)[i])));
            }
        }
        proxy.listen = std::move(*listen);
    }
    if (auto unmatched = s.string("unmatched")) {
        auto parsed = parse_unmatched(*unmatched);
        if (!parsed) s.fail(*s.get("unmatched"), "unmatched", fmt::format("must be one of tunnel, deny (got {})", toml_quote(*unmatched)));
        proxy.unmatched = *parsed;
    }
    if (auto allow = s.strings("allow")) {
        const toml::array& array = *s.get("allow")->as_array();
        for (std::size_t i = 0; i < allow->size(); ++i) {
            std::string pattern = lower((*allow)[i]);
            std::string_view host = pattern;
            if (host.starts_with("*.")) host.remove_prefix(2);
            if (!is_host_name(host)) {
                s.fail(*array.get(i), fmt::format("allow[{}]", i),
                       fmt::format("must be a host name or \"*.suffix\" (got {})", toml_quote((*allow)[i])));
            }
            (*allow)[i] = pattern;
        }
        proxy.allow = std::move(*allow);
    }
    if (const toml::node* node = s.get("ports")) {
        if (!node->is_array()) s.type_error(*node, "ports", "an array of port numbers");
        std::vector<std::uint16_t> ports;
        const toml::array& array = *node->as_array();
        for (std::size_t i = 0; i < array.size(); ++i) {
            const toml::node& element = *array.get(i);
            std::string key = fmt::format("ports[{}]", i);
            if (!element.is_integer()) s.type_error(element, key, "an integer");
            std::int64_t port = element.as_integer()->get();
            if (port < 1 || port > 65535) s.fail(element, key, fmt::format("must be between 1 and 65535 (got {})", port));
            ports.push_back(static_cast<std::uint16_t>(port));
        }
        proxy.ports = std::move(ports);
    }
    if (auto ca = s.string("upstream_ca")) {
        if (has_control(*ca)) s.fail(*s.get("upstream_ca"), "upstream_ca", "must be a file path");
        proxy.upstream_ca = *ca;
    }
    if (auto threads = s.integer("threads")) {
        if (*threads < 0 || *threads > 1024) {
            s.fail(*s.get("threads"), "threads", fmt::format("must be between 0 (one per core) and 1024 (got {})", *threads));
        }
        proxy.threads = static_cast<unsigned>(*threads);
    }
    auto limit = [&](const char* key, std::uint32_t& out) {
        if (auto n = s.integer(key)) {
            if (*n < 1 || *n > 1'000'000)
                s.fail(*s.get(key), key, fmt::format("must be between 1 and 1000000 (got {})", *n));
            out = static_cast<std::uint32_t>(*n);
        }
    };
    limit("max_connections", proxy.max_connections);
    limit("max_connections_per_client", proxy.max_connections_per_client);
    if (const toml::table* resolve = s.subtable("resolve")) {
        parse_resolve(Section(*this, *resolve, "[proxy.resolve]", {}), proxy.resolve);
    }
}

void Parser::parse_resolve(const Section& s, std::map<std::string, std::string>& resolve) const {
    // Section's key check is skipped (any key is allowed); each key is validated here.
    for (auto&& [key, value] : s.table()) {
        const toml::source_region& key_at = key.source().begin.line ? key.source() : value.source();
        std::string from = lower(key.str());
        auto colon = from.rfind(':');
        if (colon == std::string::npos || !is_host_name(std::string_view(from).substr(0, colon)) ||
            !parse_port(std::string_view(from).substr(colon + 1))) {
            fail(key_at, fmt::format("[proxy.resolve] key {} must be \"host:port\", e.g. \"api.anthropic.com:443\"",
                                     toml_quote(key.str())));
        }
        if (!value.is_string()) s.type_error(value, toml_quote(key.str()), "a string \"ip:port\"");
        const std::string& to = value.as_string()->get();
        std::string ip;
        std::string_view port;
        bool shape_ok = false;
        if (to.starts_with("[")) {
            auto close = to.find(']');
            if (close != std::string::npos && close + 1 < to.size() && to[close + 1] == ':') {
                ip = to.substr(1, close - 1);
                port = std::string_view(to).substr(close + 2);
                unsigned char buf[16];
                shape_ok = inet_pton(AF_INET6, ip.c_str(), buf) == 1;
            }
        } else if (auto c = to.rfind(':'); c != std::string::npos) {
            ip = to.substr(0, c);
            port = std::string_view(to).substr(c + 1);
            unsigned char buf[4];
            shape_ok = inet_pton(AF_INET, ip.c_str(), buf) == 1;
        }
        if (!shape_ok || !parse_port(port)) {
            s.fail(value, toml_quote(key.str()),
                   fmt::format("must resolve to an IP address and port, \"127.0.0.1:8443\" or \"[::1]:8443\" (got {})",
                               toml_quote(to)));
        }
        resolve[from] = to;
    }
}

std::vector<const toml::table*> Parser::array_of_tables(const toml::node& node, std::string_view name) const {
    if (!node.is_array()) {
        fail(node.source(), fmt::format("{}: expected an array of tables ([[{}]]), got {}", name, name, type_name(node.type())));
    }
    std::vector<const toml::table*> tables;
    const toml::array& array = *node.as_array();
    for (std::size_t i = 0; i < array.size(); ++i) {
        const toml::node& element = *array.get(i);
        if (!element.is_table()) {
            fail(element.source(), fmt::format("{}[{}]: expected a table, got {}", name, i, type_name(element.type())));
        }
        tables.push_back(element.as_table());
    }
    return tables;
}

std::vector<CredentialRule> Parser::parse_credentials(const toml::node& node) const {
    std::vector<CredentialRule> rules;
    std::map<std::string, std::string> host_owner;  // pattern -> credential name
    auto tables = array_of_tables(node, "credential");
    for (std::size_t i = 0; i < tables.size(); ++i) {
        CredentialRule rule = parse_credential(*tables[i], i);
        for (const auto& other : rules) {
            if (other.name == rule.name) {
                fail(tables[i]->get("name")->source(),
                     fmt::format("[[credential]] name {} is used twice; credential names must be unique", toml_quote(rule.name)));
            }
        }
        for (const auto& host : rule.hosts) {
            auto [it, inserted] = host_owner.emplace(host, rule.name);
            if (!inserted) {
                const toml::node* at = tables[i]->get("hosts");
                fail(at ? at->source() : tables[i]->source(),
                     fmt::format("[[credential]] {} host {} is already covered by credential {}; a host can have only one credential",
                                 toml_quote(rule.name), toml_quote(host), toml_quote(it->second)));
            }
        }
        rules.push_back(std::move(rule));
    }
    return rules;
}

CredentialRule Parser::parse_credential(const toml::table& table, std::size_t index) const {
    static const std::vector<std::string_view> keys = {"name", "preset", "login", "hosts", "header", "template", "placeholder", "secret"};
    // The label names the credential once its name is known.
    std::string label = fmt::format("[[credential]] #{}", index + 1);
    CredentialRule rule;
    {
        Section s(*this, table, label, keys);
        auto name = s.string("name");
        if (!name) s.fail_here("missing required key \"name\"");
        if (!is_name(*name, "_-")) {
            s.fail(*s.get("name"), "name", fmt::format("must be lowercase letters, digits, '_' or '-' (got {})", toml_quote(*name)));
        }
        rule.name = *name;
        label = fmt::format("[[credential]] {}", toml_quote(*name));
    }
    Section s(*this, table, label, keys);

    const CredentialRule* preset = nullptr;
    if (auto p = s.string("preset")) {
        preset = find_preset(*p);
        if (!preset) s.fail(*s.get("preset"), "preset", fmt::format("must be one of {} (got {})", kPresetNames, toml_quote(*p)));
        rule.preset = *p;
        rule.hosts = preset->hosts;
        rule.header = preset->header;
        rule.value_template = preset->value_template;
        rule.placeholder = preset->placeholder;
    }
    if (auto l = s.string("login")) {
        auto provider = proxy::login_provider(*l);
        if (!provider) s.fail(*s.get("login"), "login", fmt::format("must be one of claude, chatgpt, google (got {})", toml_quote(*l)));
        if (preset) s.fail(*s.get("login"), "login", "cannot be combined with preset; a login brings its own hosts");
        rule.login = *l;
        rule.hosts = proxy::login_hosts(*provider);
        rule.header = "Authorization";
        rule.value_template = "Bearer {secret}";
        preset = &rule;  // hosts, header and template are filled
    }
    const auto missing = [&](std::string_view key, std::string_view example) {
        s.fail_here(fmt::format("missing required key \"{}\" (e.g. {}), or set preset to one of {} to fill it", key,
                                example, kPresetNames));
    };

    if (auto hosts = s.strings("hosts")) {
        const toml::array& array = *s.get("hosts")->as_array();
        if (hosts->empty()) s.fail(*s.get("hosts"), "hosts", "must list at least one host");
        std::set<std::string> seen;
        for (std::size_t i = 0; i < hosts->size(); ++i) {
            std::string pattern = lower((*hosts)[i]);
            std::string_view host = pattern;
            if (host.starts_with("*.")) host.remove_prefix(2);
            if (!is_host_name(host)) {
                s.fail(*array.get(i), fmt::format("hosts[{}]", i),
                       fmt::format("must be a host name or \"*.suffix\" (got {})", toml_quote((*hosts)[i])));
            }
            if (!seen.insert(pattern).second) s.fail(*array.get(i), fmt::format("hosts[{}]", i), fmt::format("repeats {}", toml_quote(pattern)));
            (*hosts)[i] = pattern;
        }
        rule.hosts = std::move(*hosts);
    } else if (!preset) missing("hosts", "hosts = [\"api.example.com\"]");

    if (auto header = s.string("header")) {
        if (!is_header_token(*header)) {
            s.fail(*s.get("header"), "header", fmt::format("must be an HTTP header name such as \"Authorization\" (got {})", toml_quote(*header)));
        }
        std::string l = lower(*header);
        if (l == "host" || l == "content-length" || l == "transfer-encoding" || l == "connection" || l == "te" ||
            l == "upgrade" || l == "proxy-authorization") {
            s.fail(*s.get("header"), "header", fmt::format("cannot be {}: the proxy owns that header", toml_quote(*header)));
        }
        rule.header = *header;
    } else if (!preset) missing("header", "header = \"Authorization\"");

    if (auto tmpl = s.string("template")) {
        if (tmpl->find("{secret}") == std::string::npos) {
            s.fail(*s.get("template"), "template", fmt::format("must contain {{secret}}, e.g. \"Bearer {{secret}}\" (got {})", toml_quote(*tmpl)));
        }
        if (has_control(*tmpl)) s.fail(*s.get("template"), "template", "must not contain control characters");
        rule.value_template = *tmpl;
    } else if (!preset) missing("template", "template = \"Bearer {secret}\"");

    if (const toml::table* table_ph = s.subtable("placeholder")) {
        Section ph(*this, *table_ph, label + " placeholder", {"env", "value"});
        Placeholder placeholder = rule.placeholder.value_or(Placeholder{"", "airlock-placeholder"});
        if (auto env = ph.string("env")) {
            if (!is_env_name(*env)) ph.fail(*ph.get("env"), "env", fmt::format("must be an environment variable name (got {})", toml_quote(*env)));
            placeholder.env = *env;
        } else if (placeholder.env.empty()) {
            ph.fail_here("missing required key \"env\" (the variable the container gets)");
        }
        if (auto value = ph.string("value")) {
            if (value->empty() || has_control(*value)) ph.fail(*ph.get("value"), "value", "must be a non-empty string without control characters");
            placeholder.value = *value;
        }
        rule.placeholder = std::move(placeholder);
    }

    if (!rule.login.empty()) {
        if (s.get("secret"))
            s.fail(*s.get("secret"), "secret", "cannot be combined with login; the login's tokens are in $AIRLOCK_HOME/logins/");
        return rule;
    }
    if (const toml::node* node = s.get("secret")) {
        if (!node->is_table()) s.type_error(*node, "secret", "a table { file = \"...\" } | { env = \"...\" } | { command = [...] }");
        rule.secret = parse_secret(Section(*this, *node->as_table(), label + " secret", {"file", "env", "command"}));
    } else {
        s.fail_here("missing required key \"secret\": secret = { file = \"secrets/<name>\" } or { env = \"VAR\" } or { command = [\"op\", \"read\", \"...\"] }");
    }
    return rule;
}

SecretSource Parser::parse_secret(const Section& s) const {
    std::vector<std::string_view> given;
    for (std::string_view key : {"file", "env", "command"}) {
        if (s.get(key)) given.push_back(key);
    }
    if (given.empty()) s.fail_here("give one of file, env, command");
    if (given.size() > 1) {
        s.fail(*s.get(given[1]), given[1], fmt::format("cannot be combined with {}; give exactly one of file, env, command", given[0]));
    }
    SecretSource secret;
    if (auto file = s.string("file")) {
        if (file->empty() || has_control(*file)) s.fail(*s.get("file"), "file", "must be a file path (relative paths are relative to $AIRLOCK_HOME)");
        secret.kind = SecretSource::Kind::file;
        secret.value = *file;
    } else if (auto env = s.string("env")) {
        if (!is_env_name(*env)) s.fail(*s.get("env"), "env", fmt::format("must be an environment variable name (got {})", toml_quote(*env)));
        secret.kind = SecretSource::Kind::env;
        secret.value = *env;
    } else if (auto command = s.strings("command")) {
        if (command->empty() || command->front().empty()) {
            s.fail(*s.get("command"), "command", "must be a non-empty argv array, e.g. [\"op\", \"read\", \"op://vault/item/field\"]");
        }
        secret.kind = SecretSource::Kind::command;
        secret.command = std::move(*command);
    }
    return secret;
}

std::vector<CacheVolume> Parser::parse_caches(const toml::node& node) const {
    std::vector<CacheVolume> caches;
    auto tables = array_of_tables(node, "cache");
    for (std::size_t i = 0; i < tables.size(); ++i) {
        Section s(*this, *tables[i], fmt::format("[[cache]] #{}", i + 1), {"name", "target"});
        CacheVolume cache;
        auto name = s.string("name");
        if (!name) s.fail_here("missing required key \"name\"");
        if (!is_name(*name, "_.-")) {
            s.fail(*s.get("name"), "name", fmt::format("must be lowercase letters, digits, '_', '.' or '-' (got {})", toml_quote(*name)));
        }
        auto target = s.string("target");
        if (!target) s.fail_here("missing required key \"target\" (the mount point in the container)");
        if (!target->starts_with('/') || *target == "/" || has_control(*target)) {
            s.fail(*s.get("target"), "target", fmt::format("must be an absolute path in the container (got {})", toml_quote(*target)));
        }
        if (*target == "/workspace" || target->starts_with("/workspace/")) {
            s.fail(*s.get("target"), "target", "cannot be inside /workspace, where the worktree is mounted");
        }
        for (const auto& other : caches) {
            if (other.name == *name) s.fail(*s.get("name"), "name", fmt::format("{} is used twice; cache names must be unique", toml_quote(*name)));
            if (other.target == *target) {
                s.fail(*s.get("target"), "target", fmt::format("{} is already the target of cache {}", toml_quote(*target), toml_quote(other.name)));
            }
        }
        cache.name = *name;
        cache.target = *target;
        caches.push_back(std::move(cache));
    }
    return caches;
}

void Parser::parse_agents(const toml::table& table, std::map<std::string, AgentDefinition>& agents,
                          const std::vector<CacheVolume>& caches) const {
    for (auto&& [key, value] : table) {
        const toml::source_region& key_at = key.source().begin.line ? key.source() : value.source();
        std::string name(key.str());
        if (!is_name(name, "_-")) {
            fail(key_at, fmt::format("[agent.{}]: agent names must be lowercase letters, digits, '_' or '-'", name));
        }
        std::string label = fmt::format("[agent.{}]", name);
        if (!value.is_table()) {
            fail(value.source(), fmt::format("{}: expected a table with command and prompt, got {}", label, type_name(value.type())));
        }
        Section s(*this, *value.as_table(), label, {"command", "prompt", "env", "files", "inherit_builtin"});
        auto builtin = builtin_agents().find(name);
        AgentDefinition agent = builtin != builtin_agents().end() ? builtin->second : AgentDefinition{};
        if (auto command = s.strings("command")) {
            if (command->empty() || command->front().empty()) {
                s.fail(*s.get("command"), "command", "must be a non-empty array of strings, e.g. [\"claude\"]");
            }
            agent.command = std::move(*command);
        } else if (agent.command.empty()) {
            s.fail_here("missing required key \"command\", e.g. command = [\"my-agent\", \"--yes\"]");
        }
        if (auto prompt = s.string("prompt")) {
            auto mode = parse_prompt_mode(*prompt);
            if (!mode) s.fail(*s.get("prompt"), "prompt", fmt::format("must be one of arg, stdin, none (got {})", toml_quote(*prompt)));
            agent.prompt = *mode;
        }
        // A built-in agent's env and files are the base the file's add to or replace
        // (by name, by path), unless inherit_builtin = false drops them.
        if (auto inherit = s.boolean("inherit_builtin"); inherit && !*inherit) {
            agent.env.clear();
            agent.files.clear();
        }
        if (const toml::table* env = s.subtable("env")) {
            for (auto&& [var, val] : *env) {
                std::string var_name(var.str());
                std::string what = fmt::format("{} env", label);
                if (!is_env_name(var_name))
                    fail(val.source(), fmt::format("{} {} is not an environment variable name (letters, digits, '_')",
                                                   what, toml_quote(var_name)));
                if (session::is_reserved_agent_env(var_name))
                    fail(val.source(), fmt::format("{} {}: airlock sets that variable itself (the proxy, the home, "
                                                   "the session's name); leave it out",
                                                   what, var_name));
                if (!val.is_string())
                    fail(val.source(), fmt::format("{} {}: expected a string, got {}", what, var_name, type_name(val.type())));
                const std::string& text = val.as_string()->get();
                if (text.find('\0') != std::string::npos)
                    fail(val.source(), fmt::format("{} {}: the value contains a NUL character", what, var_name));
                agent.env[var_name] = text;
            }
        }
        if (const toml::node* files = s.get("files")) {
            for (auto& file : parse_agent_files(*files, label, caches)) {
                auto same = std::find_if(agent.files.begin(), agent.files.end(),
                                         [&](const AgentFile& f) { return f.path == file.path; });
                if (same != agent.files.end()) *same = std::move(file);
                else agent.files.push_back(std::move(file));
            }
        }
        agents[name] = std::move(agent);
    }
}

std::vector<AgentFile> Parser::parse_agent_files(const toml::node& node, const std::string& label,
                                                 const std::vector<CacheVolume>& caches) const {
    std::vector<AgentFile> files;
    const std::string name = label.substr(1, label.size() - 2);  // "agent.codex"
    auto tables = array_of_tables(node, name + ".files");
    for (std::size_t i = 0; i < tables.size(); ++i) {
        Section s(*this, *tables[i], fmt::format("[[{}.files]] #{}", name, i + 1), {"path", "content", "mode", "overwrite"});
        AgentFile file;
        auto path = s.string("path");
        if (!path) s.fail_here("missing required key \"path\" (relative to the session's home, e.g. \".codex/config.toml\")");
        if (auto ok = session::validate_home_file_path(*path); !ok)
            s.fail(*s.get("path"), "path", fmt::format("is invalid: {}", ok.error().message));
        const std::string in_container = std::string("/home/agent/") + *path;
        for (const auto& c : caches)
            if (in_container == c.target || in_container.starts_with(c.target + "/"))
                s.fail(*s.get("path"), "path",
                       fmt::format("{} is inside the cache volume {} ({}), which every session shares; write it "
                                   "elsewhere",
                                   toml_quote(*path), toml_quote(c.name), c.target));
        for (const auto& other : files)
            if (other.path == *path) s.fail(*s.get("path"), "path", fmt::format("{} is given twice", toml_quote(*path)));
        file.path = *path;
        auto content = s.string("content");
        if (!content) s.fail_here("missing required key \"content\" (the file's text)");
        if (content->size() > session::kMaxAgentFileBytes)
            s.fail(*s.get("content"), "content", fmt::format("is {} bytes; the most is {}", content->size(), session::kMaxAgentFileBytes));
        file.content = std::move(*content);
        if (const toml::node* mode = s.get("mode")) {
            std::optional<std::int64_t> value;
            if (mode->is_integer()) value = mode->as_integer()->get();
            else if (mode->is_string()) {
                const std::string& text = mode->as_string()->get();
                bool octal = !text.empty() && text.size() <= 5 &&
                             std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
                if (octal) value = std::stoll(text, nullptr, 8);
            } else s.type_error(*mode, "mode", "an octal integer such as 0o600 (or the string \"0600\")");
            if (!value || *value < 0 || *value > 07777)
                s.fail(*mode, "mode", "must be a file mode from 0o000 to 0o7777, e.g. 0o600 or \"0644\"");
            if ((*value & 0400) == 0)
                s.fail(*mode, "mode", "must let the owner read the file (0o400), or the agent cannot read it");
            file.mode = static_cast<unsigned>(*value);
        }
        if (auto overwrite = s.boolean("overwrite")) file.overwrite = *overwrite;
        files.push_back(std::move(file));
    }
    return files;
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name) {
    const auto syntax_error = [&](const toml::parse_error& e) {
        const auto& at = e.source().begin;
        if (at.line == 0) return make_error(fmt::format("{}: invalid TOML: {}", source_name, e.description()));
        return make_error(fmt::format("{}:{}:{}: invalid TOML: {}", source_name, at.line, at.column, e.description()));
    };
    toml::table root;
#if TOML_EXCEPTIONS
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        return syntax_error(e);
    }
#else
    toml::parse_result parsed = toml::parse(text, source_name);
    if (!parsed) return syntax_error(parsed.error());
    root = std::move(parsed).table();
#endif
    try {
        return Parser(source_name).parse(root);
    } catch (const ConfigError& e) {
        return make_error(e.message);
    }
}

Result<Config> load_config(const fs::path& file) {
    std::error_code ec;
    auto status = fs::status(file, ec);
    if (status.type() == fs::file_type::not_found) return default_config();
    if (ec) return make_error(fmt::format("cannot read {}: {}", file.string(), ec.message()));
    if (status.type() == fs::file_type::directory) {
        return make_error(fmt::format("{} is a directory; the configuration is a TOML file", file.string()));
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) return make_error(fmt::format("cannot read {}: read error", file.string()));
    return parse_config(buffer.str(), file.string());
}

// ---- Rendering --------------------------------------------------------------------

namespace {

std::string string_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += toml_quote(items[i]);
    }
    return out + "]";
}

// A TOML multi-line basic string holding `s` exactly ("""...""", starting on a new line);
// backslashes, control characters other than newline and tab, and quotes that could form
// """ are escaped.
std::string toml_multiline(std::string_view s) {
    std::string out = "\"\"\"\n";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':  // escaped only where it could make three in a row or touch the closing """
                out += (i + 1 == s.size() || s[i + 1] == '"') ? "\\\"" : "\"";
                break;
            case '\\': out += "\\\\"; break;
            case '\n': out += '\n'; break;
            case '\t': out += '\t'; break;
            default:
                if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
                else out += static_cast<char>(c);
        }
    }
    return out + "\"\"\"";
}

// Bare keys where TOML allows them, quoted otherwise.
std::string toml_key(std::string_view key) {
    bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    return bare ? std::string(key) : toml_quote(key);
}

std::string render_secret(const SecretSource& secret) {
    switch (secret.kind) {
        case SecretSource::Kind::file: return fmt::format("{{ file = {} }}", toml_quote(secret.value));
        case SecretSource::Kind::env: return fmt::format("{{ env = {} }}", toml_quote(secret.value));
        case SecretSource::Kind::command: return fmt::format("{{ command = {} }}", string_array(secret.command));
        case SecretSource::Kind::none: break;
    }
    return {};
}

}  // namespace

std::string render_config(const Config& config) {
    std::string out;
    auto line = [&out](std::string_view text) {
        out += text;
        out += '\n';
    };
    line("# The effective airlock configuration (defaults included). Secret values are never shown,");
    line("# only where they come from.");
    // Top-level keys must come before the first table header.
    if (config.credentials.empty()) line("credential = []");
    if (config.caches.empty()) line("cache = []");
    line("");

    const DockerSettings& d = config.docker;
    line("[docker]");
    line(fmt::format("image = {}", toml_quote(d.image)));
    line(fmt::format("pull_policy = {}", toml_quote(to_string(d.pull_policy))));
    line(fmt::format("cpus = {}{}", toml_quote(d.cpus), d.cpus.empty() ? "  # no limit" : ""));
    line(fmt::format("memory = {}{}", toml_quote(d.memory), d.memory.empty() ? "  # no limit" : ""));
    line(fmt::format("pids_limit = {}", d.pids_limit));
    line(fmt::format("network = {}{}", toml_quote(d.network),
                     session::is_confined(d.network) ? "  # the proxy only" : "  # " + session::network_column(d.network)));
    line(fmt::format("read_only_rootfs = {}", d.read_only_rootfs));
    line(fmt::format("max_containers = {}", d.max_containers));
    line("");

    const ProxySettings& p = config.proxy;
    line("[proxy]");
    line(fmt::format("port = {}", p.port));
    line(fmt::format("listen = {}{}", string_array(p.listen), p.listen.empty() ? "  # 127.0.0.1 and the Docker bridge gateway(s)" : ""));
    line(fmt::format("unmatched = {}", toml_quote(to_string(p.unmatched))));
    line(fmt::format("allow = {}", string_array(p.allow)));
    line(fmt::format("ports = [{}]", fmt::join(p.ports, ", ")));
    line(fmt::format("upstream_ca = {}", toml_quote(p.upstream_ca)));
    line(fmt::format("threads = {}{}", p.threads, p.threads == 0 ? "  # one per core" : ""));
    line(fmt::format("max_connections = {}", p.max_connections));
    line(fmt::format("max_connections_per_client = {}", p.max_connections_per_client));
    line("");
    line("[proxy.resolve]");
    for (const auto& [from, to] : p.resolve) line(fmt::format("{} = {}", toml_quote(from), toml_quote(to)));
    line("");

    for (const auto& rule : config.credentials) {
        line("[[credential]]");
        line(fmt::format("name = {}", toml_quote(rule.name)));
        if (!rule.preset.empty()) line(fmt::format("preset = {}", toml_quote(rule.preset)));
        if (!rule.login.empty()) line(fmt::format("login = {}  # tokens in logins/{}.json", toml_quote(rule.login), rule.name));
        line(fmt::format("hosts = {}", string_array(rule.hosts)));
        line(fmt::format("header = {}", toml_quote(rule.header)));
        line(fmt::format("template = {}", toml_quote(rule.value_template)));
        if (rule.placeholder) {
            line(fmt::format("placeholder = {{ env = {}, value = {} }}", toml_quote(rule.placeholder->env),
                             toml_quote(rule.placeholder->value)));
        }
        if (!rule.login.empty()) {}
        else if (rule.secret.kind == SecretSource::Kind::none) line("# secret: not set");
        else line(fmt::format("secret = {}", render_secret(rule.secret)));
        line("");
    }

    for (const auto& cache : config.caches) {
        line("[[cache]]");
        line(fmt::format("name = {}", toml_quote(cache.name)));
        line(fmt::format("target = {}", toml_quote(cache.target)));
        line("");
    }

    for (const auto& [name, agent] : config.agents) {
        line(fmt::format("[agent.{}]", toml_key(name)));
        line(fmt::format("command = {}", string_array(agent.command)));
        line(fmt::format("prompt = {}", toml_quote(to_string(agent.prompt))));
        if (builtin_agents().contains(name)) line("inherit_builtin = false  # env and files below are the whole definition");
        std::string env;
        for (const auto& [k, v] : agent.env) env += fmt::format("{}{} = {}", env.empty() ? "" : ", ", toml_key(k), toml_quote(v));
        line(env.empty() ? "env = {}" : fmt::format("env = {{ {} }}", env));
        line("");
        for (const auto& file : agent.files) {
            line(fmt::format("[[agent.{}.files]]", toml_key(name)));
            line(fmt::format("path = {}", toml_quote(file.path)));
            line(fmt::format("mode = 0o{:o}", file.mode));
            line(fmt::format("overwrite = {}", file.overwrite));
            line(fmt::format("content = {}", toml_multiline(file.content)));
            line("");
        }
    }
    return out;
}

// ---- Starter file -----------------------------------------------------------------

std::string starter_config() {
    // Settings are the lines "# key = value" and "# [section]" (uncommenting one keeps the
    // default); everything else is explanation. tests/src/config_test.cpp relies on it.
    return R"(# airlock configuration: $AIRLOCK_HOME/config.toml (default ~/.airlock/config.toml)
#
# Every key is optional. Each setting below is commented out and shows its default:
# uncomment and change only what you need. Unknown keys are errors, so a typo is
# reported instead of silently ignored. Reference: docs/configuration.md.

# ---- Containers ---------------------------------------------------------------------
# [docker]
# Image used when `airlock create` gets no --image.
# image = "airlock/agent:latest"
# When to pull it: always | if-not-present | never.
# pull_policy = "if-not-present"
# CPU limit per container (--cpu-limit): "" for none, or "2", "0.5", 1.5.
# cpus = ""
# Memory limit per container (--memory-limit): "" for none, or "4g", "512m", "1024k", bytes.
# memory = ""
# Maximum number of processes in one container.
# pids_limit = 1024
# confined: the proxy is all a session reaches (no host ports, LAN, metadata, other
# containers, DNS). open: Docker's bridge, direct access around the proxy. none: no network,
# not even the proxy. Any other name: that existing Docker network (unconfined).
# network = "confined"
# Mount the container's root filesystem read-only (worktree and caches stay writable).
# read_only_rootfs = false
# How many session containers may run at once.
# max_containers = 8

# ---- Credential proxy ---------------------------------------------------------------
# [proxy]
# port = 3030
# Addresses to listen on; empty means 127.0.0.1 plus the Docker bridge gateway(s).
# listen = []
# Hosts without a credential rule: tunnel (passed through untouched) | deny.
# unmatched = "tunnel"
# Hosts still tunnelled when unmatched is "deny": exact names or "*.suffix".
# allow = []
# Ports agents may CONNECT to.
# ports = [443]
# Extra PEM bundle trusted for upstream TLS (relative to $AIRLOCK_HOME unless absolute).
# upstream_ca = ""
# Proxy worker threads; 0 means one per core.
# threads = 0
# Open client connections the proxy accepts in all, and per client (session).
# max_connections = 4096
# max_connections_per_client = 256

# Connect somewhere else but verify the original name: "host:port" = "ip:port".
# [proxy.resolve]
# "api.anthropic.com:443" = "127.0.0.1:8443"

# ---- Credentials --------------------------------------------------------------------
# None by default. The proxy adds the credential to requests for the rule's hosts; the
# container only ever sees the placeholder. Presets (anthropic, openai, github, gemini)
# fill hosts, header, template and placeholder. The secret comes from a file (mode 0600,
# relative to $AIRLOCK_HOME), an environment variable of the proxy, or a command.
# [[credential]]
# name = "anthropic"
# preset = "anthropic"
# secret = { file = "secrets/anthropic" }

# [[credential]]
# name = "internal"
# hosts = ["api.internal.example", "*.svc.example"]
# header = "Authorization"
# template = "Bearer {secret}"
# placeholder = { env = "INTERNAL_TOKEN", value = "airlock-placeholder" }
# secret = { command = ["op", "read", "op://vault/internal/token"] }

# ---- Shared cache volumes -----------------------------------------------------------
# Volumes named airlock-cache-<name>, shared by all sessions. Any [[cache]] replaces this
# whole list; cache = [] at the top of the file (before any [section]) turns caches off.
# [[cache]]
# name = "cargo-registry"
# target = "/home/agent/.cargo/registry"
# [[cache]]
# name = "cargo-git"
# target = "/home/agent/.cargo/git"
# [[cache]]
# name = "sccache"
# target = "/home/agent/.cache/sccache"
# [[cache]]
# name = "npm"
# target = "/home/agent/.npm"
# [[cache]]
# name = "pip"
# target = "/home/agent/.cache/pip"

# ---- Agents -------------------------------------------------------------------------
# The command run in the container for `airlock create --agent <name>`. prompt: arg
# (the prompt is appended as one argument) | stdin | none. These four are built in; a
# section with the same name overrides one, any other name adds an agent.
# [agent.claude]
# command = ["claude", "--dangerously-skip-permissions"]
# prompt = "arg"
# [agent.codex]
# command = ["codex", "--no-daemon", "--dangerously-bypass-approvals-and-sandbox"]
# prompt = "arg"
# [agent.gemini]
# command = ["gemini", "--yolo", "--prompt-interactive"]
# prompt = "arg"
# [agent.shell]
# command = ["sh", "-c"]
# prompt = "arg"
# Each agent may also set variables in its container and write files into the session's
# home (written when absent at create and refresh; overwrite = true replaces them). The
# built-in claude, codex and gemini carry what they need to start without sign-in or trust
# prompts (`airlock config show` prints it; docs/agents.md). Adding to codex, for example:
#   [agent.codex]
#   env = { MY_VAR = "value" }
#   [[agent.codex.files]]
#   path = ".codex/AGENTS.md"
#   content = """..."""
#   mode = 0o644
)";
}

namespace {

Status write_all(int fd, std::string_view data, const fs::path& file) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fsync(fd) != 0) return make_error(fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
    return {};
}

// mkdir -p with mode 0700 for every directory it creates.
Status make_private_dirs(const fs::path& dir) {
    if (dir.empty()) return {};
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return {};
    if (auto s = make_private_dirs(dir.parent_path()); !s) return s;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return make_error(fmt::format("cannot create directory {}: {}", dir.string(), std::strerror(errno)));
    }
    return {};
}

}  // namespace

Status write_starter_config(const fs::path& file, bool force) {
    if (auto s = make_private_dirs(file.parent_path()); !s) return s;
    const std::string text = starter_config();
    if (!force) {
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST) {
                return make_error(fmt::format("{} already exists; not overwriting it (use --force to replace it)", file.string()));
            }
            return make_error(fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
        }
        Status written = write_all(fd, text, file);
        ::close(fd);
        if (!written) ::unlink(file.c_str());
        return written;
    }
    // Replace atomically: a reader sees the old file or the new one, never half of one.
    fs::path tmp = file;
    tmp += fmt::format(".tmp-{}", ::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
    Status written = write_all(fd, text, tmp);
    ::close(fd);
    if (written && ::rename(tmp.c_str(), file.c_str()) != 0) {
        written = make_error(fmt::format("cannot replace {}: {}", file.string(), std::strerror(errno)));
    }
    if (!written) ::unlink(tmp.c_str());
    return written;
}

}  // namespace airlock
