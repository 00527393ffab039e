// The request head parser and the framing checks, exactly as the proxy calls them on the
// bytes a client sends inside a tunnel (and for plain HTTP): parse_request_head, then
// check_framing / check_body_framing, which normalise the framing fields in place.
// Properties: what parses serialises to a head that parses to the same; a head that passed
// the checks passes them again after normalisation, with the same verdict and the same
// bytes (normalisation is idempotent); nothing reads out of bounds (ASan).

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/framing.hpp"
#include "proxy/hosts.hpp"
#include "proxy/http_request.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace airlock::proxy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    (void)find_head_end(raw);
    (void)head_error_status(raw);
    auto head = parse_request_head(raw);
    if (!head) return 0;

    // Round trip: serialize() is what goes upstream.
    auto wire = head->serialize();
    auto again = parse_request_head(wire);
    FUZZ_CHECK(again);
    FUZZ_CHECK(again->method == head->method && again->target == head->target && again->version == head->version);
    FUZZ_CHECK(again->fields == head->fields);

    (void)is_websocket_upgrade(*head);
    (void)wants_close(*head);
    (void)origin_form(head->target);
    (void)path_for_log(head->target);
    (void)parse_http_target(head->target);

    // Inside a tunnel to api.example.com:443 (the CONNECT host the seeds use) and to a host
    // taken from the request's own Host field.
    for (int round = 0; round < 2; ++round) {
        RequestHead h = *head;
        std::string host = "api.example.com";
        std::uint16_t port = 443;
        if (round == 1) {
            auto hp = parse_host_header(h.find("Host").value_or(""));
            if (!hp) continue;
            host = hp->host;
            port = hp->port ? hp->port : 443;
        }
        auto v = check_framing(h, host, port);
        if (!v.ok) {
            FUZZ_CHECK(v.status == 400 || v.status == 421);
            FUZZ_CHECK(!v.reason.empty());
            continue;
        }
        // Normalised: at most one Content-Length and one Transfer-Encoding, never both.
        FUZZ_CHECK(h.count("Content-Length") <= 1 && h.count("Transfer-Encoding") <= 1);
        FUZZ_CHECK(!(h.count("Content-Length") && h.count("Transfer-Encoding")));
        auto normalised = h.serialize();
        auto reparsed = parse_request_head(normalised);
        FUZZ_CHECK(reparsed);
        auto v2 = check_framing(*reparsed, host, port);
        FUZZ_CHECK(v2.ok && v2.body == v.body && v2.content_length == v.content_length);
        FUZZ_CHECK(reparsed->serialize() == normalised);
    }

    RequestHead plain = *head;
    auto pv = check_body_framing(plain);
    if (pv.ok) {
        RequestHead twice = plain;
        auto pv2 = check_body_framing(twice);
        FUZZ_CHECK(pv2.ok && pv2.body == pv.body && pv2.content_length == pv.content_length);
        FUZZ_CHECK(twice.fields == plain.fields);
    }
    return 0;
}
