#pragma once
// A minimal HTTP/1.x request head and a strict parser for it. The intercept loop reads
// bytes until find_head_end() succeeds, parses them here, checks them with
// check_framing() (framing.hpp), edits them (rules.hpp) and writes serialize() upstream.
//
// Strictness (the proxy sits between an untrusted client and a real origin, so anything
// two parsers could read differently is refused with 400):
//  - lines end in CRLF; a bare LF or a bare CR anywhere is an error (no leniency);
//  - request line: METHOD SP request-target SP HTTP/1.0|HTTP/1.1, single spaces,
//    method a token, target visible ASCII; no empty lines before it;
//  - field: token ":" OWS value OWS; no whitespace before the colon; obs-fold (a line
//    starting with SP/HTAB) refused; NUL, CR, LF and other controls (except HTAB) in
//    values refused; bytes >= 0x80 allowed in values (obs-text);
//  - the whole head (request line through the blank line) is at most max_request_head
//    bytes: larger is 431, every other parse error is 400.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/result.hpp"

namespace airlock::proxy {

inline constexpr std::size_t max_request_head = 64 * 1024;

// The field lines of a head, in order, names as sent; lookups are case-insensitive.
struct HeaderFields {
    std::vector<std::pair<std::string, std::string>> fields;

    // First value of a field (case-insensitive name), or nullopt.
    std::optional<std::string_view> find(std::string_view name) const;
    // Number of fields with this name.
    std::size_t count(std::string_view name) const;
    // All values of this name, in order.
    std::vector<std::string_view> values(std::string_view name) const;
    // Removes every field with this name; returns how many.
    std::size_t remove(std::string_view name);
    // Removes every field with this name, then appends name: value.
    void set(std::string_view name, std::string_view value);
};

struct RequestHead : HeaderFields {
    std::string method;
    std::string target;
    int version = 11;  // 10 or 11

    // "METHOD target HTTP/1.x\r\n" + fields + "\r\n".
    std::string serialize() const;
};

// A response head from an upstream: parsed with the same strictness, because the proxy
// must read the response boundaries exactly as the client will.
struct ResponseHead : HeaderFields {
    int version = 11;
    int status = 0;
    std::string reason;
};

// Where the head ends in `buffered`: the offset just past the first CRLFCRLF, or nullopt
// if it is not there yet. When nullopt and buffered.size() >= max_request_head, answer 431.
std::optional<std::size_t> find_head_end(std::string_view buffered);

// Status to answer for a failed parse: 431 if `raw` is longer than max_request_head,
// otherwise 400.
int head_error_status(std::string_view raw);

// Parses exactly one head: `raw` is the request line through the terminating CRLFCRLF
// (no body bytes after it). Errors are one line naming the problem; see above.
Result<RequestHead> parse_request_head(std::string_view raw);

// Parses "HTTP/1.x SSS reason" and the fields through the terminating CRLFCRLF.
Result<ResponseHead> parse_response_head(std::string_view raw);

// ASCII case-insensitive equality (HTTP field names, tokens).
bool iequals(std::string_view a, std::string_view b);

// RFC 9110 token: one or more of A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~
bool is_token(std::string_view s);

// Splits a comma-separated field value list, trimming OWS and dropping empty elements.
std::vector<std::string_view> split_list(std::string_view value);

}  // namespace airlock::proxy
