#include "src/config_edit.hpp"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "src/config.hpp"

using namespace airlock;

namespace {

// A file as users write them: comments everywhere, odd spacing, tables around the
// credentials, a multi-line array and a multi-line string holding '[' at a line start.
const std::string kUserFile = R"(# my airlock setup
#   (hand written)

[docker]
image   =   "node:22"     # pinned
network="bridge"

[[credential]]
# the work key
name = "anthropic"
preset = "anthropic"
secret = { env = "ANTHROPIC_API_KEY" }   # from my shell

# internal api below
  [[ credential ]]
name = 'internal'
hosts = [
  "api.internal.example",
  "*.internal.example",   # and subdomains
]
header = "Authorization"
template = "Bearer {secret}"
secret = { command = ["op", "read", "op://vault/internal/token"] }

[proxy]
port = 3031
[proxy.resolve]
"api.internal.example:443" = "127.0.0.1:8443"

[agent.notes]
command = ["sh", "-c", """
[[credential]]
name = "not-a-table"
"""]
)";

CredentialEntry env_entry(std::string name, std::string preset, std::string var) {
    CredentialEntry e;
    e.name = std::move(name);
    e.preset = std::move(preset);
    e.secret.kind = SecretSource::Kind::env;
    e.secret.value = std::move(var);
    return e;
}

std::vector<std::string> names(std::string_view text) {
    std::vector<std::string> out;
    for (const auto& b : find_credential_blocks(text)) out.push_back(b.name);
    return out;
}

}  // namespace

TEST_CASE("the user's file parses (the fixture is valid)") {
    auto config = parse_config(kUserFile, "/h/config.toml");
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
    CHECK(config->credentials.size() == 2);
}

TEST_CASE("scan_toml_headers skips strings, comments and multi-line values") {
    auto headers = scan_toml_headers(kUserFile);
    std::vector<std::string> keys;
    for (const auto& h : headers) keys.push_back((h.array ? "[[" : "[") + h.key);
    CHECK(keys == std::vector<std::string>{"[docker", "[[credential", "[[credential", "[proxy", "[proxy.resolve",
                                           "[agent.notes"});
    CHECK(kUserFile.substr(headers[2].begin, headers[2].end - headers[2].begin) == "  [[ credential ]]\n");
}

TEST_CASE("scan_toml_headers: quoted keys, arrays of arrays, strings with brackets") {
    std::string text = "a = [\n[1, 2],\n[3]\n]\nb = \"[not]\"\n['quoted key'.\"x y\"]\nc = '''\n[no]\n'''\n[[t]]\n";
    auto headers = scan_toml_headers(text);
    REQUIRE(headers.size() == 2);
    CHECK(headers[0].key == "quoted key.x y");
    CHECK(!headers[0].array);
    CHECK(headers[1].key == "t");
    CHECK(headers[1].array);
}

TEST_CASE("find_credential_blocks names each table and stops before the next table's comments") {
    CHECK(names(kUserFile) == std::vector<std::string>{"anthropic", "internal"});
    auto blocks = find_credential_blocks(kUserFile);
    std::string first = kUserFile.substr(blocks[0].begin, blocks[0].end - blocks[0].begin);
    CHECK(first.starts_with("[[credential]]\n# the work key\n"));
    CHECK(first.ends_with("# from my shell\n"));
    CHECK(first.find("internal api below") == std::string::npos);
}

TEST_CASE("add then remove gives back the original bytes") {
    std::string table = render_credential_table(env_entry("openai", "openai", "OPENAI_API_KEY"));
    std::string added = append_credential_table(kUserFile, table);
    CHECK(added.starts_with(kUserFile));
    auto config = parse_config(added, "/h/config.toml");
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
    REQUIRE(config->credentials.size() == 3);
    CHECK(config->credentials[2].name == "openai");
    CHECK(config->credentials[2].hosts == std::vector<std::string>{"api.openai.com"});
    auto removed = remove_credential_table(added, "openai");
    REQUIRE(removed.ok());
    CHECK(*removed == kUserFile);
}

TEST_CASE("a new table after a table that ends without a newline") {
    std::string text = "[proxy]\nport = 4000";
    std::string added = append_credential_table(text, render_credential_table(env_entry("gh", "github", "GH_TOKEN")));
    CHECK(added == "[proxy]\nport = 4000\n\n[[credential]]\nname = \"gh\"\npreset = \"github\"\nsecret = { env = \"GH_TOKEN\" }\n");
    auto config = parse_config(added, "/h/config.toml");
    REQUIRE(config.ok());
    CHECK(config->proxy.port == 4000);
    CHECK(config->credentials.at(0).hosts == std::vector<std::string>{"api.github.com", "github.com"});
}

TEST_CASE("adding to an empty file gives just the table") {
    std::string added = append_credential_table("", render_credential_table(env_entry("gh", "github", "GH_TOKEN")));
    CHECK(added.starts_with("[[credential]]\n"));
}

TEST_CASE("a top-level credential = [] is dropped when a table is added") {
    std::string text = "# none yet\ncredential = []   # later\ncache = []\n\n[docker]\nimage = \"x\"\n";
    std::string added = append_credential_table(text, render_credential_table(env_entry("gh", "github", "GH_TOKEN")));
    CHECK(added.find("credential = []") == std::string::npos);
    CHECK(added.find("cache = []") != std::string::npos);
    auto config = parse_config(added, "/h/config.toml");
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
    CHECK(config->credentials.size() == 1);
    CHECK(config->caches.empty());
}

