// The response head parser and response framing, as the proxy reads an upstream's answer:
// parse_response_head, then response_framing for the request's method.
// Properties: an accepted head has no control characters but HTAB and its CRLFs (it is
// forwarded as received); a refused framing always closes the connection and says why; a
// body that runs until close always closes; nothing reads out of bounds (ASan).

#include <cstdint>
#include <string_view>

#include "proxy/framing.hpp"
#include "proxy/http_request.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace airlock::proxy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    auto head = parse_response_head(raw);
    if (!head) return 0;
    FUZZ_CHECK(head->status >= 100 && head->status <= 999);
    FUZZ_CHECK(head->version == 10 || head->version == 11);
    // The head is forwarded to the client as received: no controls anywhere in it but HTAB
    // and the CRLFs (bare CR and LF are refused by the parser).
    for (unsigned char c : raw) FUZZ_CHECK(c >= 0x20 ? c != 0x7f : (c == '\t' || c == '\r' || c == '\n'));
    for (std::string_view method : {"GET", "HEAD", "POST"}) {
        auto f = response_framing(*head, method);
        if (!f.ok) {
            FUZZ_CHECK(f.close);
            FUZZ_CHECK(!f.reason.empty());
            continue;
        }
        if (f.body == ResponseBody::until_close) FUZZ_CHECK(f.close);
        if (method == "HEAD") FUZZ_CHECK(f.body == ResponseBody::none);
        if (f.body != ResponseBody::length) FUZZ_CHECK(f.length == 0);
    }
    return 0;
}
