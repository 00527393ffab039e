// airlock image build: the default agent image from images/agent/Dockerfile (carried in the
// binary), built through the Engine API's /build with a tar context that airlock writes.
// The agents are installed with npm on the host (its registry access, proxy and CA settings
// apply) into a cache under $AIRLOCK_HOME/cache/agents/, and sent in the context.

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <boost/json.hpp>
#include <openssl/evp.h>

#include "agent_dockerfile.hpp"
#include "agent_image.hpp"
#include "backends/docker/docker_backend.hpp"
#include "backends/docker/engine_client.hpp"
#include "backends/docker/tar_writer.hpp"
#include "cli/command.hpp"
#include "cli/image_build.hpp"

extern char** environ;

namespace airlock::cli {
namespace {

namespace fs = std::filesystem;

// Compresses everything written to it into `out` (gzip; the engine unpacks it).
class GzipSink {
public:
    explicit GzipSink(std::string& out) : out_(out) {
        deflateInit2(&z_, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    }
    ~GzipSink() { deflateEnd(&z_); }
    GzipSink(const GzipSink&) = delete;
    GzipSink& operator=(const GzipSink&) = delete;
    void write(std::string_view bytes) { run(bytes, Z_NO_FLUSH); }
    void finish() { run({}, Z_FINISH); }

private:
    void run(std::string_view bytes, int flush) {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
        z_.avail_in = static_cast<uInt>(bytes.size());
        char buf[1 << 16];
        do {
            z_.next_out = reinterpret_cast<Bytef*>(buf);
            z_.avail_out = sizeof buf;
            deflate(&z_, flush);
            out_.append(buf, sizeof buf - z_.avail_out);
        } while (z_.avail_out == 0 || (flush == Z_FINISH && z_.avail_in > 0));
    }
    std::string& out_;
    z_stream z_{};
};

std::string short_hash(std::string_view text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
    std::string out;
    for (unsigned i = 0; i < 8; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
}

// Runs argv with stdout and stderr on our stderr; the exit status, or -1 if it could not run.
int run_to_stderr(const std::vector<std::string>& args, const fs::path& cwd) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::string old_cwd = fs::current_path().string();
    fs::current_path(cwd);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    fs::current_path(old_cwd);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -1;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// The agents installed by npm on the host into $AIRLOCK_HOME/cache/agents/<hash>/, reused
// while present. Returns that directory ("" when no agent is asked for).
fs::path stage_agents(const Paths& paths, const ImageBuildPlan& plan, bool quiet) {
    if (plan.npm_specs.empty()) return {};
    std::string key;
    for (const auto& s : plan.npm_specs) key += s + "\n";
    fs::path dir = paths.home / "cache" / "agents" / short_hash(key);
    if (fs::exists(dir / ".complete")) {
        if (!quiet) fmt::print("agents: {} (cached in {})\n", fmt::join(plan.npm_specs, " "), dir.string());
        return dir;
    }
    fs::path tmp = dir;
    tmp += fmt::format(".tmp-{}", ::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) throw CommandError(fmt::format("cannot create {}: {}", tmp.string(), ec.message()));
    if (!quiet) fmt::print("agents: npm install {} (on this host)\n", fmt::join(plan.npm_specs, " "));
    std::fflush(stdout);
    std::vector<std::string> args = {"npm", "install", "--prefix", tmp.string(), "--no-save", "--omit=dev",
                                     "--no-audit", "--no-fund", "--loglevel=error"};
    args.insert(args.end(), plan.npm_specs.begin(), plan.npm_specs.end());
    int rc = run_to_stderr(args, tmp);
    if (rc != 0) {
        fs::remove_all(tmp, ec);
        if (rc == -1) throw CommandError("npm is not installed on this host; install it (apt-get install npm) to build the agent image, or use --agents ''");
        throw CommandError(fmt::format("npm install {} failed (exit {}); see npm's output above (registry reachable? versions exist? 'npm view @openai/codex versions')",
                                       fmt::join(plan.npm_specs, " "), rc));
    }
    std::FILE* marker = std::fopen((tmp / ".complete").c_str(), "w");
    if (marker) std::fclose(marker);
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir, ec);
    if (ec) throw CommandError(fmt::format("cannot move {} to {}: {}", tmp.string(), dir.string(), ec.message()));
    return dir;
}

std::string make_context(const fs::path& staged) {
    std::string gz;
    GzipSink gzip(gz);
    docker::TarWriter tar([&gzip](std::string_view b) { gzip.write(b); });
    auto check = [](Status st) {
        if (!st) throw CommandError("cannot write the build context: " + st.error().message);
    };
    check(tar.add_file("Dockerfile", kAgentDockerfile));
    check(tar.add_directory("agents"));
    check(tar.add_file("agents/.keep", ""));
    if (!staged.empty()) check(tar.add_tree("agents/node_modules", staged / "node_modules"));
    tar.finish();
    gzip.finish();
    return gz;
}

// The image's content-hash label, "" when the image is missing or has none.
std::string existing_hash(docker::EngineClient& client, const std::string& tag) {
    docker::EngineRequest req;
    req.target = "/images/" + tag + "/json";
    auto r = client.request(req);
    if (!r) throw CommandError(r.error().message);
    if (r->status != 200) return {};
    boost::system::error_code ec;
    auto v = boost::json::parse(r->body, ec);
    if (ec || !v.is_object()) return {};
    auto* config = v.as_object().if_contains("Config");
    if (!config || !config->is_object()) return {};
    auto* labels = config->as_object().if_contains("Labels");
    if (!labels || !labels->is_object()) return {};
    auto* hash = labels->as_object().if_contains(kImageHashLabel);
    return hash && hash->is_string() ? std::string(hash->as_string()) : std::string();
}

}  // namespace

void build_agent_image(Context& ctx, const ImageBuildFlags& flags) {
    auto plan = plan_image_build(kAgentDockerfile, flags.base, flags.agents, flags.versions, flags.tag);
    if (!plan) throw CommandError(plan.error().message, exit_usage);
    auto endpoint = docker::endpoint_from_env();
    if (!endpoint) throw CommandError(endpoint.error().message);
    docker::EngineClient client(*endpoint);
    const bool json = flags.json;
    auto say = [json](const std::string& line) {
        if (json) {
            boost::json::object o;
            o["airlock"] = line;
            fmt::print("{}\n", boost::json::serialize(o));
        } else {
            fmt::print("{}\n", line);
        }
        std::fflush(stdout);
    };

    if (!flags.force && existing_hash(client, plan->tag) == plan->hash) {
        say(fmt::format("{} is up to date (content hash {}); --force rebuilds it", plan->tag, plan->hash.substr(0, 12)));
        return;
    }
    say(fmt::format("building {} from {} with {}", plan->tag, plan->base,
                    plan->agents.empty() ? std::string("no agents") : fmt::format("{}", fmt::join(plan->npm_specs, ", "))));
    fs::path staged = stage_agents(ctx.paths(), *plan, json);
    std::string context = make_context(staged);
    say(fmt::format("sending the build context ({:.1f} MiB)", static_cast<double>(context.size()) / (1024.0 * 1024.0)));

    docker::EngineRequest req;
    req.method = "POST";
    req.target = build_query(*plan);
    req.body = std::move(context);
    req.headers["Content-Type"] = "application/x-tar";
    req.idle_timeout = std::chrono::seconds(900);
    LineSplitter lines;
    std::string image_id, error;
    auto handle = [&](const std::string& line) {
        auto e = parse_build_event(line);
        if (json) fmt::print("{}\n", line);
        if (e.kind == BuildEvent::error) error = e.text;
        else if (e.kind == BuildEvent::image_id) image_id = e.text;
        else if (e.kind == BuildEvent::output && !json) fmt::print("{}", e.text);
        std::fflush(stdout);
    };
    auto r = client.stream(req, [&](std::string_view piece) {
        for (const auto& line : lines.feed(piece)) handle(line);
        return true;
    });
    if (auto last = lines.rest(); !last.empty()) handle(last);
    if (!r) throw CommandError(r.error().message);
    if (r->status / 100 != 2)
        throw CommandError(fmt::format("the engine refused the build ({}): {}", r->status, docker::engine_message(r->body)));
    if (!error.empty()) {
        std::string one_line = error;
        while (!one_line.empty() && one_line.back() == '\n') one_line.pop_back();
        throw CommandError(fmt::format("building {} failed: {}", plan->tag, one_line));
    }
    say(fmt::format("built {} ({})", plan->tag, image_id.empty() ? "no image id reported" : image_id));
}

void ensure_default_image(Context& ctx, const std::string& image, bool build) {
    if (build) {
        ImageBuildFlags flags;
        flags.tag = image;
        build_agent_image(ctx, flags);
        return;
    }
    auto endpoint = docker::endpoint_from_env();
    if (!endpoint) throw CommandError(endpoint.error().message);
    docker::EngineClient client(*endpoint);
    docker::EngineRequest req;
    req.target = "/images/" + image + "/json";
    auto r = client.request(req);
    if (!r) throw CommandError(r.error().message);
    if (r->status == 404)
        throw CommandError(fmt::format("image {} is not present; run 'airlock image build' (or 'airlock create --build')", image));
}

void add_image_commands(CLI::App& app, Context& ctx) {
    auto* image = app.add_subcommand("image", "the agent image airlock builds");
    image->require_subcommand(1);
    auto flags = std::make_shared<ImageBuildFlags>();
    auto agents = std::make_shared<std::string>();
    auto* build = image->add_subcommand("build", "build the default agent image (Debian, git, node, ripgrep, jq, the agent CLIs)");
    build->add_option("--base", flags->base, "the base image (default debian:trixie-slim)");
    auto* o_agents = build->add_option("--agents", *agents, "the agents to install, comma-separated: claude,codex,gemini (default all; '' none)");
    build->add_option("--version", flags->versions, "an agent's npm version, e.g. codex=0.171.0 (repeat; default: the Dockerfile's)");
    build->add_option("--tag", flags->tag, "the image's name (default airlock/agent:latest)");
    build->add_flag("--force", flags->force, "build even when an image with the same content hash exists");
    build->add_flag("--json", flags->json, "print the engine's JSON events as they come (and airlock's as {\"airlock\": ...})");
    build->callback([&ctx, flags, agents, o_agents] {
        ImageBuildFlags f = *flags;
        if (o_agents->count()) f.agents = *agents;
        build_agent_image(ctx, f);
    });
}

}  // namespace airlock::cli
