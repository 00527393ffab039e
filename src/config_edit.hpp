#pragma once
// Editing config.toml's [[credential]] tables as text, so the user's comments, spacing and
// key order survive `airlock credential add|remove` and `airlock init`. Pure: text in,
// text out. The caller validates the result with parse_config before writing it.
//
// What an edit touches:
//  - add appends one blank line and the new table at the end of the file (a top-level
//    `credential = []`, which would forbid [[credential]] tables, is dropped first);
//  - remove deletes one table: from its header through its last key line (and the
//    [credential.*] sub-tables that follow it), plus one blank line above the header.
//    Comment lines between its last key and the next header stay: they usually describe
//    the next table. So add followed by remove gives back the original bytes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "airlock/settings.hpp"

namespace airlock {

// A [[credential]] table as the user asked for it: fields left empty are not written (a
// preset fills them when the file is loaded).
struct CredentialEntry {
    std::string name;
    std::string preset;
    std::string login;  // claude | chatgpt | google: a subscription login (no secret)
    std::vector<std::string> hosts;
    std::string header;
    std::string value_template;
    std::optional<std::string> placeholder_env;
    std::optional<std::string> placeholder_value;
    SecretSource secret;
};

// The table's text, ending in '\n'. Strings are TOML basic strings, escaped.
std::string render_credential_table(const CredentialEntry& entry);

// A table header found in a TOML document (outside strings, comments and multi-line values).
struct TomlHeader {
    std::size_t begin = 0;  // offset of the line's first byte
    std::size_t end = 0;    // offset just past the line's '\n' (or the text's end)
    std::string key;        // dotted key, whitespace and quotes removed: "credential", "proxy.resolve"
    bool array = false;     // [[...]]
};
std::vector<TomlHeader> scan_toml_headers(std::string_view text);

// One [[credential]] table's place in the text, with its name ("" when it has none).
struct CredentialBlock {
    std::size_t begin = 0;  // the header line's first byte
    std::size_t end = 0;    // just past the last line of the table's keys
    std::string name;
};
std::vector<CredentialBlock> find_credential_blocks(std::string_view text);

// `text` with `table` (render_credential_table's output) appended.
std::string append_credential_table(std::string_view text, std::string_view table);

// `text` without the [[credential]] table named `name`; an error when there is none.
Result<std::string> remove_credential_table(std::string_view text, std::string_view name);

// Splits a command line the way a POSIX shell splits words, without expanding anything:
// blanks separate words; '...' is literal; "..." keeps blanks, with \" \\ \$ \` escapes;
// a backslash outside quotes escapes the next character. No variables, globs, ~, pipes
// or redirections: "gh auth token" -> ["gh", "auth", "token"]. An unterminated quote or
// an empty line is an error.
Result<std::vector<std::string>> split_command_line(std::string_view line);

// A command as one line that split_command_line turns back into the same argv.
std::string join_command_line(const std::vector<std::string>& argv);

}  // namespace airlock
