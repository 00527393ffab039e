#include "src/agent_image.hpp"

#include <string>

#include <doctest/doctest.h>

#include "agent_dockerfile.hpp"

using namespace airlock;

TEST_CASE("the Dockerfile in the repository records every agent's version") {
    auto args = dockerfile_arg_defaults(kAgentDockerfile);
    for (const auto& p : agent_packages()) CHECK(!args[std::string(p.version_arg)].empty());
    CHECK(args["BASE"] == std::string(kDefaultAgentBase));
    CHECK(args["AGENTS"] == "claude codex gemini");
}

TEST_CASE("dockerfile_arg_defaults reads ARG lines") {
    auto args = dockerfile_arg_defaults("FROM x\nARG A=1\n  ARG B=\"two words\"\nARG C\nRUN ARG D=no\n");
    CHECK(args.size() == 2);
    CHECK(args["A"] == "1");
    CHECK(args["B"] == "two words");
}

TEST_CASE("plan_image_build: defaults") {
    auto plan = plan_image_build("ARG CLAUDE_CODE_VERSION=1.0.0\nARG CODEX_VERSION=0.1.0\nARG GEMINI_CLI_VERSION=0.2.0\n", "",
                                 std::nullopt, {}, "");
    REQUIRE(plan.ok());
    CHECK(plan->tag == "airlock/agent:latest");
    CHECK(plan->base == "debian:trixie-slim");
    CHECK(plan->agents == std::vector<std::string>{"claude", "codex", "gemini"});
    CHECK(plan->npm_specs ==
          std::vector<std::string>{"@anthropic-ai/claude-code@1.0.0", "@openai/codex@0.1.0", "@google/gemini-cli@0.2.0"});
    CHECK(plan->build_args.at("AGENTS") == "claude codex gemini");
    CHECK(plan->labels.at(std::string(kImageHashLabel)) == plan->hash);
    CHECK(plan->hash.size() == 64);
}

TEST_CASE("plan_image_build: agents, versions and the content hash") {
    std::string df = "ARG CLAUDE_CODE_VERSION=1.0.0\nARG CODEX_VERSION=0.1.0\nARG GEMINI_CLI_VERSION=0.2.0\n";
    auto a = plan_image_build(df, "airlock-test/agent", std::string("codex"), {}, "t:1");
    auto b = plan_image_build(df, "airlock-test/agent", std::string("codex"), {"codex=0.2.0"}, "t:1");
    auto c = plan_image_build(df + "RUN true\n", "airlock-test/agent", std::string("codex"), {}, "t:1");
    auto again = plan_image_build(df, "airlock-test/agent", std::string(" codex ,codex"), {}, "t:1");
    REQUIRE((a.ok() && b.ok() && c.ok() && again.ok()));
    CHECK(a->npm_specs == std::vector<std::string>{"@openai/codex@0.1.0"});
    CHECK(b->npm_specs == std::vector<std::string>{"@openai/codex@0.2.0"});
    CHECK(a->hash != b->hash);
    CHECK(a->hash != c->hash);
    CHECK(a->hash == again->hash);
    auto none = plan_image_build(df, "", std::string(""), {}, "");
    REQUIRE(none.ok());
    CHECK(none->npm_specs.empty());
    CHECK(none->build_args.at("AGENTS").empty());
}

TEST_CASE("plan_image_build: bad flags name the fix") {
    std::string df = "ARG CLAUDE_CODE_VERSION=1.0.0\nARG CODEX_VERSION=0.1.0\nARG GEMINI_CLI_VERSION=0.2.0\n";
    auto bad_agent = plan_image_build(df, "", std::string("claude,aider"), {}, "");
    REQUIRE(!bad_agent.ok());
    CHECK(bad_agent.error().message == "--agents: unknown agent 'aider'; use some of claude,codex,gemini");
    CHECK(!plan_image_build(df, "", std::nullopt, {"codex"}, "").ok());
    CHECK(!plan_image_build(df, "", std::nullopt, {"codex=1.0; rm -rf /"}, "").ok());
    CHECK(!plan_image_build(df, "", std::string("claude"), {"codex=1.0.0"}, "").ok());
    CHECK(!plan_image_build(df, "bad base", std::nullopt, {}, "").ok());
    CHECK(!plan_image_build("", "", std::nullopt, {}, "").ok());
}

TEST_CASE("build_query URL-encodes the JSON build arguments and labels") {
    auto plan = plan_image_build("ARG CLAUDE_CODE_VERSION=1\nARG CODEX_VERSION=2\nARG GEMINI_CLI_VERSION=3\n", "debian:bookworm-slim",
                                 std::string("codex"), {}, "airlock/agent:latest");
    REQUIRE(plan.ok());
    auto q = build_query(*plan);
    CHECK(q.starts_with("/build?t=airlock%2Fagent%3Alatest&buildargs=%7B"));
    CHECK(q.find("%22BASE%22%3A%22debian%3Abookworm-slim%22") != std::string::npos);
    CHECK(q.find("&labels=%7B") != std::string::npos);
    CHECK(q.ends_with("&rm=1&forcerm=1"));
}

TEST_CASE("parse_build_event: stream, status, aux, error") {
    auto out = parse_build_event(R"({"stream":"Step 1/9 : FROM x\n"})");
    CHECK(out.kind == BuildEvent::output);
    CHECK(out.text == "Step 1/9 : FROM x\n");
    auto id = parse_build_event(R"({"aux":{"ID":"sha256:abc"}})");
    CHECK(id.kind == BuildEvent::image_id);
    CHECK(id.text == "sha256:abc");
    auto err = parse_build_event(R"({"errorDetail":{"code":1,"message":"boom"},"error":"boom"})");
    CHECK(err.kind == BuildEvent::error);
    CHECK(err.text == "boom");
    auto status = parse_build_event(R"({"status":"Downloading","id":"abc","progress":"[==>  ]"})");
    CHECK(status.text == "abc: Downloading [==>  ]\n");
    CHECK(parse_build_event("not json").kind == BuildEvent::output);
}

TEST_CASE("LineSplitter joins pieces into lines") {
    LineSplitter s;
    CHECK(s.feed("{\"a\":").empty());
    auto lines = s.feed("1}\r\n{\"b\":2}\n\n{\"c\"");
    CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
    CHECK(s.rest() == "{\"c\"");
}
