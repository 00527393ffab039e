#include "proxy/http_request.hpp"

#include <fmt/format.h>

namespace airlock::proxy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '.': case '^': case '_': case '`': case '|': case '~': return true;
        default: return false;
    }
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

Error bad(std::string_view why, std::string_view what = "request") {
    return make_error(fmt::format("bad {} head: {}", what, why));
}

// Checks the CRLF discipline and the size, and returns the lines before the blank line
// (each with its CRLF).
Result<std::string_view> head_lines(std::string_view raw, std::string_view what) {
    if (raw.size() > max_request_head)
        return make_error(fmt::format("{} head is larger than {} bytes", what, max_request_head));
    // Every line ends in CRLF; no bare CR or LF anywhere.
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\r' && (i + 1 >= raw.size() || raw[i + 1] != '\n')) return bad("bare CR", what);
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) return bad("bare LF (lines must end in CRLF)", what);
    }
    auto end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos) return bad("incomplete (no blank line)", what);
    if (end + 4 != raw.size()) return bad("bytes after the blank line", what);
    return raw.substr(0, end + 2);
}

std::string_view next_line(std::string_view& rest) {
    auto eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    return line;
}

// The field lines after the start line: token ":" OWS value OWS, no obs-fold, no controls.
Status parse_fields(std::string_view rest, HeaderFields& head, std::string_view what) {
    while (!rest.empty()) {
        auto line = next_line(rest);
        if (line.empty()) return bad("empty field line", what);  // cannot happen: the blank line ends the head
        if (is_ows(line.front())) return bad("obsolete line folding", what);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return bad("field line without ':'", what);
        std::string_view name = line.substr(0, colon);
        if (!is_token(name)) {
            if (!name.empty() && is_ows(name.back())) return bad("whitespace before ':' in a field name", what);
            return bad("invalid field name", what);
        }
        std::string_view value = trim_ows(line.substr(colon + 1));
        for (char c : value) {
            unsigned char u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f)
                return bad(fmt::format("control character in the value of {}", name), what);
        }
        head.fields.emplace_back(std::string(name), std::string(value));
    }
    return {};
}

}  // namespace

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::vector<std::string_view> split_list(std::string_view value) {
    std::vector<std::string_view> out;
    while (true) {
        auto comma = value.find(',');
        auto item = trim_ows(value.substr(0, comma));
        if (!item.empty()) out.push_back(item);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<std::string_view> HeaderFields::find(std::string_view name) const {
    for (const auto& [n, v] : fields)
        if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
}

std::size_t HeaderFields::count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& f : fields)
        if (iequals(f.first, name)) ++n;
    return n;
}

std::vector<std::string_view> HeaderFields::values(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [n, v] : fields)
        if (iequals(n, name)) out.emplace_back(v);
    return out;
}

std::size_t HeaderFields::remove(std::string_view name) {
    std::size_t before = fields.size();
    std::erase_if(fields, [&](const auto& f) { return iequals(f.first, name); });
    return before - fields.size();
}

void HeaderFields::set(std::string_view name, std::string_view value) {
    remove(name);
    fields.emplace_back(std::string(name), std::string(value));
}

std::string RequestHead::serialize() const {
    std::string out;
    out.reserve(64 + fields.size() * 32);
    out += method;
    out += ' ';
    out += target;
    out += version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
    for (const auto& [n, v] : fields) {
        out += n;
        out += ": ";
        out += v;
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

std::optional<std::size_t> find_head_end(std::string_view buffered) {
    auto pos = buffered.find("\r\n\r\n");
    if (pos == std::string_view::npos) return std::nullopt;
    return pos + 4;
}

int head_error_status(std::string_view raw) { return raw.size() > max_request_head ? 431 : 400; }

Result<RequestHead> parse_request_head(std::string_view raw) {
    auto lines = head_lines(raw, "request");
    if (!lines) return lines.error();
    std::string_view rest = *lines;

    RequestHead head;
    std::string_view line = next_line(rest);
    if (line.empty()) return bad("empty line before the request line");
    auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return bad("malformed request line");
    auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return bad("malformed request line");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method)) return bad("invalid method");
    if (target.empty()) return bad("empty request target");
    for (char c : target) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) return bad("invalid character in request target");
    }
    if (version == "HTTP/1.1")
        head.version = 11;
    else if (version == "HTTP/1.0")
        head.version = 10;
    else
        return bad("unsupported HTTP version (HTTP/1.0 or HTTP/1.1 only)");
    head.method = std::string(method);
    head.target = std::string(target);
    if (auto st = parse_fields(rest, head, "request"); !st) return st.error();
    return head;
}

Result<ResponseHead> parse_response_head(std::string_view raw) {
    auto lines = head_lines(raw, "response");
    if (!lines) return lines.error();
    std::string_view rest = *lines;

    ResponseHead head;
    std::string_view line = next_line(rest);
    // HTTP-version SP 3DIGIT SP [reason]
    if (line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
        return bad("malformed status line", "response");
    auto version = line.substr(0, 8);
    if (version == "HTTP/1.1")
        head.version = 11;
    else if (version == "HTTP/1.0")
        head.version = 10;
    else
        return bad("unsupported HTTP version", "response");
    int status = 0;
    for (char c : line.substr(9, 3)) {
        if (c < '0' || c > '9') return bad("malformed status code", "response");
        status = status * 10 + (c - '0');
    }
    if (status < 100) return bad("malformed status code", "response");
    head.status = status;
    // reason-phrase = *( HTAB / SP / VCHAR / obs-text ): it is forwarded to the client as is.
    for (char c : line.substr(std::min<std::size_t>(line.size(), 13))) {
        unsigned char u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return bad("control character in the reason phrase", "response");
    }
    if (line.size() > 13) head.reason = std::string(line.substr(13));
    if (auto st = parse_fields(rest, head, "response"); !st) return st.error();
    return head;
}

}  // namespace airlock::proxy