TEST_CASE("remove takes the table in the middle and keeps every other line") {
    auto removed = remove_credential_table(kUserFile, "anthropic");
    REQUIRE(removed.ok());
    CHECK(removed->find("the work key") == std::string::npos);
    CHECK(removed->find("from my shell") == std::string::npos);
    CHECK(removed->find("# internal api below\n  [[ credential ]]\nname = 'internal'") != std::string::npos);
    CHECK(removed->find("image   =   \"node:22\"     # pinned\nnetwork=\"bridge\"\n\n# internal api below") != std::string::npos);
    auto config = parse_config(*removed, "/h/config.toml");
    REQUIRE(config.ok());
    REQUIRE(config->credentials.size() == 1);
    CHECK(config->credentials[0].name == "internal");
    CHECK(config->agents.at("notes").command.at(2).find("not-a-table") != std::string::npos);
}

TEST_CASE("remove takes a table with a multi-line array and leaves the tables after it") {
    auto removed = remove_credential_table(kUserFile, "internal");
    REQUIRE(removed.ok());
    CHECK(removed->find("internal.example\",") == std::string::npos);
    CHECK(removed->find("op://vault") == std::string::npos);
    CHECK(removed->find("[proxy]\nport = 3031\n") != std::string::npos);
    auto config = parse_config(*removed, "/h/config.toml");
    REQUIRE(config.ok());
    CHECK(config->credentials.size() == 1);
    CHECK(config->proxy.port == 3031);
    CHECK(config->proxy.resolve.size() == 1);
}

TEST_CASE("remove takes the credential's sub-tables with it") {
    std::string text =
        "[[credential]]\nname = \"a\"\nhosts = [\"a.example\"]\nheader = \"X-Key\"\ntemplate = \"{secret}\"\n"
        "secret = { env = \"A\" }\n[credential.placeholder]\nenv = \"A_KEY\"\n\n[docker]\nimage = \"x\"\n";
    REQUIRE(parse_config(text, "/h/config.toml").ok());
    auto removed = remove_credential_table(text, "a");
    REQUIRE(removed.ok());
    CHECK(*removed == "\n[docker]\nimage = \"x\"\n");
}

TEST_CASE("remove of an unknown name is an error") {
    auto removed = remove_credential_table(kUserFile, "nope");
    REQUIRE(!removed.ok());
    CHECK(removed.error().message.find("nope") != std::string::npos);
    // Not fooled by the name inside the multi-line string.
    CHECK(!remove_credential_table(kUserFile, "not-a-table").ok());
}

TEST_CASE("render_credential_table escapes and parses back to the rule") {
    CredentialEntry e;
    e.name = "custom";
    e.hosts = {"api.example.com", "*.example.net"};
    e.header = "Authorization";
    e.value_template = "Token \"{secret}\"\\";
    e.placeholder_env = "CUSTOM_TOKEN";
    e.placeholder_value = "placeholder";
    e.secret.kind = SecretSource::Kind::command;
    e.secret.command = {"pass", "show", "it's \"mine\""};
    auto config = parse_config(render_credential_table(e), "/h/config.toml");
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
    const auto& rule = config->credentials.at(0);
    CHECK(rule.hosts == e.hosts);
    CHECK(rule.header == "Authorization");
    CHECK(rule.value_template == e.value_template);
    REQUIRE(rule.placeholder.has_value());
    CHECK(rule.placeholder->env == "CUSTOM_TOKEN");
    CHECK(rule.placeholder->value == "placeholder");
    CHECK(rule.secret.command == e.secret.command);
}

TEST_CASE("split_command_line: words, quotes, escapes, no expansion") {
    using V = std::vector<std::string>;
    CHECK(*split_command_line("gh auth token") == V{"gh", "auth", "token"});
    CHECK(*split_command_line("  op  read\t'op://vault/a b/field'  ") == V{"op", "read", "op://vault/a b/field"});
    CHECK(*split_command_line(R"(sh -c "echo \"\$HOME\" \\ x")") == V{"sh", "-c", R"(echo "$HOME" \ x)"});
    CHECK(*split_command_line(R"(a\ b c)") == V{"a b", "c"});
    CHECK(*split_command_line("echo $HOME ~ *") == V{"echo", "$HOME", "~", "*"});
    CHECK(*split_command_line("a''b \"\"") == V{"ab", ""});
    CHECK(!split_command_line("").ok());
    CHECK(!split_command_line("   ").ok());
    CHECK(!split_command_line("op 'read").ok());
    CHECK(!split_command_line("op \"read").ok());
    CHECK(!split_command_line("op \\").ok());
}

TEST_CASE("join_command_line round-trips through split_command_line") {
    std::vector<std::vector<std::string>> cases = {
        {"gh", "auth", "token"}, {"op", "read", "op://vault/a b/field"}, {"sh", "-c", "echo 'x' \"$y\""}, {"a", ""}};
    for (const auto& argv : cases) {
        auto line = join_command_line(argv);
        auto back = split_command_line(line);
        REQUIRE(back.ok());
        CHECK(*back == argv);
    }
    CHECK(join_command_line({"gh", "auth", "token"}) == "gh auth token");
}
