#include "ui/shape.hpp"

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

}  // namespace airlock::ui
