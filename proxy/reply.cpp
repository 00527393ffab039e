#include "proxy/reply.hpp"

#include <fmt/format.h>

namespace airlock::proxy {

FailureInfo failure_info(FailureKind kind) {
    switch (kind) {
        case FailureKind::none: return {200, ""};
        case FailureKind::bad_request: return {400, "bad-request"};
        case FailureKind::head_too_large: return {431, "bad-request"};
        case FailureKind::auth: return {407, "auth"};
        case FailureKind::forbidden: return {403, "forbidden"};
        case FailureKind::method: return {405, "method"};
        case FailureKind::misdirected: return {421, "misdirected"};
        case FailureKind::limit: return {503, "limit"};
        case FailureKind::dns: return {502, "dns"};
        case FailureKind::refused: return {502, "refused"};
        case FailureKind::timeout: return {504, "timeout"};
        case FailureKind::tls: return {502, "tls"};
        case FailureKind::tls_verify: return {502, "tls-verify"};
        case FailureKind::reset: return {502, "reset"};
        case FailureKind::login_expired: return {401, "login-expired"};
    }
    return {502, "reset"};
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 405: return "Method Not Allowed";
        case 407: return "Proxy Authentication Required";
        case 421: return "Misdirected Request";
        case 431: return "Request Header Fields Too Large";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "Error";
    }
}

std::string proxy_reply(FailureKind kind, std::string_view message, int status) {
    auto info = failure_info(kind);
    if (status == 0) status = info.status;
    std::string body = fmt::format("airlock: {}\n", message);
    std::string_view extra = kind == FailureKind::auth ? "Proxy-Authenticate: Basic realm=\"airlock\"\r\n" : "";
    return fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
        "X-Airlock-Error: {}\r\n{}Connection: close\r\n\r\n{}",
        status, reason_phrase(status), body.size(), info.header, extra, body);
}

}  // namespace airlock::proxy
