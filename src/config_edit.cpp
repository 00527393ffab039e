#include "config_edit.hpp"

#include "config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>

namespace airlock {

namespace {

std::string string_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += toml_quote(items[i]);
    }
    return out + "]";
}

bool blank(char c) { return c == ' ' || c == '\t'; }

// The line starting at `pos` ends at the returned offset (just past its '\n').
std::size_t line_end(std::string_view text, std::size_t pos) {
    auto nl = text.find('\n', pos);
    return nl == std::string_view::npos ? text.size() : nl + 1;
}

// Is the line [begin, end) empty, blanks only, or a comment?
bool blank_or_comment(std::string_view text, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
        char c = text[i];
        if (blank(c) || c == '\r' || c == '\n') continue;
        return c == '#';
    }
    return true;
}

bool blank_line(std::string_view text, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i)
        if (!blank(text[i]) && text[i] != '\r' && text[i] != '\n') return false;
    return true;
}

// The dotted key of a header whose '[' (or "[[") ends just before `pos`: quotes and
// blanks dropped.
std::string header_key(std::string_view text, std::size_t pos, std::size_t stop) {
    std::string key;
    while (pos < stop) {
        char c = text[pos];
        if (c == ']') break;
        if (c == '"' || c == '\'') {
            char q = c;
            ++pos;
            while (pos < stop && text[pos] != q) {
                if (q == '"' && text[pos] == '\\' && pos + 1 < stop) ++pos;
                key += text[pos++];
            }
            ++pos;
            continue;
        }
        if (!blank(c)) key += c;
        ++pos;
    }
    return key;
}

}  // namespace

std::string render_credential_table(const CredentialEntry& e) {
    std::string out = "[[credential]]\n";
    out += fmt::format("name = {}\n", toml_quote(e.name));
    if (!e.preset.empty()) out += fmt::format("preset = {}\n", toml_quote(e.preset));
    if (!e.login.empty()) out += fmt::format("login = {}\n", toml_quote(e.login));
    if (!e.hosts.empty()) out += fmt::format("hosts = {}\n", string_array(e.hosts));
    if (!e.header.empty()) out += fmt::format("header = {}\n", toml_quote(e.header));
    if (!e.value_template.empty()) out += fmt::format("template = {}\n", toml_quote(e.value_template));
    if (e.placeholder_env || e.placeholder_value) {
        std::string fields;
        if (e.placeholder_env) fields += fmt::format("env = {}", toml_quote(*e.placeholder_env));
        if (e.placeholder_value) {
            if (!fields.empty()) fields += ", ";
            fields += fmt::format("value = {}", toml_quote(*e.placeholder_value));
        }
        out += fmt::format("placeholder = {{ {} }}\n", fields);
    }
    switch (e.secret.kind) {
        case SecretSource::Kind::file: out += fmt::format("secret = {{ file = {} }}\n", toml_quote(e.secret.value)); break;
        case SecretSource::Kind::env: out += fmt::format("secret = {{ env = {} }}\n", toml_quote(e.secret.value)); break;
        case SecretSource::Kind::command:
            out += fmt::format("secret = {{ command = {} }}\n", string_array(e.secret.command));
            break;
        case SecretSource::Kind::none: break;
    }
    return out;
}

std::vector<TomlHeader> scan_toml_headers(std::string_view text) {
    std::vector<TomlHeader> headers;
    int depth = 0;               // open [ and { of values
    std::string_view in_multi;   // "\"\"\"" or "'''" while inside a multi-line string
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t begin = pos, end = line_end(text, pos);
        if (in_multi.empty() && depth == 0) {
            std::size_t p = begin;
            while (p < end && blank(text[p])) ++p;
            if (p < end && text[p] == '[') {
                TomlHeader h;
                h.begin = begin;
                h.end = end;
                h.array = p + 1 < end && text[p + 1] == '[';
                h.key = header_key(text, p + (h.array ? 2 : 1), end);
                headers.push_back(std::move(h));
                pos = end;
                continue;
            }
        }
        // Lex the line for strings, comments and brackets.
        std::size_t p = begin;
        while (p < end) {
            if (!in_multi.empty()) {
                if (in_multi[0] == '"' && text[p] == '\\') {
                    p += 2;
                    continue;
                }
                if (text.substr(p, 3) == in_multi) {
                    p += 3;
                    // A closing delimiter may be followed by up to two more quotes.
                    while (p < end && text[p] == in_multi[0]) ++p;
                    in_multi = {};
                    continue;
                }
                ++p;
                continue;
            }
            char c = text[p];
            if (c == '#') break;
            if (c == '"' || c == '\'') {
                if (text.substr(p, 3) == (c == '"' ? "\"\"\"" : "'''")) {
                    in_multi = c == '"' ? "\"\"\"" : "'''";
                    p += 3;
                    continue;
                }
                ++p;
                while (p < end && text[p] != c && text[p] != '\n') {
                    if (c == '"' && text[p] == '\\') ++p;
                    ++p;
                }
                ++p;
                continue;
            }
            if (c == '[' || c == '{') ++depth;
            else if ((c == ']' || c == '}') && depth > 0) --depth;
            ++p;
        }
        pos = end;
    }
    return headers;
}

