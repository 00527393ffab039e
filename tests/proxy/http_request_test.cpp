#include "proxy/http_request.hpp"

#include <doctest/doctest.h>

using namespace airlock::proxy;
using namespace std::string_literals;

TEST_CASE("parse_request_head: a good request") {
    auto r = parse_request_head(
        "POST /v1/messages?beta=true HTTP/1.1\r\n"
        "Host: api.anthropic.com\r\n"
        "x-api-key:   placeholder  \r\n"
        "Content-Length: 5\r\n"
        "X-Empty:\r\n"
        "X-Utf8: caf\xc3\xa9\r\n"
        "\r\n");
    REQUIRE(r);
    CHECK(r->method == "POST");
    CHECK(r->target == "/v1/messages?beta=true");
    CHECK(r->version == 11);
    REQUIRE(r->fields.size() == 5);
    CHECK(r->find("X-API-KEY") == "placeholder");
    CHECK(r->find("x-empty") == "");
    CHECK_FALSE(r->find("missing"));
    CHECK(r->count("content-length") == 1);
}

TEST_CASE("parse_request_head: HTTP/1.0 and editing") {
    auto r = parse_request_head("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\na: 3\r\n\r\n");
    REQUIRE(r);
    CHECK(r->version == 10);
    CHECK(r->values("A").size() == 2);
    CHECK(r->remove("a") == 2);
    r->set("C", "x");
    r->set("c", "y");
    CHECK(r->serialize() == "GET / HTTP/1.0\r\nB: 2\r\nc: y\r\n\r\n");
}

TEST_CASE("parse_request_head: strict rejections") {
    struct Case { std::string raw; const char* why; };
    const Case cases[] = {
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF"},
        {"GET / HTTP/1.1\r\nHost: a\n\r\n", "bare LF"},
        {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "bare CR"},
        {"GET / HTTP/1.1\r\nHost: a\r\n", "incomplete"},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", "bytes after"},
        {"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "empty line before"},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request line"},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "malformed request line"},
        {"GET /\r\nHost: a\r\n\r\n", "malformed request line"},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "invalid method"},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "unsupported HTTP version"},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", "unsupported HTTP version"},
        {"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", "invalid character"},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "whitespace before ':'"},
        {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "whitespace before ':'"},
        {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", "obsolete line folding"},
        {"GET / HTTP/1.1\r\nHost: a\r\n continued\r\n\r\n", "obsolete line folding"},
        {"GET / HTTP/1.1\r\nHost: a\r\n\tcontinued\r\n\r\n", "obsolete line folding"},
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "without ':'"},
        {"GET / HTTP/1.1\r\n: value\r\n\r\n", "invalid field name"},
        {"GET / HTTP/1.1\r\nX(y): value\r\n\r\n", "invalid field name"},
        {"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s, "control character"},
        {"GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", "control character"},
        {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", "control character"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.raw);
        auto r = parse_request_head(c.raw);
        REQUIRE_FALSE(r);
        CHECK_MESSAGE(r.error().message.find(c.why) != std::string::npos, r.error().message);
        CHECK(head_error_status(c.raw) == 400);
    }
}

TEST_CASE("parse_request_head: size limit is 431") {
    std::string raw = "GET / HTTP/1.1\r\nX: " + std::string(max_request_head, 'a') + "\r\n\r\n";
    auto r = parse_request_head(raw);
    REQUIRE_FALSE(r);
    CHECK(head_error_status(raw) == 431);
    // Just under the limit is fine.
    std::string head = "GET / HTTP/1.1\r\nX: \r\n\r\n";
    std::string ok = "GET / HTTP/1.1\r\nX: " + std::string(max_request_head - head.size(), 'a') +
                     "\r\n\r\n";
    CHECK(ok.size() == max_request_head);
    CHECK(parse_request_head(ok));
}

TEST_CASE("find_head_end") {
    CHECK_FALSE(find_head_end("GET / HTTP/1.1\r\nHost: a\r\n"));
    CHECK(find_head_end("GET / HTTP/1.1\r\n\r\nbody") == 18u);
}

TEST_CASE("split_list") {
    auto v = split_list(" gzip ,, chunked,");
    REQUIRE(v.size() == 2);
    CHECK(v[0] == "gzip");
    CHECK(v[1] == "chunked");
    CHECK(split_list("").empty());
}

TEST_CASE("parse_response_head: good and strict rejections") {
    auto r = parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\n");
    REQUIRE(r);
    CHECK(r->version == 11);
    CHECK(r->status == 200);
    CHECK(r->reason == "OK");
    CHECK(r->find("x-a") == "b");
    r = parse_response_head("HTTP/1.0 404\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(r->reason.empty());
    CHECK(parse_response_head("HTTP/1.1 200 Very\tGood caf\xe9\r\n\r\n"));

    const std::string bad[] = {
        "HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n"s,   // bare LF
        "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"s,             // bare CR
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"s,         // obs-fold
        "HTTP/1.1 200 OK\r\nX : a\r\n\r\n"s,              // space before colon
        "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"s,             // NUL in a value
        "HTTP/2 200 OK\r\n\r\n"s,
        "HTTP/1.1 20 OK\r\n\r\n"s,
        "HTTP/1.1 099 Early\r\n\r\n"s,
        "HTTP/1.1 2x0 OK\r\n\r\n"s,
        "HTTP/1.1  200 OK\r\n\r\n"s,
        "HTTP/1.1 200OK\r\n\r\n"s,
        // found while writing tests/fuzz/response_head_fuzz (now one of its properties):
        // controls in the reason phrase passed and were forwarded to the client
        "HTTP/1.1 200 O\x00K\r\n\r\n"s,
        "HTTP/1.1 200 O\x1bK\r\n\r\n"s,
        "HTTP/1.1 200 OK\x7f\r\n\r\n"s,
    };
    for (const auto& raw : bad) {
        CAPTURE(raw);
        CHECK_FALSE(parse_response_head(raw));
    }
}
