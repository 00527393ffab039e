#include "proxy/framing.hpp"

#include <fmt/format.h>

#include "proxy/hosts.hpp"

namespace airlock::proxy {
namespace {

FramingVerdict refuse(int status, std::string reason) {
    FramingVerdict v;
    v.ok = false;
    v.status = status;
    v.reason = std::move(reason);
    return v;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

// Does `authority` (host[:port]) name the CONNECT destination? Returns 0 if yes, 400 if
// it is malformed, 421 if it names something else.
int check_authority(std::string_view authority, std::string_view connect_host,
                    std::uint16_t connect_port, std::string& reason, std::string_view what) {
    auto hp = parse_host_header(authority);
    if (!hp) {
        reason = fmt::format("{}: {}", what, hp.error().message);
        return 400;
    }
    if (hp->host != canonical_host(connect_host) || (hp->port != 0 && hp->port != connect_port)) {
        reason = fmt::format("{} '{}' does not match the CONNECT target {}", what, authority,
                             format_authority(canonical_host(connect_host), connect_port));
        return 421;
    }
    return 0;
}

// The authority of an absolute-form "https://authority/..." target.
std::string_view absolute_authority(std::string_view target) {
    target.remove_prefix(8);  // "https://"
    auto end = target.find_first_of("/?#");
    return target.substr(0, end);
}

}  // namespace

FramingVerdict check_framing(const RequestHead& head, std::string_view connect_host,
                             std::uint16_t connect_port) {
    if (iequals(head.method, "CONNECT")) return refuse(400, "CONNECT inside a tunnel is not allowed");

    // Host.
    auto hosts = head.values("Host");
    if (hosts.empty()) return refuse(400, "missing Host header");
    if (hosts.size() > 1) return refuse(400, "more than one Host header");
    std::string reason;
    if (int st = check_authority(hosts[0], connect_host, connect_port, reason, "Host"))
        return refuse(st, reason);

    // Request target.
    const std::string& target = head.target;
    if (target.empty()) return refuse(400, "empty request target");
    if (target.front() == '/') {
        // origin-form
    } else if (starts_with_icase(target, "https://")) {
        std::string_view auth = absolute_authority(target);
        if (auth.find('@') != std::string_view::npos)
            return refuse(400, "userinfo in the request target is not allowed");
        if (int st = check_authority(auth, connect_host, connect_port, reason, "request target"))
            return refuse(st, reason);
    } else {
        return refuse(400, fmt::format("unsupported request target form (expected /path or "
                                       "https://{}/path)",
                                       canonical_host(connect_host)));
    }

    return check_body_framing(head);
}

FramingVerdict check_body_framing(const RequestHead& head) {
    // Transfer-Encoding.
    FramingVerdict v;
    v.ok = true;
    auto te_fields = head.values("Transfer-Encoding");
    auto cl_fields = head.values("Content-Length");
    if (!te_fields.empty()) {
        if (head.version == 10) return refuse(400, "Transfer-Encoding is not allowed in HTTP/1.0");
        if (!cl_fields.empty())
            return refuse(400, "both Transfer-Encoding and Content-Length are present");
        std::vector<std::string_view> codings;
        for (auto f : te_fields)
            for (auto c : split_list(f)) codings.push_back(c);
        if (codings.empty()) return refuse(400, "empty Transfer-Encoding");
        int chunked = 0;
        for (auto c : codings) {
            if (!is_token(c)) return refuse(400, "invalid Transfer-Encoding");
            if (iequals(c, "chunked")) ++chunked;
        }
        if (!iequals(codings.back(), "chunked"))
            return refuse(400, "Transfer-Encoding must end with chunked");
        if (chunked != 1) return refuse(400, "chunked is applied more than once");
        v.body = FramingVerdict::Body::chunked;
        return v;
    }

    // Content-Length.
    if (!cl_fields.empty()) {
        bool have = false;
        std::uint64_t length = 0;
        for (auto f : cl_fields) {
            auto items = split_list(f);
            if (items.empty() || f.find_first_not_of(" \t,0123456789") != std::string_view::npos)
                return refuse(400, "invalid Content-Length");
            for (auto item : items) {
                if (item.size() > 19) return refuse(400, "Content-Length is too large");
                std::uint64_t n = 0;
                for (char c : item) {
                    if (c < '0' || c > '9') return refuse(400, "invalid Content-Length");
                    n = n * 10 + static_cast<std::uint64_t>(c - '0');
                }
                if (have && n != length) return refuse(400, "conflicting Content-Length values");
                have = true;
                length = n;
            }
        }
        v.body = FramingVerdict::Body::content_length;
        v.content_length = length;
        return v;
    }
    v.body = FramingVerdict::Body::none;
    return v;
}

ResponseFraming response_framing(const ResponseHead& r, std::string_view request_method) {
    ResponseFraming f;
    for (auto v : r.values("Connection"))
        for (auto t : split_list(v))
            if (iequals(t, "close")) f.close = true;
    if (r.version == 10) {
        bool keep = false;
        for (auto v : r.values("Connection"))
            for (auto t : split_list(v))
                if (iequals(t, "keep-alive")) keep = true;
        if (!keep) f.close = true;
    }
    if (iequals(request_method, "HEAD") || (r.status >= 100 && r.status < 200) || r.status == 204 ||
        r.status == 304)
        return f;
    auto te = r.values("Transfer-Encoding");
    if (!te.empty()) {
        std::vector<std::string_view> codings;
        for (auto v : te)
            for (auto c : split_list(v)) codings.push_back(c);
        if (!codings.empty() && iequals(codings.back(), "chunked")) {
            f.body = ResponseBody::chunked;
        } else {
            f.body = ResponseBody::until_close;
            f.close = true;
        }
        return f;
    }
    if (auto cl = r.find("Content-Length")) {
        std::uint64_t n = 0;
        bool ok = !cl->empty();
        for (char c : *cl) {
            if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) { ok = false; break; }
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (ok) {
            f.body = ResponseBody::length;
            f.length = n;
            return f;
        }
    }
    f.body = ResponseBody::until_close;
    f.close = true;
    return f;
}

bool wants_close(const RequestHead& head) {
    bool close = head.version == 10;
    for (auto v : head.values("Connection"))
        for (auto t : split_list(v)) {
            if (iequals(t, "close")) close = true;
            if (iequals(t, "keep-alive") && head.version == 10) close = false;
        }
    return close;
}

Result<HttpTarget> parse_http_target(std::string_view target) {
    if (!starts_with_icase(target, "http://"))
        return make_error(fmt::format("a request to the proxy itself must use an absolute http:// URL or "
                                      "CONNECT (got '{}')", target.substr(0, 64)));
    auto rest = target.substr(7);
    auto end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, end);
    if (authority.find('@') != std::string_view::npos)
        return make_error("userinfo in the request target is not allowed");
    auto hp = parse_host_header(authority);
    if (!hp) return make_error(fmt::format("request target: {}", hp.error().message));
    HttpTarget t;
    t.host = hp->host;
    t.port = hp->port ? hp->port : 80;
    t.path = origin_form(target);
    return t;
}

bool is_websocket_upgrade(const RequestHead& head) {
    if (!iequals(head.method, "GET") || head.version != 11) return false;
    bool connection_upgrade = false;
    for (auto f : head.values("Connection"))
        for (auto item : split_list(f))
            if (iequals(item, "upgrade")) connection_upgrade = true;
    if (!connection_upgrade) return false;
    for (auto f : head.values("Upgrade"))
        for (auto item : split_list(f)) {
            auto name = item.substr(0, item.find('/'));
            if (iequals(name, "websocket")) return true;
        }
    return false;
}

std::string origin_form(std::string_view target) {
    if (starts_with_icase(target, "https://") || starts_with_icase(target, "http://")) {
        auto after = target.find("://") + 3;
        auto path = target.find_first_of("/?#", after);
        if (path == std::string_view::npos) return "/";
        std::string out(target.substr(path));
        if (out.front() != '/') out.insert(out.begin(), '/');
        return out;
    }
    return std::string(target);
}

std::string path_for_log(std::string_view target) {
    std::string p = origin_form(target);
    auto q = p.find_first_of("?#");
    if (q != std::string::npos) p.erase(q);
    return p;
}

}  // namespace airlock::proxy
