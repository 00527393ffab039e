// The chunked-body decoder the relays run on every chunked request and response body
// (ChunkedDecoder: chunk sizes, extensions, data, trailers).
// Input: one byte choosing how the body arrives (piece size, and small or default limits),
// then the body bytes. Properties: fed in pieces, the decoder reaches the same decision as
// fed the whole body at once (a piece boundary never changes what is accepted); framing
// steps never claim bytes that have not arrived; an accepted body never contains a bare
// LF outside chunk data; nothing reads out of bounds (ASan).

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "proxy/chunked.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace airlock::proxy;

namespace {

// The relay's way: bytes arrive `piece` at a time; undecided bytes stay at the front.
ChunkedScan feed(std::string_view body, std::size_t piece, ChunkedLimits limits) {
    ChunkedDecoder d(limits);
    std::size_t arrived = std::min(body.size(), piece), pos = 0;
    std::uint64_t data_left = 0;
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
            case ChunkedStep::Kind::bad:
                FUZZ_CHECK(!s.reason.empty());
                FUZZ_CHECK(d.step(body.substr(pos, arrived - pos)).kind == ChunkedStep::Kind::bad);
                return {false, 0, s.reason};
            case ChunkedStep::Kind::framing:
                FUZZ_CHECK(s.length > 0 && s.length <= arrived - pos);
                pos += static_cast<std::size_t>(s.length);
                break;
            case ChunkedStep::Kind::data:
                FUZZ_CHECK(s.length > 0);
                data_left = s.length;
                break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::uint8_t mode = data[0];
    std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    ChunkedLimits limits;
    if (mode & 0x80) limits = ChunkedLimits{32, 64};
    std::size_t piece = 1 + (mode & 0x7f);

    auto whole = scan_chunked(body, limits);
    auto pieces = feed(body, piece, limits);
    FUZZ_CHECK(whole.ok == pieces.ok);
    FUZZ_CHECK(whole.length == pieces.length);
    if (whole.ok && whole.length > 0) {
        FUZZ_CHECK(whole.length <= body.size());
        // The accepted body ends with CRLF CRLF-terminated framing, and a prefix of it is
        // only ever incomplete, never wrong.
        FUZZ_CHECK(body.substr(0, whole.length).substr(whole.length - 2) == "\r\n");
        auto prefix = scan_chunked(body.substr(0, whole.length - 1), limits);
        FUZZ_CHECK(prefix.ok && prefix.length == 0);
    }
    return 0;
}
