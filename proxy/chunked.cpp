#include "proxy/chunked.hpp"

#include <fmt/format.h>

#include "proxy/http_request.hpp"

namespace airlock::proxy {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_tchar(char c) { return is_token(std::string_view(&c, 1)); }

// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
bool is_qdtext(unsigned char u) {
    return u == '\t' || u == ' ' || u == 0x21 || (u >= 0x23 && u <= 0x5b) || (u >= 0x5d && u <= 0x7e) || u >= 0x80;
}

// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
bool is_quotable(unsigned char u) { return u == '\t' || u == ' ' || (u >= 0x21 && u <= 0x7e) || u >= 0x80; }

// field-vchar / SP / HTAB
bool is_field_char(unsigned char u) { return u == '\t' || u == ' ' || (u >= 0x21 && u <= 0x7e) || u >= 0x80; }

std::string describe(unsigned char u) {
    if (u == '\r') return "a bare CR";
    if (u == '\n') return "a bare LF";
    if (u == 0) return "a NUL byte";
    return fmt::format("byte 0x{:02x}", u);
}

// Where the line at the front of `in` ends: the offset of its LF, npos if none within
// `limit` bytes.
std::size_t line_end(std::string_view in, std::size_t limit) {
    return in.substr(0, limit).find('\n');
}

}  // namespace

bool parse_chunk_size_line(std::string_view line, std::uint64_t& size, std::string& reason) {
    std::size_t i = 0;
    std::uint64_t value = 0;
    for (; i < line.size(); ++i) {
        int v = hex_value(line[i]);
        if (v < 0) break;
        if (value >> 56) {
            reason = "chunk size too large";
            return false;
        }
        value = value * 16 + static_cast<std::uint64_t>(v);
    }
    if (i == 0) {
        reason = line.empty() ? "empty chunk-size line" : "chunk size is not hexadecimal";
        return false;
    }
    // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
    while (i < line.size()) {
        while (i < line.size() && is_ws(line[i])) ++i;
        if (i == line.size()) {
            reason = "whitespace at the end of a chunk-size line";
            return false;
        }
        if (line[i] != ';') {
            reason = fmt::format("{} in a chunk-size line (expected ';' and an extension)",
                                 describe(static_cast<unsigned char>(line[i])));
            return false;
        }
        ++i;
        while (i < line.size() && is_ws(line[i])) ++i;
        std::size_t name = i;
        while (i < line.size() && is_tchar(line[i])) ++i;
        if (i == name) {
            reason = "chunk extension without a name";
            return false;
        }
        std::size_t after_name = i;
        while (i < line.size() && is_ws(line[i])) ++i;
        if (i < line.size() && line[i] == '=') {
            ++i;
            while (i < line.size() && is_ws(line[i])) ++i;
            if (i < line.size() && line[i] == '"') {
                ++i;
                bool closed = false;
                while (i < line.size()) {
                    auto u = static_cast<unsigned char>(line[i]);
                    if (u == '"') {
                        closed = true;
                        ++i;
                        break;
                    }
                    if (u == '\\') {
                        if (i + 1 >= line.size() || !is_quotable(static_cast<unsigned char>(line[i + 1]))) {
                            reason = "invalid quoted-pair in a chunk extension";
                            return false;
                        }
                        i += 2;
                        continue;
                    }
                    if (!is_qdtext(u)) {
                        reason = fmt::format("{} in a quoted chunk extension value", describe(u));
                        return false;
                    }
                    ++i;
                }
                if (!closed) {
                    reason = "unterminated quoted string in a chunk extension";
                    return false;
                }
            } else {
                std::size_t val = i;
                while (i < line.size() && is_tchar(line[i])) ++i;
                if (i == val) {
                    reason = "chunk extension '=' without a value";
                    return false;
                }
            }
        } else {
            i = after_name;  // whitespace after a name is BWS only before ';' or '='
        }
    }
    size = value;
    return true;
}

bool forbidden_trailer(std::string_view name) {
    static constexpr std::string_view names[] = {
        "Content-Length", "Transfer-Encoding", "Trailer", "Host", "Connection", "Keep-Alive",
        "Upgrade", "TE", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
        "Authorization", "Cookie", "Set-Cookie", "Content-Encoding", "Content-Type",
        "Content-Range", "Expect",
    };
    for (auto n : names)
        if (iequals(n, name)) return true;
    return false;
}