std::vector<CredentialBlock> find_credential_blocks(std::string_view text) {
    auto headers = scan_toml_headers(text);
    std::vector<CredentialBlock> blocks;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (!headers[i].array || headers[i].key != "credential") continue;
        // The table runs to the next header that is not one of its sub-tables.
        std::size_t next = i + 1;
        while (next < headers.size() && !headers[next].array && headers[next].key.starts_with("credential.")) ++next;
        std::size_t stop = next < headers.size() ? headers[next].begin : text.size();
        // Back over the comment and blank lines just above the next header.
        std::size_t end = stop;
        while (end > headers[i].end) {
            std::size_t line_begin = text.rfind('\n', end - 2);
            line_begin = line_begin == std::string_view::npos ? 0 : line_begin + 1;
            if (line_begin < headers[i].end || !blank_or_comment(text, line_begin, end)) break;
            end = line_begin;
        }
        CredentialBlock block{headers[i].begin, end, ""};
        try {
            auto parsed = toml::parse(text.substr(block.begin, stop - block.begin));
            if (auto* name = parsed["credential"][0]["name"].as_string()) block.name = name->get();
        } catch (const toml::parse_error&) {
            // A table that does not parse has no name we could match.
        }
        blocks.push_back(std::move(block));
    }
    return blocks;
}

std::string append_credential_table(std::string_view text, std::string_view table) {
    std::string out(text);
    // A top-level `credential = []` (before the first header) forbids [[credential]] tables.
    auto headers = scan_toml_headers(out);
    std::size_t top_end = headers.empty() ? out.size() : headers.front().begin;
    for (std::size_t pos = 0; pos < top_end;) {
        std::size_t end = line_end(out, pos);
        std::string line;
        for (std::size_t i = pos; i < end; ++i)
            if (!blank(out[i]) && out[i] != '\n' && out[i] != '\r') line += out[i];
        if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        if (line == "credential=[]") {
            out.erase(pos, end - pos);
            break;
        }
        pos = end;
    }
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    out += table;
    return out;
}

Result<std::string> remove_credential_table(std::string_view text, std::string_view name) {
    for (const auto& block : find_credential_blocks(text)) {
        if (block.name != name) continue;
        std::size_t begin = block.begin, end = block.end;
        // One blank line above the header goes with it.
        if (begin > 0) {
            std::size_t prev = 0;
            if (begin >= 2) {
                auto nl = text.rfind('\n', begin - 2);
                prev = nl == std::string_view::npos ? 0 : nl + 1;
            }
            if (blank_line(text, prev, begin)) begin = prev;
        }
        std::string out(text.substr(0, begin));
        out += text.substr(end);
        return out;
    }
    return make_error(fmt::format("no [[credential]] named '{}'", name));
}

Result<std::vector<std::string>> split_command_line(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (blank(c) || c == '\n') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            continue;
        }
        in_word = true;
        if (c == '\\') {
            if (i + 1 >= line.size()) return make_error("the command ends with a lone backslash");
            word += line[++i];
        } else if (c == '\'') {
            auto close = line.find('\'', i + 1);
            if (close == std::string_view::npos) return make_error("the command has an unterminated ' quote");
            word += line.substr(i + 1, close - i - 1);
            i = close;
        } else if (c == '"') {
            ++i;
            for (;; ++i) {
                if (i >= line.size()) return make_error("the command has an unterminated \" quote");
                char d = line[i];
                if (d == '"') break;
                if (d == '\\' && i + 1 < line.size() &&
                    (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$' || line[i + 1] == '`')) {
                    d = line[++i];
                }
                word += d;
            }
        } else {
            word += c;
        }
    }
    if (in_word) words.push_back(std::move(word));
    if (words.empty()) return make_error("the command is empty");
    return words;
}

std::string join_command_line(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   std::string_view("-_./:=@%+,").find(c) != std::string_view::npos;
        });
        if (plain) {
            out += a;
            continue;
        }
        out += '\'';
        for (char c : a) {
            if (c == '\'') out += "'\\''";
            else out += c;
        }
        out += '\'';
    }
    return out;
}

}  // namespace airlock
