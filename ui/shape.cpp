#include "ui/shape.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace airlock::ui {

std::string error_json(std::string_view message) {
    std::string line(message);
    for (auto& c : line)
        if (c == '\n' || c == '\r') c = ' ';
    return boost::json::serialize(boost::json::object{{"error", line}});
}

boost::json::object record_json(const AuditRecord& r) {
    boost::json::object o;
    o["time"] = proxy::format_time_utc(r.time);
    o["client"] = r.client;
    o["method"] = r.method;
    o["host"] = r.host;
    o["port"] = r.port;
    o["path"] = r.path;
    o["status"] = r.status;
    o["bytes_up"] = r.bytes_up;
    o["bytes_down"] = r.bytes_down;
    o["duration_ms"] = r.duration_ms;
    o["decision"] = std::string(proxy::to_string(r.decision));
    o["rule"] = r.rule;
    o["error"] = r.error;
    o["peer"] = r.peer;
    o["refused"] = is_refused(r);
    if (r.suppressed) o["suppressed"] = r.suppressed;
    return o;
}

boost::json::array records_json(const std::vector<const AuditRecord*>& records) {
    boost::json::array a;
    a.reserve(records.size());
    for (const auto* r : records) a.emplace_back(record_json(*r));
    return a;
}

boost::json::object series_json(const Series& s) {
    auto arr = [](const std::vector<std::uint64_t>& v) {
        boost::json::array a;
        a.reserve(v.size());
        for (auto x : v) a.emplace_back(x);
        return a;
    };
    return boost::json::object{{"step_s", s.step},
                               {"start", s.start},
                               {"requests", arr(s.requests)},
                               {"bytes", arr(s.bytes)},
                               {"refusals", arr(s.refusals)}};
}

void add_activity(boost::json::object& session, const Activity* a) {
    session["requests"] = a ? a->requests : 0;
    session["refusals"] = a ? a->refusals : 0;
    session["bytes_up"] = a ? a->bytes_up : 0;
    session["bytes_down"] = a ? a->bytes_down : 0;
    session["last_request"] = a && a->last.time_since_epoch().count() ? proxy::format_time_utc(a->last) : std::string();
}

Selection select_records(const std::deque<AuditRecord>& records, std::string_view client, std::size_t limit,
                         bool refused_only) {
    Selection s;
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
        if (!client.empty() && it->client != client) continue;
        if (refused_only && !is_refused(*it)) continue;
        ++s.total;
        if (s.records.size() < limit) s.records.push_back(&*it);
    }
    std::reverse(s.records.begin(), s.records.end());
    return s;
}

Result<session::CreateOptions> parse_create_options(std::string_view body) {
    session::CreateOptions o;
    o.repo.clear();
    o.agent.clear();
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return o;
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return make_error("the request body must be a JSON object");
    for (const auto& [key, value] : v.as_object()) {
        auto k = std::string(key);
        auto text = [&](std::string& out) -> Status {
            if (value.is_null()) return {};
            if (!value.is_string()) return make_error("field '" + k + "' must be a string");
            out = std::string(value.as_string());
            return {};
        };
        auto list = [&](std::vector<std::string>& out) -> Status {
            if (value.is_null()) return {};
            if (!value.is_array()) return make_error("field '" + k + "' must be an array of strings");
            for (const auto& e : value.as_array()) {
                if (!e.is_string()) return make_error("field '" + k + "' must be an array of strings");
                out.emplace_back(e.as_string());
            }
            return {};
        };
        Status st;
        if (k == "prompt") st = text(o.prompt);
        else if (k == "agent") st = text(o.agent);
        else if (k == "image") st = text(o.image);
        else if (k == "name") st = text(o.name);
        else if (k == "base") st = text(o.base);
        else if (k == "repo") st = text(o.repo);
        else if (k == "cpus") st = text(o.cpus);
        else if (k == "memory") st = text(o.memory);
        else if (k == "pull_policy") st = text(o.pull_policy);
        else if (k == "network") st = text(o.network);
        else if (k == "env") st = list(o.env);
        else if (k == "credentials") st = list(o.credentials);
        else if (k == "read_only") {
            if (!value.is_bool() && !value.is_null()) st = make_error("field 'read_only' must be true or false");
            else o.read_only = value.is_bool() && value.as_bool();
        } else if (k == "pids_limit") {
            if (value.is_int64() || value.is_uint64()) {
                auto n = value.is_int64() ? value.as_int64() : static_cast<std::int64_t>(value.as_uint64());
                if (n != 0) {
                    o.pids = n;
                    o.pids_set = true;
                }
            } else if (!value.is_null()) {
                st = make_error("field 'pids_limit' must be a whole number");
            }
        } else {
            st = make_error("unknown field '" + k + "' (see docs/ui.md, POST /api/sessions)");
        }
        if (!st) return st.error();
    }
    return o;
}

unsigned status_for_error(std::string_view m) {
    auto has = [&](std::string_view what) { return m.find(what) != std::string_view::npos; };
    if (has("there is no session named")) return 404;
    if (has("uncommitted changes") || has("not merged into") || has("could not be brought into") ||
        has("already in use") || has("already exists") || has("max_containers") || has("is not an ancestor") ||
        has("is checked out in your repository"))
        return 409;
    return 500;
}

}  // namespace airlock::ui