bool check_trailer_line(std::string_view line, std::string& reason) {
    if (!line.empty() && is_ws(line.front())) {
        reason = "obsolete line folding in the trailer section";
        return false;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        reason = "trailer line without ':'";
        return false;
    }
    auto name = line.substr(0, colon);
    if (!is_token(name)) {
        reason = !name.empty() && is_ws(name.back()) ? "whitespace before ':' in a trailer field name"
                                                     : "invalid trailer field name";
        return false;
    }
    for (char c : line.substr(colon + 1)) {
        auto u = static_cast<unsigned char>(c);
        if (!is_field_char(u)) {
            reason = fmt::format("{} in the value of trailer field {}", describe(u), name);
            return false;
        }
    }
    if (forbidden_trailer(name)) {
        reason = fmt::format("trailer field {} is not allowed (it frames, routes or authenticates)", name);
        return false;
    }
    return true;
}

ChunkedStep ChunkedDecoder::fail(std::string reason) {
    state_ = State::bad;
    reason_ = "malformed chunked body: " + std::move(reason);
    return {ChunkedStep::Kind::bad, 0, reason_};
}

ChunkedStep ChunkedDecoder::step(std::string_view in) {
    using Kind = ChunkedStep::Kind;
    switch (state_) {
        case State::bad: return {Kind::bad, 0, reason_};
        case State::done: return {Kind::end, 0, {}};
        case State::data:
            state_ = State::data_end;
            return {Kind::data, chunk_, {}};
        case State::data_end:
            if (in.empty()) return {};
            if (in[0] != '\r') return fail(fmt::format("{} after chunk data (expected CRLF)", describe(static_cast<unsigned char>(in[0]))));
            if (in.size() < 2) return {};
            if (in[1] != '\n') return fail("a bare CR after chunk data (expected CRLF)");
            state_ = State::size_line;
            return {Kind::framing, 2, {}};
        case State::size_line: {
            auto lf = line_end(in, limits_.line);
            if (lf == std::string_view::npos) {
                if (in.size() >= limits_.line)
                    return fail(fmt::format("chunk-size line longer than {} bytes", limits_.line));
                return {};
            }
            if (lf == 0 || in[lf - 1] != '\r') return fail("a bare LF ends a chunk-size line (lines end in CRLF)");
            std::uint64_t size = 0;
            std::string why;
            if (!parse_chunk_size_line(in.substr(0, lf - 1), size, why)) return fail(why);
            if (size == 0) {
                state_ = State::trailer;
            } else {
                state_ = State::data;
                chunk_ = size;
                data_bytes_ += size;
            }
            return {Kind::framing, lf + 1, {}};
        }
        case State::trailer: {
            auto lf = line_end(in, limits_.line);
            if (lf == std::string_view::npos) {
                if (in.size() >= limits_.line)
                    return fail(fmt::format("trailer line longer than {} bytes", limits_.line));
                if (trailer_bytes_ + in.size() >= limits_.trailers)
                    return fail(fmt::format("trailer section larger than {} bytes", limits_.trailers));
                return {};
            }
            if (lf == 0 || in[lf - 1] != '\r') return fail("a bare LF in the trailer section (lines end in CRLF)");
            trailer_bytes_ += lf + 1;
            if (trailer_bytes_ > limits_.trailers)
                return fail(fmt::format("trailer section larger than {} bytes", limits_.trailers));
            auto line = in.substr(0, lf - 1);
            if (line.empty()) {
                state_ = State::done;
                return {Kind::framing, 2, {}};
            }
            std::string why;
            if (!check_trailer_line(line, why)) return fail(why);
            return {Kind::framing, lf + 1, {}};
        }
    }
    return fail("internal decoder state");
}

ChunkedScan scan_chunked(std::string_view body, ChunkedLimits limits) {
    ChunkedDecoder d(limits);
    std::size_t pos = 0;
    for (;;) {
        auto s = d.step(body.substr(pos));
        switch (s.kind) {
            case ChunkedStep::Kind::more: return {true, 0, {}};
            case ChunkedStep::Kind::end: return {true, pos, {}};
            case ChunkedStep::Kind::bad: return {false, 0, s.reason};
            case ChunkedStep::Kind::framing: pos += static_cast<std::size_t>(s.length); break;
            case ChunkedStep::Kind::data:
                if (s.length > body.size() - pos) return {true, 0, {}};
                pos += static_cast<std::size_t>(s.length);
                break;
        }
    }
}

}  // namespace airlock::proxy
