#include "proxy/reply.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace airlock::proxy;

TEST_CASE("failure kinds map to one status and X-Airlock-Error each") {
    CHECK(failure_info(FailureKind::auth).status == 407);
    CHECK(failure_info(FailureKind::timeout).status == 504);
    CHECK(failure_info(FailureKind::tls_verify).header == "tls-verify");
    CHECK(failure_info(FailureKind::head_too_large).status == 431);
    CHECK(failure_info(FailureKind::head_too_large).header == "bad-request");
    CHECK(failure_info(FailureKind::method).status == 405);
    for (auto k : {FailureKind::dns, FailureKind::refused, FailureKind::tls, FailureKind::reset})
        CHECK(failure_info(k).status == 502);
}

TEST_CASE("proxy_reply: status line, kind, body length, close") {
    auto r = proxy_reply(FailureKind::forbidden, "port 22 is not allowed");
    CHECK(r.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    CHECK(r.find("X-Airlock-Error: forbidden\r\n") != std::string::npos);
    CHECK(r.find("Connection: close\r\n\r\nairlock: port 22 is not allowed\n") != std::string::npos);
    CHECK(r.find("Content-Length: 32\r\n") != std::string::npos);
    CHECK(r.find("Proxy-Authenticate") == std::string::npos);
    auto a = proxy_reply(FailureKind::auth, "proxy authentication required");
    CHECK(a.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"));
    CHECK(a.find("Proxy-Authenticate: Basic realm=\"airlock\"\r\n") != std::string::npos);
    auto b = proxy_reply(FailureKind::bad_request, "unsupported transfer coding", 501);
    CHECK(b.starts_with("HTTP/1.1 501 Not Implemented\r\n"));
    CHECK(b.find("X-Airlock-Error: bad-request\r\n") != std::string::npos);
}
