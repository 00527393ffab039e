// airlock ca init | show | path

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "ca/ca.hpp"
#include "cli/command.hpp"

namespace airlock::cli {
namespace {

void print_info(const ca::CaInfo& info) {
    fmt::print("subject:     {}\n", info.subject);
    fmt::print("sha256:      {}\n", info.sha256_fingerprint);
    fmt::print("not before:  {}\n", info.not_before);
    fmt::print("not after:   {}\n", info.not_after);
    fmt::print("certificate: {}\n", info.cert_path.string());
    fmt::print("key:         {}\n", info.key_path.string());
}

}  // namespace

void add_ca_commands(CLI::App& app, Context& ctx) {
    auto* ca_cmd = app.add_subcommand("ca", "the certificate authority the proxy signs leaves with");
    ca_cmd->require_subcommand(1);

    auto* init = ca_cmd->add_subcommand("init", "create the CA under $AIRLOCK_HOME/ca");
    auto force = std::make_shared<bool>(false);
    init->add_flag("--force", *force, "replace an existing CA (containers must then get the new one)");
    init->callback([&ctx, force] {
        auto dir = ctx.paths().ca_dir();
        auto authority = ca::Authority::create(dir, *force);
        if (!authority) throw CommandError(authority.error().message);
        fmt::print("created CA in {}\n", dir.string());
        print_info((*authority)->info());
    });

    auto* show = ca_cmd->add_subcommand("show", "print the CA's subject, fingerprint, validity and path");
    show->callback([&ctx] {
        auto authority = ca::Authority::load(ctx.paths().ca_dir());
        if (!authority) throw CommandError(authority.error().message);
        print_info((*authority)->info());
    });

    auto* path = ca_cmd->add_subcommand("path", "print the CA certificate's path (for scripts)");
    path->callback([&ctx] {
        auto cert = ca::Authority::cert_path(ctx.paths().ca_dir());
        std::error_code ec;
        if (!std::filesystem::exists(cert, ec))
            throw CommandError(fmt::format("no CA at {}; run 'airlock ca init'", cert.string()));
        fmt::print("{}\n", cert.string());
    });
}

}  // namespace airlock::cli
