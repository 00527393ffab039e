#pragma once
// The agent image `airlock image build` builds from images/agent/Dockerfile (carried in the
// binary as kAgentDockerfile): which agents, at which versions, the build arguments, the
// content hash that says whether an existing image is current, the Engine API /build query,
// and the engine's progress events. Pure.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"

namespace airlock {

inline constexpr std::string_view kDefaultAgentImage = "airlock/agent:latest";
inline constexpr std::string_view kDefaultAgentBase = "debian:trixie-slim";
// The image label holding the content hash.
inline constexpr std::string_view kImageHashLabel = "dev.airlock.image-hash";

struct AgentPackage {
    std::string_view agent;        // claude | codex | gemini (also the command's name)
    std::string_view package;      // npm package
    std::string_view version_arg;  // the Dockerfile ARG holding its version
};
std::span<const AgentPackage> agent_packages();

// `ARG NAME=value` defaults in a Dockerfile (quotes removed).
std::map<std::string, std::string> dockerfile_arg_defaults(std::string_view dockerfile);

struct ImageBuildPlan {
    std::string tag;
    std::string base;
    std::vector<std::string> agents;              // in the order given
    std::map<std::string, std::string> versions;  // agent -> version
    std::vector<std::string> npm_specs;           // "@openai/codex@0.171.0"
    std::map<std::string, std::string> build_args;
    std::map<std::string, std::string> labels;
    std::string hash;  // sha256 hex of the Dockerfile and the build arguments
};

// From the flags: `agents` comma-separated ("" = none, nullopt = all), `versions` as
// "codex=0.170.0". Errors name the flag and the accepted values.
Result<ImageBuildPlan> plan_image_build(std::string_view dockerfile, const std::string& base,
                                        const std::optional<std::string>& agents,
                                        const std::vector<std::string>& versions, const std::string& tag);

// "/build?t=...&buildargs=...&labels=...&rm=1&forcerm=1" (values URL-encoded JSON).
std::string build_query(const ImageBuildPlan& plan);

// One line of the engine's JSON progress stream.
struct BuildEvent {
    enum Kind { output, image_id, error, other };
    Kind kind = other;
    std::string text;  // output: the text (may hold several lines); image_id: "sha256:..."; error: the message
};
BuildEvent parse_build_event(std::string_view json_line);

// Splits a byte stream into lines: feed pieces, get the complete lines so far.
class LineSplitter {
public:
    std::vector<std::string> feed(std::string_view piece);
    std::string rest() { return std::exchange(partial_, {}); }

private:
    std::string partial_;
};

}  // namespace airlock
