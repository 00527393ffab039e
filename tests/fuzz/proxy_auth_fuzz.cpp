// The Proxy-Authorization value every CONNECT and plain-HTTP request carries, parsed before
// the client is known (parse_proxy_authorization), and the base64 decoder under it.
// Properties: accepted credentials have a non-empty name without ':' or controls and a
// non-empty token; base64 that decodes re-encodes to text that decodes to the same bytes.

#include <cstdint>
#include <string_view>

#include "proxy/base64.hpp"
#include "proxy/proxy_auth.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace airlock::proxy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto creds = parse_proxy_authorization(in);
    if (creds) {
        FUZZ_CHECK(!creds->name.empty() && !creds->token.empty());
        FUZZ_CHECK(creds->name.find(':') == std::string::npos);
        for (unsigned char c : creds->name) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
        for (unsigned char c : creds->token) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    }
    auto decoded = detail::base64_decode(in);
    if (decoded) {
        auto again = detail::base64_decode(detail::base64_encode(*decoded));
        FUZZ_CHECK(again && *again == *decoded);
    }
    (void)detail::base64_encode(in);
    (void)detail::base64url_encode(in);
    return 0;
}
