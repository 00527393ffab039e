#include "agent_image.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace airlock {

namespace json = boost::json;

namespace {

constexpr AgentPackage kPackages[] = {
    {"claude", "@anthropic-ai/claude-code", "CLAUDE_CODE_VERSION"},
    {"codex", "@openai/codex", "CODEX_VERSION"},
    {"gemini", "@google/gemini-cli", "GEMINI_CLI_VERSION"},
};

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s);
}

std::string url_encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~')
            out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out;
}

// An npm version or dist-tag: letters, digits, '.', '-', '+'.
bool valid_version(std::string_view v) {
    return !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '+';
    });
}

const AgentPackage* find_agent(std::string_view name) {
    for (const auto& p : kPackages)
        if (p.agent == name) return &p;
    return nullptr;
}

}  // namespace

std::span<const AgentPackage> agent_packages() { return kPackages; }

std::map<std::string, std::string> dockerfile_arg_defaults(std::string_view dockerfile) {
    std::map<std::string, std::string> out;
    while (!dockerfile.empty()) {
        auto nl = dockerfile.find('\n');
        std::string line = trim(dockerfile.substr(0, nl));
        dockerfile = nl == std::string_view::npos ? std::string_view{} : dockerfile.substr(nl + 1);
        if (!line.starts_with("ARG ")) continue;
        std::string rest = trim(std::string_view(line).substr(4));
        auto eq = rest.find('=');
        if (eq == std::string::npos) continue;
        std::string value = rest.substr(eq + 1);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        out[rest.substr(0, eq)] = value;
    }
    return out;
}

Result<ImageBuildPlan> plan_image_build(std::string_view dockerfile, const std::string& base,
                                        const std::optional<std::string>& agents,
                                        const std::vector<std::string>& versions, const std::string& tag) {
    ImageBuildPlan plan;
    plan.tag = tag.empty() ? std::string(kDefaultAgentImage) : tag;
    plan.base = base.empty() ? std::string(kDefaultAgentBase) : base;
    if (plan.tag.find_first_of(" \t\n/") == 0 || plan.tag.find_first_of(" \t\n") != std::string::npos)
        return make_error(fmt::format("--tag '{}' is not an image name such as airlock/agent:latest", plan.tag));
    if (plan.base.find_first_of(" \t\n") != std::string::npos)
        return make_error(fmt::format("--base '{}' is not an image name such as debian:bookworm-slim", plan.base));

    std::vector<std::string> chosen;
    if (!agents) {
        for (const auto& p : kPackages) chosen.emplace_back(p.agent);
    } else {
        std::string_view rest = *agents;
        while (!rest.empty()) {
            auto comma = rest.find(',');
            std::string item = trim(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            if (item.empty()) continue;
            if (!find_agent(item)) return make_error(fmt::format("--agents: unknown agent '{}'; use some of claude,codex,gemini", item));
            if (std::find(chosen.begin(), chosen.end(), item) == chosen.end()) chosen.push_back(item);
        }
    }
    plan.agents = chosen;

    auto defaults = dockerfile_arg_defaults(dockerfile);
    std::map<std::string, std::string> overrides;
    for (const auto& v : versions) {
        auto eq = v.find('=');
        std::string agent = v.substr(0, eq);
        if (eq == std::string::npos || !find_agent(agent))
            return make_error(fmt::format("--version '{}': give AGENT=VERSION with AGENT one of claude,codex,gemini (e.g. codex=0.171.0)", v));
        std::string version = v.substr(eq + 1);
        if (!valid_version(version)) return make_error(fmt::format("--version '{}': '{}' is not an npm version", v, version));
        overrides[agent] = version;
    }
    for (const auto& p : kPackages) {
        std::string agent(p.agent);
        std::string version = overrides.count(agent) ? overrides[agent] : defaults[std::string(p.version_arg)];
        if (version.empty()) return make_error(fmt::format("the Dockerfile has no ARG {}=<version>", p.version_arg));
        plan.build_args[std::string(p.version_arg)] = version;
        if (std::find(chosen.begin(), chosen.end(), agent) != chosen.end()) {
            plan.versions[agent] = version;
            plan.npm_specs.push_back(fmt::format("{}@{}", p.package, version));
        }
    }
    for (const auto& o : overrides)
        if (std::find(chosen.begin(), chosen.end(), o.first) == chosen.end())
            return make_error(fmt::format("--version {}=...: {} is not among --agents", o.first, o.first));
    std::string agent_list;
    for (const auto& a : chosen) agent_list += (agent_list.empty() ? "" : " ") + a;
    plan.build_args["BASE"] = plan.base;
    plan.build_args["AGENTS"] = agent_list;

    std::string material(dockerfile);
    for (const auto& [k, v] : plan.build_args) material += fmt::format("\n{}={}", k, v);
    plan.hash = sha256_hex(material);
    plan.labels[std::string(kImageHashLabel)] = plan.hash;
    plan.labels["dev.airlock.agents"] = agent_list;
    return plan;
}

std::string build_query(const ImageBuildPlan& plan) {
    json::object args, labels;
    for (const auto& [k, v] : plan.build_args) args[k] = v;
    for (const auto& [k, v] : plan.labels) labels[k] = v;
    return fmt::format("/build?t={}&buildargs={}&labels={}&rm=1&forcerm=1", url_encode(plan.tag),
                       url_encode(json::serialize(args)), url_encode(json::serialize(labels)));
}

BuildEvent parse_build_event(std::string_view line) {
    BuildEvent e;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
        e.kind = BuildEvent::output;
        e.text = std::string(line);
        return e;
    }
    const auto& o = v.as_object();
    if (auto* err = o.if_contains("error"); err && err->is_string()) {
        e.kind = BuildEvent::error;
        e.text = std::string(err->as_string());
        return e;
    }
    if (auto* aux = o.if_contains("aux"); aux && aux->is_object()) {
        if (auto* id = aux->as_object().if_contains("ID"); id && id->is_string()) {
            e.kind = BuildEvent::image_id;
            e.text = std::string(id->as_string());
            return e;
        }
    }
    if (auto* s = o.if_contains("stream"); s && s->is_string()) {
        e.kind = BuildEvent::output;
        e.text = std::string(s->as_string());
        return e;
    }
    if (auto* s = o.if_contains("status"); s && s->is_string()) {
        e.kind = BuildEvent::output;
        e.text = std::string(s->as_string());
        if (auto* id = o.if_contains("id"); id && id->is_string()) e.text = std::string(id->as_string()) + ": " + e.text;
        if (auto* p = o.if_contains("progress"); p && p->is_string()) e.text += " " + std::string(p->as_string());
        e.text += "\n";
        return e;
    }
    return e;
}

std::vector<std::string> LineSplitter::feed(std::string_view piece) {
    std::vector<std::string> lines;
    partial_.append(piece);
    std::size_t start = 0;
    for (;;) {
        auto nl = partial_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string line = partial_.substr(start, nl - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) lines.push_back(std::move(line));
        start = nl + 1;
    }
    partial_.erase(0, start);
    return lines;
}

}  // namespace airlock
