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

FramingVerdict check_framing(RequestHead& head, std::string_view connect_host,
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

namespace {

// The transfer codings a message may name (the IANA registry, RFC 9112 section 7).
bool known_coding(std::string_view c) {
    for (std::string_view k : {"chunked", "gzip", "x-gzip", "deflate", "compress", "x-compress"})
        if (iequals(c, k)) return true;
    return false;
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// All Transfer-Encoding fields as one list of codings, checked: each a known coding, chunked
// at most once. What chunked's position means is the caller's (requests and responses differ).
struct Codings {
    std::vector<std::string_view> list;
    bool chunked_last = false;
    std::string error;  // non-empty: refuse
};

Codings transfer_codings(const std::vector<std::string_view>& fields) {
    Codings c;
    for (auto f : fields)
        for (auto item : split_list(f)) c.list.push_back(item);
    if (c.list.empty()) {
        c.error = "empty Transfer-Encoding";
        return c;
    }
    int chunked = 0;
    for (auto item : c.list) {
        if (!is_token(item)) {
            c.error = "invalid Transfer-Encoding";
            return c;
        }
        if (iequals(item, "chunked")) ++chunked;
    }
    c.chunked_last = iequals(c.list.back(), "chunked");
    if (!c.chunked_last && chunked == 0) return c;
    if (!c.chunked_last) {
        c.error = "Transfer-Encoding must end with chunked";
        return c;
    }
    if (chunked != 1) {
        c.error = "chunked is applied more than once";
        return c;
    }
    for (auto item : c.list)
        if (!known_coding(item)) {
            c.error = fmt::format("unsupported transfer coding '{}' (chunked, optionally after gzip, deflate or compress)",
                                  item.substr(0, 64));
            return c;
        }
    return c;
}

// All Content-Length fields: the one length they agree on, or an error. `lists` allows
// comma-separated lists of one repeated value with empty elements ignored (RFC 9112 section
// 6.3 item 5, requests: the proxy then forwards one normalised field); without it, every
// field must be a plain 1*DIGIT (responses are forwarded as received).
struct Length {
    std::uint64_t value = 0;
    bool canonical = false;  // exactly one field, exactly the decimal digits of value
    std::string error;
};

Length content_length(const std::vector<std::string_view>& fields, bool lists) {
    Length out;
    bool have = false;
    for (auto f : fields) {
        std::vector<std::string_view> items;
        if (lists) {
            if (f.find_first_not_of(" \t,0123456789") != std::string_view::npos) {
                out.error = "invalid Content-Length";
                return out;
            }
            items = split_list(f);
        } else {
            items.push_back(f);
        }
        if (items.empty()) {
            out.error = "invalid Content-Length";
            return out;
        }
        for (auto item : items) {
            if (item.empty() || item.find_first_not_of("0123456789") != std::string_view::npos) {
                out.error = "invalid Content-Length";
                return out;
            }
            if (item.size() > 19) {
                out.error = "Content-Length is too large";
                return out;
            }
            std::uint64_t n = 0;
            for (char c : item) n = n * 10 + static_cast<std::uint64_t>(c - '0');
            if (have && n != out.value) {
                out.error = "conflicting Content-Length values";
                return out;
            }
            have = true;
            out.value = n;
        }
    }
    out.canonical = fields.size() == 1 && fields[0] == std::to_string(out.value);
    return out;
}

}  // namespace

FramingVerdict check_body_framing(RequestHead& head) {
    FramingVerdict v;
    v.ok = true;
    auto te_fields = head.values("Transfer-Encoding");
    auto cl_fields = head.values("Content-Length");
    if (!te_fields.empty()) {
        if (head.version == 10) return refuse(400, "Transfer-Encoding is not allowed in HTTP/1.0");
        if (!cl_fields.empty())
            return refuse(400, "both Transfer-Encoding and Content-Length are present");
        auto codings = transfer_codings(te_fields);
        if (!codings.error.empty()) return refuse(400, codings.error);
        if (!codings.chunked_last) return refuse(400, "Transfer-Encoding must end with chunked");
        std::string canonical;
        for (auto c : codings.list) canonical += (canonical.empty() ? "" : ", ") + lowercase(c);
        if (te_fields.size() != 1 || te_fields[0] != canonical) head.set("Transfer-Encoding", canonical);
        v.body = FramingVerdict::Body::chunked;
        return v;
    }
    if (!cl_fields.empty()) {
        auto length = content_length(cl_fields, true);
        if (!length.error.empty()) return refuse(400, length.error);
        if (!length.canonical) head.set("Content-Length", std::to_string(length.value));
        v.body = FramingVerdict::Body::content_length;
        v.content_length = length.value;
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
    auto refused = [&](std::string reason) {
        f.ok = false;
        f.reason = std::move(reason);
        f.close = true;
        return f;
    };
    auto te = r.values("Transfer-Encoding");
    auto cl = r.values("Content-Length");
    if (!te.empty()) {
        if (r.version == 10) return refused("Transfer-Encoding in an HTTP/1.0 response");
        if (!cl.empty()) return refused("both Transfer-Encoding and Content-Length are present");
        auto codings = transfer_codings(te);
        if (!codings.error.empty()) return refused(codings.error);
        if (codings.chunked_last) {
            f.body = ResponseBody::chunked;
        } else {
            f.body = ResponseBody::until_close;
            f.close = true;
        }
        return f;
    }
    if (!cl.empty()) {
        auto length = content_length(cl, false);
        if (!length.error.empty()) return refused(length.error);
        f.body = ResponseBody::length;
        f.length = length.value;
        return f;
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
