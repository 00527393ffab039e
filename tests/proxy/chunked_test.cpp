#include "proxy/chunked.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace airlock::proxy;
using namespace std::string_literals;

namespace {

// Feeds `body` to a decoder in pieces of at most `piece` bytes, the way the relay does:
// the bytes not yet taken stay at the front. Returns the same as scan_chunked.
ChunkedScan feed(std::string_view body, std::size_t piece, ChunkedLimits limits = {}) {
    ChunkedDecoder d(limits);
    std::size_t arrived = 0, pos = 0;
    std::uint64_t data_left = 0;  // data bytes the decoder announced, not all arrived yet
    for (;;) {
        if (data_left > 0) {
            auto take = std::min<std::uint64_t>(data_left, arrived - pos);
            pos += static_cast<std::size_t>(take);
            data_left -= take;
            if (data_left > 0) {
                if (arrived == body.size()) return {true, 0, {}};
                arrived = std::min(body.size(), arrived + piece);
                continue;
            }
        }
        auto s = d.step(body.substr(pos, arrived - pos));
        switch (s.kind) {
            case ChunkedStep::Kind::more:
                if (arrived == body.size()) return {true, 0, {}};
                arrived = std::min(body.size(), arrived + piece);
                break;
            case ChunkedStep::Kind::end: return {true, pos, {}};
            case ChunkedStep::Kind::bad: return {false, 0, s.reason};
            case ChunkedStep::Kind::framing:
                REQUIRE(s.length <= arrived - pos);
                pos += static_cast<std::size_t>(s.length);
                break;
            case ChunkedStep::Kind::data: data_left = s.length; break;
        }
    }
}

}  // namespace

TEST_CASE("chunked: valid bodies span exactly their bytes, whole or in any pieces") {
    const std::string next = "GET /next HTTP/1.1\r\n";
    const std::vector<std::string> good = {
        "0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "A\r\n0123456789\r\n00000\r\n\r\n",
        "a\r\n0123456789\r\n0\r\n\r\n",
        "5;name\r\nhello\r\n0\r\n\r\n",
        "5;name=value\r\nhello\r\n0\r\n\r\n",
        "5 ; a = b ;c;d=\"x y\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\"q\\\"uote\\\\\"\r\nhello\r\n0;last\r\n\r\n",
        "5;a=\"\xe9t\xe9\"\r\nhello\r\n0\r\n\r\n",
        "0\r\nX-Checksum: abc\r\n\r\n",
        "0\r\nX-A: 1\r\nx-b:\t two words \r\nX-C:\r\n\r\n",
        "0\r\nX-Obs: caf\xe9\r\n\r\n",
        "4\r\n\r\n\r\n\r\n0\r\n\r\n",  // data may hold CRLFs
    };
    for (const auto& body : good) {
        CAPTURE(body);
        auto whole = scan_chunked(body + next);
        CHECK_MESSAGE(whole.ok, whole.reason);
        CHECK(whole.length == body.size());
        for (std::size_t piece : {1, 2, 3, 7, 4096}) {
            CAPTURE(piece);
            auto r = feed(body + next, piece);
            CHECK_MESSAGE(r.ok, r.reason);
            CHECK(r.length == body.size());
        }
        // Every proper prefix is incomplete, never wrong.
        for (std::size_t n = 0; n < body.size(); ++n) {
            auto r = scan_chunked(std::string_view(body).substr(0, n));
            CHECK_MESSAGE(r.ok, r.reason);
            CHECK(r.length == 0);
        }
    }
}

TEST_CASE("chunked: the trailer smuggling attack is refused before its bytes are accepted") {
    // Finding 2 of issue 9: a server that accepts bare LF reads the trailer section as
    // ending after "X: y\n\n" and the rest as a second request.
    const std::string attack =
        "0\r\nX: y\n\nPOST /echo HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 200\r\n\r\n";
    ChunkedDecoder d;
    auto s = d.step(attack);
    REQUIRE(s.kind == ChunkedStep::Kind::framing);
    CHECK(s.length == 3);  // "0\r\n" is valid by itself
    s = d.step(std::string_view(attack).substr(3));
    CHECK(s.kind == ChunkedStep::Kind::bad);
    CHECK(s.reason.find("bare LF") != std::string::npos);
    // Final: the decoder never accepts anything after a refusal.
    CHECK(d.step("\r\n").kind == ChunkedStep::Kind::bad);
    for (std::size_t piece : {1, 5, 4096}) CHECK_FALSE(feed(attack, piece).ok);
}

