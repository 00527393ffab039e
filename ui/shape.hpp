#pragma once
// The dashboard's JSON: audit records, series, activity, errors (shapes in docs/ui.md,
// "API"). Pure. Nothing here ever holds a secret: records come from the audit (redacted by
// the proxy when written), rules are described by name, hosts and where the secret comes from.

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "airlock/result.hpp"
#include "session/create_options.hpp"
#include "ui/audit_index.hpp"

namespace airlock::ui {

// {"error": "<message>"} (one line: newlines become spaces).
std::string error_json(std::string_view message);

boost::json::object record_json(const AuditRecord& r);
boost::json::array records_json(const std::vector<const AuditRecord*>& records);
boost::json::object series_json(const Series& s);

// Adds "requests", "refusals", "last_request", "bytes_up", "bytes_down" to a session object
// (zeros and "" without activity).
void add_activity(boost::json::object& session, const Activity* activity);

// The newest `limit` records of `client` ("" = all), oldest first, and how many there are;
// `refused_only` keeps refusals only.
struct Selection {
    std::vector<const AuditRecord*> records;
    std::size_t total = 0;
};
Selection select_records(const std::deque<AuditRecord>& records, std::string_view client, std::size_t limit,
                         bool refused_only);

// The body of POST /api/sessions as CreateOptions. Every field optional; a field of the wrong
// type or an unknown field is an error naming it. "pids_limit": 0 means "the default".
Result<session::CreateOptions> parse_create_options(std::string_view body);

// The HTTP status for an error from a session operation: 404 for an unknown session, 409 for
// a safety refusal (uncommitted work, unmerged or unsynced commits, a limit reached), 500 otherwise.
unsigned status_for_error(std::string_view message);

}  // namespace airlock::ui
