#include "ui/routes.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

namespace airlock::ui {

std::optional<std::string> percent_decode(std::string_view text, bool query) {
    std::string out;
    out.reserve(text.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && query) {
            c = ' ';
        }
        if (c == '\0') return std::nullopt;
        out += c;
    }
    return out;
}

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        auto at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos) break;
        s = s.substr(at + 1);
    }
    return parts;
}

Route bad_method(std::string allow) {
    Route r;
    r.kind = RouteKind::bad_method;
    r.allow = std::move(allow);
    return r;
}

bool asset_path_ok(std::string_view path) {
    if (path.empty()) return false;
    for (auto seg : split(path, '/'))
        if (seg.empty() || seg == "." || seg == ".." || seg.front() == '.') return false;
    for (char c : path)
        if (static_cast<unsigned char>(c) < 0x20 || c == '\\') return false;
    return true;
}

}  // namespace

Route route(std::string_view method, std::string_view target, bool websocket) {
    Route r;
    auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (q != std::string_view::npos) {
        for (auto pair : split(target.substr(q + 1), '&')) {
            if (pair.empty()) continue;
            auto eq = pair.find('=');
            auto key = percent_decode(pair.substr(0, eq), true);
            auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
            if (!key || !value) {
                r.kind = RouteKind::bad_request;
                r.message = "malformed query string";
                return r;
            }
            r.query[*key] = *value;
        }
    }
    if (path.empty() || path.front() != '/') return r;
    const bool get = method == "GET" || method == "HEAD";

    if (path.substr(0, 5) != "/api/" && path != "/api") {
        if (websocket) return r;
        if (!get) return bad_method("GET, HEAD");
        auto decoded = percent_decode(path.substr(1), false);
        if (!decoded) return r;
        std::string file = decoded->empty() ? std::string("index.html") : *decoded;
        if (!asset_path_ok(file)) return r;
        r.kind = RouteKind::asset;
        r.asset = std::move(file);
        return r;
    }

    auto parts = split(path.substr(1), '/');  // "api", ...
    if (parts.size() < 2) return r;
    if (parts.size() == 2) {
        auto what = parts[1];
        if (websocket) return r;
        if (what == "sessions") {
            if (get) r.kind = RouteKind::sessions;
            else if (method == "POST") r.kind = RouteKind::create_session;
            else return bad_method("GET, POST");
            return r;
        }
        static const std::pair<std::string_view, RouteKind> simple[] = {
            {"stats", RouteKind::stats}, {"proxy", RouteKind::proxy}, {"config", RouteKind::config},
            {"events", RouteKind::events}};
        for (const auto& [name, kind] : simple)
            if (what == name) {
                if (!get) return bad_method("GET");
                r.kind = kind;
                return r;
            }
        return r;
    }
    if (parts[1] != "sessions" || parts.size() > 4) return r;
    auto name = percent_decode(parts[2], false);
    if (!name || name->empty() || name->find('/') != std::string::npos) return r;
    r.name = *name;
    if (parts.size() == 3) {
        if (websocket) return r;
        if (get) r.kind = RouteKind::session;
        else if (method == "DELETE") r.kind = RouteKind::delete_session;
        else return bad_method("GET, DELETE");
        return r;
    }
    auto sub = parts[3];
    if (sub == "terminal" || sub == "logs") {
        if (!websocket) {
            r.kind = RouteKind::bad_request;
            r.message = std::string("/api/sessions/NAME/") + std::string(sub) + " is a WebSocket: connect with new WebSocket(...)";
            return r;
        }
        r.kind = sub == "terminal" ? RouteKind::terminal : RouteKind::logs;
        return r;
    }
    if (websocket) return r;
    if (sub == "stop" || sub == "start" || sub == "refresh" || sub == "sync") {
        if (method != "POST") return bad_method("POST");
        r.kind = RouteKind::session_action;
        r.action = std::string(sub);
        return r;
    }
    if (sub == "diff" || sub == "requests") {
        if (!get) return bad_method("GET");
        r.kind = sub == "diff" ? RouteKind::diff : RouteKind::requests;
        return r;
    }
    return r;
}

bool query_flag(const std::map<std::string, std::string>& query, const std::string& key) {
    auto it = query.find(key);
    return it != query.end() && (it->second == "1" || it->second == "true" || it->second == "yes");
}

long query_int(const std::map<std::string, std::string>& query, const std::string& key, long fallback, long min,
               long max) {
    auto it = query.find(key);
    if (it == query.end()) return fallback;
    long v = 0;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc{} || end != it->second.data() + it->second.size()) return fallback;
    return std::clamp(v, min, max);
}

}  // namespace airlock::ui
