#include "proxy/framing.hpp"

#include <doctest/doctest.h>

using namespace airlock::proxy;

namespace {

FramingVerdict check(const std::string& raw, std::string_view host = "api.example.com",
                     std::uint16_t port = 443) {
    auto head = parse_request_head(raw);
    REQUIRE_MESSAGE(head, raw);
    return check_framing(*head, host, port);
}

std::string req(std::string_view fields, std::string_view line = "POST /v1 HTTP/1.1") {
    return std::string(line) + "\r\n" + std::string(fields) + "\r\n";
}

}  // namespace

TEST_CASE("check_framing: table over raw bytes") {
    struct Case {
        const char* name;
        std::string raw;
        int status;                // 0 = ok
        FramingVerdict::Body body;  // when ok
        std::uint64_t length;
        const char* reason;  // substring, when refused
    };
    const std::string h = "Host: api.example.com\r\n";
    const Case cases[] = {
        // good requests
        {"GET no body", req(h, "GET / HTTP/1.1"), 0, FramingVerdict::Body::none, 0, ""},
        {"content-length", req(h + "Content-Length: 12\r\n"), 0, FramingVerdict::Body::content_length, 12, ""},
        {"content-length 0", req(h + "Content-Length: 0\r\n"), 0, FramingVerdict::Body::content_length, 0, ""},
        {"identical CL duplicates", req(h + "Content-Length: 7\r\nContent-Length: 7\r\n"), 0, FramingVerdict::Body::content_length, 7, ""},
        {"CL list of equal values", req(h + "Content-Length: 7, 7\r\n"), 0, FramingVerdict::Body::content_length, 7, ""},
        {"CL leading comma", req(h + "Content-Length: ,5\r\n"), 0, FramingVerdict::Body::content_length, 5, ""},
        {"CL empty elements", req(h + "Content-Length: 5,,5,\r\n"), 0, FramingVerdict::Body::content_length, 5, ""},
        {"CL leading zeros", req(h + "Content-Length: 007\r\n"), 0, FramingVerdict::Body::content_length, 7, ""},
        {"chunked", req(h + "Transfer-Encoding: chunked\r\n"), 0, FramingVerdict::Body::chunked, 0, ""},
        {"Chunked mixed case", req(h + "transfer-encoding: ChUnKeD\r\n"), 0, FramingVerdict::Body::chunked, 0, ""},
        {"gzip, chunked", req(h + "Transfer-Encoding: gzip, chunked\r\n"), 0, FramingVerdict::Body::chunked, 0, ""},
        {"TE over two fields", req(h + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 0, FramingVerdict::Body::chunked, 0, ""},
        {"host with port", req("Host: API.example.com:443\r\n", "GET / HTTP/1.1"), 0, FramingVerdict::Body::none, 0, ""},
        {"host trailing dot", req("Host: api.example.com.\r\n", "GET / HTTP/1.1"), 0, FramingVerdict::Body::none, 0, ""},
        {"absolute-form", req(h, "GET https://api.example.com/v1?x=1 HTTP/1.1"), 0, FramingVerdict::Body::none, 0, ""},
        {"absolute-form port", req(h, "GET HTTPS://api.example.com:443 HTTP/1.1"), 0, FramingVerdict::Body::none, 0, ""},
        {"HTTP/1.0 CL", req(h + "Content-Length: 3\r\n", "POST / HTTP/1.0"), 0, FramingVerdict::Body::content_length, 3, ""},

        // smuggling forms -> 400
        {"CL.TE", req(h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"), 400, {}, 0, "both Transfer-Encoding and Content-Length"},
        {"TE.CL", req(h + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"), 400, {}, 0, "both Transfer-Encoding and Content-Length"},
        {"TE not final chunked", req(h + "Transfer-Encoding: chunked, gzip\r\n"), 400, {}, 0, "must end with chunked"},
        {"TE identity", req(h + "Transfer-Encoding: identity\r\n"), 400, {}, 0, "must end with chunked"},
        {"TE chunked twice", req(h + "Transfer-Encoding: chunked, chunked\r\n"), 400, {}, 0, "more than once"},
        {"TE split chunked twice", req(h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400, {}, 0, "more than once"},
        {"TE second field not chunked", req(h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"), 400, {}, 0, "must end with chunked"},
        {"TE xchunked", req(h + "Transfer-Encoding: xchunked\r\n"), 400, {}, 0, "must end with chunked"},
        {"TE quoted", req(h + "Transfer-Encoding: \"chunked\"\r\n"), 400, {}, 0, "invalid Transfer-Encoding"},
        {"TE identity, chunked", req(h + "Transfer-Encoding: identity, chunked\r\n"), 400, {}, 0, "unsupported transfer coding 'identity'"},
        {"TE br, chunked", req(h + "Transfer-Encoding: br, chunked\r\n"), 400, {}, 0, "unsupported transfer coding 'br'"},
        {"TE with params", req(h + "Transfer-Encoding: chunked;x=1\r\n"), 400, {}, 0, "invalid Transfer-Encoding"},
        {"TE empty", req(h + "Transfer-Encoding: \r\n"), 400, {}, 0, "empty Transfer-Encoding"},
        {"TE on HTTP/1.0", req(h + "Transfer-Encoding: chunked\r\n", "POST / HTTP/1.0"), 400, {}, 0, "HTTP/1.0"},
        {"CL differing", req(h + "Content-Length: 4\r\nContent-Length: 5\r\n"), 400, {}, 0, "conflicting Content-Length"},
        {"CL list differing", req(h + "Content-Length: 4, 5\r\n"), 400, {}, 0, "conflicting Content-Length"},
        {"CL list with empty element differing", req(h + "Content-Length: ,5, 6\r\n"), 400, {}, 0, "conflicting Content-Length"},
        {"CL only commas", req(h + "Content-Length: ,\r\n"), 400, {}, 0, "invalid Content-Length"},
        {"CL list and field differing", req(h + "Content-Length: 5, 5\r\nContent-Length: 6\r\n"), 400, {}, 0, "conflicting Content-Length"},
        {"CL signed", req(h + "Content-Length: +4\r\n"), 400, {}, 0, "invalid Content-Length"},
        {"CL negative", req(h + "Content-Length: -1\r\n"), 400, {}, 0, "invalid Content-Length"},
        {"CL hex", req(h + "Content-Length: 0x10\r\n"), 400, {}, 0, "invalid Content-Length"},
        {"CL empty", req(h + "Content-Length: \r\n"), 400, {}, 0, "invalid Content-Length"},
        {"CL inner space", req(h + "Content-Length: 1 2\r\n"), 400, {}, 0, "invalid Content-Length"},
        {"CL overflow", req(h + "Content-Length: 99999999999999999999\r\n"), 400, {}, 0, "too large"},
        {"no Host", req("Content-Length: 1\r\n"), 400, {}, 0, "missing Host"},
        {"two Hosts", req(h + h), 400, {}, 0, "more than one Host"},
        {"two Hosts differing", req(h + "Host: evil.example\r\n"), 400, {}, 0, "more than one Host"},
        {"Host empty", req("Host: \r\n"), 400, {}, 0, "Host"},
        {"Host with userinfo", req("Host: u@api.example.com\r\n"), 400, {}, 0, "userinfo"},
        {"asterisk-form", req(h, "OPTIONS * HTTP/1.1"), 400, {}, 0, "unsupported request target"},
        {"authority-form", req(h, "GET api.example.com:443 HTTP/1.1"), 400, {}, 0, "unsupported request target"},
        {"http absolute-form", req(h, "GET http://api.example.com/ HTTP/1.1"), 400, {}, 0, "unsupported request target"},
        {"absolute-form userinfo", req(h, "GET https://u:p@api.example.com/ HTTP/1.1"), 400, {}, 0, "userinfo"},
        {"CONNECT inside", req(h, "CONNECT api.example.com:443 HTTP/1.1"), 400, {}, 0, "CONNECT"},

        // misdirected -> 421
        {"Host other", req("Host: evil.example\r\n"), 421, {}, 0, "does not match the CONNECT target api.example.com:443"},
        {"Host suffix", req("Host: api.example.com.evil\r\n"), 421, {}, 0, "does not match"},
        {"Host other port", req("Host: api.example.com:8443\r\n"), 421, {}, 0, "does not match"},
        {"absolute-form other host", req(h, "GET https://evil.example/v1 HTTP/1.1"), 421, {}, 0, "request target"},
        {"absolute-form other port", req(h, "GET https://api.example.com:444/v1 HTTP/1.1"), 421, {}, 0, "request target"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto v = check(c.raw);
        if (c.status == 0) {
            CHECK_MESSAGE(v.ok, v.reason);
            CHECK(v.body == c.body);
            CHECK(v.content_length == c.length);
        } else {
            CHECK_FALSE(v.ok);
            CHECK(v.status == c.status);
            CHECK_MESSAGE(v.reason.find(c.reason) != std::string::npos, v.reason);
        }
    }
}

TEST_CASE("check_body_framing: what passes is forwarded as one normalised field") {
    struct Case {
        std::string fields;
        std::string name;
        std::string forwarded;  // the one field value sent upstream
    };
    const Case cases[] = {
        {"Content-Length: 5\r\n", "Content-Length", "5"},
        {"Content-Length: ,5\r\n", "Content-Length", "5"},
        {"Content-Length: 5, 5\r\n", "Content-Length", "5"},
        {"Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length", "5"},
        {"Content-Length: 0005\r\n", "Content-Length", "5"},
        {"Transfer-Encoding: chunked\r\n", "Transfer-Encoding", "chunked"},
        {"Transfer-Encoding: CHUNKED\r\n", "Transfer-Encoding", "chunked"},
        {"Transfer-Encoding: ,chunked\r\n", "Transfer-Encoding", "chunked"},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding", "gzip, chunked"},
        {"Transfer-Encoding: GZip ,  chunked\r\n", "Transfer-Encoding", "gzip, chunked"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.fields);
        auto head = parse_request_head(req("Host: api.example.com\r\n" + c.fields));
        REQUIRE(head);
        auto v = check_framing(*head, "api.example.com", 443);
        REQUIRE_MESSAGE(v.ok, v.reason);
        auto values = head->values(c.name);
        REQUIRE(values.size() == 1);
        CHECK(values[0] == c.forwarded);
        // The serialised head says the same once, and checks the same again.
        auto again = parse_request_head(head->serialize());
        REQUIRE(again);
        auto v2 = check_framing(*again, "api.example.com", 443);
        CHECK(v2.ok);
        CHECK(v2.body == v.body);
        CHECK(v2.content_length == v.content_length);
        CHECK(again->serialize() == head->serialize());
    }
}

TEST_CASE("check_framing: CONNECT port other than 443") {
    CHECK(check(req("Host: h.example:8443\r\n"), "h.example", 8443).ok);
    CHECK(check(req("Host: h.example\r\n"), "h.example", 8443).ok);
    CHECK(check(req("Host: h.example:443\r\n"), "h.example", 8443).status == 421);
    CHECK(check(req("Host: [::1]:8443\r\n"), "::1", 8443).ok);
}

TEST_CASE("is_websocket_upgrade") {
    auto ws = [](const std::string& raw) {
        auto head = parse_request_head(raw);
        REQUIRE(head);
        return is_websocket_upgrade(*head);
    };
    CHECK(ws(req("Host: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n",
                 "GET /ws HTTP/1.1")));
    CHECK(ws(req("Host: a\r\nConnection: upgrade\r\nUpgrade: WebSocket/13\r\n", "GET /ws HTTP/1.1")));
    CHECK_FALSE(ws(req("Host: a\r\nUpgrade: websocket\r\n", "GET /ws HTTP/1.1")));
    CHECK_FALSE(ws(req("Host: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n", "GET /ws HTTP/1.1")));
    CHECK_FALSE(ws(req("Host: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n", "POST /ws HTTP/1.1")));
    CHECK_FALSE(ws(req("Host: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n", "GET /ws HTTP/1.0")));
}

TEST_CASE("origin_form and path_for_log") {
    CHECK(origin_form("/a?b") == "/a?b");
    CHECK(origin_form("https://h.example/a/b?c=1") == "/a/b?c=1");
    CHECK(origin_form("https://h.example") == "/");
    CHECK(origin_form("https://h.example?x") == "/?x");
    CHECK(path_for_log("/v1/messages?key=secret") == "/v1/messages");
    CHECK(path_for_log("https://h.example/v1#frag") == "/v1");
}

namespace {

ResponseFraming rframing(const std::string& fields, std::string_view status_line = "HTTP/1.1 200 OK",
                         std::string_view method = "GET") {
    auto raw = std::string(status_line) + "\r\n" + fields + "\r\n";
    auto head = parse_response_head(raw);
    REQUIRE_MESSAGE(head, raw);
    return response_framing(*head, method);
}

bool close_wanted(const std::string& raw) {
    auto head = parse_request_head(raw);
    REQUIRE_MESSAGE(head, raw);
    return wants_close(*head);
}

}  // namespace

TEST_CASE("response_framing: bodies") {
    auto f = rframing("Content-Length: 12\r\n");
    CHECK(f.body == ResponseBody::length);
    CHECK(f.length == 12);
    CHECK_FALSE(f.close);

    f = rframing("Transfer-Encoding: chunked\r\n");
    CHECK(f.body == ResponseBody::chunked);
    CHECK_FALSE(f.close);
    CHECK(rframing("Transfer-Encoding: gzip, Chunked\r\n").body == ResponseBody::chunked);


    // Neither: until close.
    f = rframing("");
    CHECK(f.body == ResponseBody::until_close);
    CHECK(f.close);
    f = rframing("Transfer-Encoding: gzip\r\n");
    CHECK(f.body == ResponseBody::until_close);
    CHECK(f.close);
}

TEST_CASE("response_framing: ambiguous framing is refused (502), never forwarded") {
    struct Case {
        std::string fields;
        const char* reason;
    };
    const Case cases[] = {
        {"Content-Length: ,5\r\n", "invalid Content-Length"},
        {"Content-Length: 5, 5\r\n", "invalid Content-Length"},
        {"Content-Length: 5,\r\n", "invalid Content-Length"},
        {"Content-Length: +5\r\n", "invalid Content-Length"},
        {"Content-Length: 0x5\r\n", "invalid Content-Length"},
        {"Content-Length: \r\n", "invalid Content-Length"},
        {"Content-Length: 5\r\nContent-Length: 6\r\n", "conflicting Content-Length"},
        {"Content-Length: 99999999999999999999\r\n", "too large"},
        {"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "both Transfer-Encoding and Content-Length"},
        {"Transfer-Encoding: identity, chunked\r\n", "unsupported transfer coding 'identity'"},
        {"Transfer-Encoding: chunked, chunked\r\n", "more than once"},
        {"Transfer-Encoding: chunked, gzip\r\n", "must end with chunked"},
        {"Transfer-Encoding: \"chunked\"\r\n", "invalid Transfer-Encoding"},
        {"Transfer-Encoding: \r\n", "empty Transfer-Encoding"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.fields);
        auto f = rframing(c.fields);
        CHECK_FALSE(f.ok);
        CHECK(f.close);
        CHECK_MESSAGE(f.reason.find(c.reason) != std::string::npos, f.reason);
    }
    auto f = rframing("Transfer-Encoding: chunked\r\n", "HTTP/1.0 200 OK");
    CHECK_FALSE(f.ok);
    CHECK(f.reason.find("HTTP/1.0") != std::string::npos);

    // Identical duplicates give every reader the same number: forwarded as received.
    f = rframing("Content-Length: 5\r\nContent-Length: 5\r\n");
    CHECK(f.ok);
    CHECK(f.body == ResponseBody::length);
    CHECK(f.length == 5);
    // No body: the framing fields are not read.
    CHECK(rframing("Content-Length: ,5\r\n", "HTTP/1.1 304 Not Modified").ok);
    CHECK(rframing("Content-Length: 5, 5\r\n", "HTTP/1.1 200 OK", "HEAD").ok);
}

TEST_CASE("response_framing: no body for HEAD, 1xx, 204, 304") {
    CHECK(rframing("Content-Length: 12\r\n", "HTTP/1.1 200 OK", "HEAD").body == ResponseBody::none);
    CHECK(rframing("", "HTTP/1.1 100 Continue").body == ResponseBody::none);
    CHECK(rframing("", "HTTP/1.1 101 Switching Protocols").body == ResponseBody::none);
    CHECK(rframing("Transfer-Encoding: chunked\r\n", "HTTP/1.1 204 No Content").body == ResponseBody::none);
    auto f = rframing("Content-Length: 5\r\n", "HTTP/1.1 304 Not Modified");
    CHECK(f.body == ResponseBody::none);
    CHECK_FALSE(f.close);
}

TEST_CASE("response_framing: connection close") {
    CHECK(rframing("Content-Length: 0\r\nConnection: close\r\n").close);
    CHECK(rframing("Content-Length: 0\r\nConnection: keep-alive, Close\r\n").close);
    CHECK(rframing("Content-Length: 0\r\n", "HTTP/1.0 200 OK").close);
    CHECK_FALSE(rframing("Content-Length: 0\r\nConnection: keep-alive\r\n", "HTTP/1.0 200 OK").close);
    CHECK(rframing("", "HTTP/1.1 204 No Content", "GET").close == false);
}

TEST_CASE("wants_close") {
    CHECK_FALSE(close_wanted(req("Host: a\r\n", "GET / HTTP/1.1")));
    CHECK(close_wanted(req("Host: a\r\nConnection: close\r\n", "GET / HTTP/1.1")));
    CHECK(close_wanted(req("Host: a\r\nConnection: keep-alive, close\r\n", "GET / HTTP/1.1")));
    CHECK(close_wanted(req("Host: a\r\n", "GET / HTTP/1.0")));
    CHECK_FALSE(close_wanted(req("Host: a\r\nConnection: Keep-Alive\r\n", "GET / HTTP/1.0")));
    // keep-alive means nothing in HTTP/1.1 and cannot undo close.
    CHECK(close_wanted(req("Host: a\r\nConnection: close, keep-alive\r\n", "GET / HTTP/1.1")));
}
