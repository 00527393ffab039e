// What the proxy parses from a client before it knows who it is, and the names it then
// compares: the CONNECT authority (parse_authority), Host values and absolute-form targets
// (parse_host_header, parse_http_target), the TLS server name (server_name_matches) and
// host patterns (host_matches).
// Input: a CONNECT target; after the first '\n', a pattern or server name to compare.
// Properties: a parsed authority formats to text that parses to the same host and port;
// canonical hosts are lowercase without a trailing dot; a host always matches itself, as a
// pattern and (unless an IPv6 literal) as a server name.

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/framing.hpp"
#include "proxy/hosts.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace airlock::proxy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto nl = in.find('\n');
    std::string_view target = in.substr(0, nl);
    std::string_view other = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);

    auto hp = parse_authority(target);
    if (hp) {
        FUZZ_CHECK(!hp->host.empty());
        FUZZ_CHECK(hp->port != 0);
        FUZZ_CHECK(canonical_host(hp->host) == hp->host);
        auto text = format_authority(hp->host, hp->port);
        auto back = parse_authority(text);
        FUZZ_CHECK(back && back->host == hp->host && back->port == hp->port);
        FUZZ_CHECK(host_matches(hp->host, hp->host));
        // (A TLS server name is never an IPv6 literal: RFC 6066 forbids IP addresses there.)
        if (hp->host.find(':') == std::string::npos) FUZZ_CHECK(server_name_matches(hp->host, *hp));
        (void)server_name_matches(other, *hp);
        (void)host_matches(other, hp->host);
    }
    auto h = parse_host_header(target);
    if (h) {
        FUZZ_CHECK(canonical_host(h->host) == h->host);
        auto back = parse_host_header(format_authority(h->host, h->port ? h->port : 80));
        FUZZ_CHECK(back && back->host == h->host);
    }
    (void)parse_http_target(target);
    (void)canonical_host(target);
    (void)host_matches(target, other);
    return 0;
}