TEST_CASE("chunked: malformed framing is refused with a reason") {
    struct Case {
        const char* name;
        std::string body;
        const char* reason;
    };
    const Case cases[] = {
        // chunk-size line
        {"bare LF after size", "5\nhello\r\n0\r\n\r\n", "bare LF"},
        {"bare CR in size line", "5\rX\r\nhello\r\n0\r\n\r\n", "bare CR"},
        {"empty size line", "\r\n", "empty chunk-size line"},
        {"not hex", "g\r\n", "not hexadecimal"},
        {"sign", "+5\r\nhello\r\n0\r\n\r\n", "not hexadecimal"},
        {"negative", "-1\r\n", "not hexadecimal"},
        {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "expected ';'"},
        {"leading space", " 5\r\nhello\r\n0\r\n\r\n", "not hexadecimal"},
        {"trailing space", "5 \r\nhello\r\n0\r\n\r\n", "whitespace at the end"},
        {"trailing tab after ext", "5;a=b\t\r\nhello\r\n0\r\n\r\n", "whitespace at the end"},
        {"too large", "1000000000000000\r\n", "too large"},
        {"huge", "ffffffffffffffffffff\r\n", "too large"},
        {"NUL in size line", "5\0;a\r\nhello\r\n0\r\n\r\n"s, "NUL"},
        {"ext without name", "5;\r\nhello\r\n0\r\n\r\n", "without a name"},
        {"ext name not token", "5;a@b\r\nhello\r\n0\r\n\r\n", "expected ';'"},
        {"ext '=' without value", "5;a=\r\nhello\r\n0\r\n\r\n", "without a value"},
        {"ext unterminated quote", "5;a=\"x\r\nhello\r\n0\r\n\r\n", "unterminated"},
        {"ext control in quote", "5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n", "byte 0x01"},
        {"ext bad quoted-pair", "5;a=\"x\\\x01\"\r\nhello\r\n0\r\n\r\n", "quoted-pair"},
        {"ext two values", "5;a=b c\r\nhello\r\n0\r\n\r\n", "expected ';'"},
        {"size line too long", "5;" + std::string(5000, 'a') + "\r\n", "longer than 4096"},
        // data end
        {"data longer than size", "5\r\nhello!\r\n0\r\n\r\n", "after chunk data"},
        {"bare LF after data", "5\r\nhello\n0\r\n\r\n", "after chunk data"},
        {"bare CR after data", "5\r\nhello\rX0\r\n\r\n", "bare CR after chunk data"},
        // trailer section
        {"bare LF ends trailer", "0\r\nX: y\n\r\n", "bare LF"},
        {"bare LF final line", "0\r\n\n", "bare LF"},
        {"bare CR in trailer", "0\r\nX: a\rb\r\n\r\n", "bare CR"},
        {"NUL in trailer", "0\r\nX: a\0b\r\n\r\n"s, "NUL"},
        {"control in trailer", "0\r\nX: a\x7f\r\n\r\n", "byte 0x7f"},
        {"obs-fold", "0\r\nX: a\r\n b\r\n\r\n", "obsolete line folding"},
        {"no colon", "0\r\nX y\r\n\r\n", "without ':'"},
        {"space before colon", "0\r\nX : y\r\n\r\n", "whitespace before ':'"},
        {"empty name", "0\r\n: y\r\n\r\n", "invalid trailer field name"},
        {"Content-Length trailer", "0\r\nContent-Length: 5\r\n\r\n", "Content-Length is not allowed"},
        {"Transfer-Encoding trailer", "0\r\ntransfer-encoding: chunked\r\n\r\n", "not allowed"},
        {"Host trailer", "0\r\nHost: evil.example\r\n\r\n", "not allowed"},
        {"Authorization trailer", "0\r\nAuthorization: Bearer x\r\n\r\n", "not allowed"},
        {"trailer line too long", "0\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", "longer than 4096"},
        {"trailer section too large", "0\r\n" + [] {
             std::string s;
             for (int i = 0; i < 10; ++i) s += "X-" + std::to_string(i) + ": " + std::string(2000, 'a') + "\r\n";
             return s;
         }() + "\r\n", "larger than 16384"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto r = scan_chunked(c.body);
        CHECK_FALSE(r.ok);
        CHECK_MESSAGE(r.reason.find(c.reason) != std::string::npos, r.reason);
        CHECK(r.reason.rfind("malformed chunked body: ", 0) == 0);
        for (std::size_t piece : {1, 3, 4096}) CHECK_FALSE(feed(c.body, piece).ok);
    }
}

TEST_CASE("chunked: limits bound what is buffered before a decision") {
    ChunkedLimits small{16, 24};
    // A size line that has not ended within the limit is refused before it ends.
    ChunkedDecoder d(small);
    CHECK(d.step("5;aaaaaaaaaaaaa").kind == ChunkedStep::Kind::more);  // 15 bytes
    CHECK(d.step("5;aaaaaaaaaaaaaa").kind == ChunkedStep::Kind::bad);  // 16 without LF
    // Exactly at the limit (CRLF included) passes.
    CHECK(scan_chunked("5;aaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n", small).ok);
    CHECK(scan_chunked("0\r\nX: 0123456789\r\n\r\n", small).length == 20);
    CHECK_FALSE(scan_chunked("0\r\nX: 0123456789\r\nY: 123456\r\n\r\n", small).ok);
}

TEST_CASE("chunked: data steps announce the chunk, however little of it has arrived") {
    ChunkedDecoder d;
    auto s = d.step("100000\r\n");
    REQUIRE(s.kind == ChunkedStep::Kind::framing);
    CHECK(s.length == 8);
    s = d.step("");
    CHECK(s.kind == ChunkedStep::Kind::data);
    CHECK(s.length == 0x100000);
    CHECK(d.data_bytes() == 0x100000);
    CHECK(d.step("").kind == ChunkedStep::Kind::more);
    CHECK(d.step("\r").kind == ChunkedStep::Kind::more);
    CHECK(d.step("\r\n0\r\n").kind == ChunkedStep::Kind::framing);
    CHECK(d.step("0\r\n").length == 3);
    CHECK(d.step("\r\nrest").length == 2);
    CHECK(d.done());
    CHECK(d.step("rest").kind == ChunkedStep::Kind::end);
}
