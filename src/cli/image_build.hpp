#pragma once
// `airlock image build`, also run by `airlock create --build` (src/cli/image_cmd.cpp).

#include <optional>
#include <string>
#include <vector>

#include "cli/command.hpp"

namespace airlock::cli {

struct ImageBuildFlags {
    std::string base;                   // "" = debian:bookworm-slim
    std::optional<std::string> agents;  // nullopt = all
    std::vector<std::string> versions;  // "codex=0.171.0"
    std::string tag;                    // "" = airlock/agent:latest
    bool force = false;
    bool json = false;
};

// Builds the image (or says it is up to date); throws CommandError.
void build_agent_image(Context& ctx, const ImageBuildFlags& flags);

// For `create` with the default image: when `image` is missing, builds it if `build`, else
// fails with "... run 'airlock image build'". With `build` and the image present, rebuilds
// it only if its content hash is stale.
void ensure_default_image(Context& ctx, const std::string& image, bool build);

}  // namespace airlock::cli
