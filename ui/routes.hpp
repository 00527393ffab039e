#pragma once
// The dashboard's URL space (see docs/ui.md, "API"): a request's method and target to what
// it asks for, as plain data. Pure.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace airlock::ui {

enum class RouteKind {
    asset,             // GET /, /app.js, /vendor/x.css ...  (asset = the file's path, "index.html" for /)
    sessions,          // GET /api/sessions
    create_session,    // POST /api/sessions
    session,           // GET /api/sessions/NAME
    session_action,    // POST /api/sessions/NAME/{stop,start,refresh,sync}  (action)
    delete_session,    // DELETE /api/sessions/NAME
    diff,              // GET /api/sessions/NAME/diff
    requests,          // GET /api/sessions/NAME/requests
    terminal,          // WebSocket /api/sessions/NAME/terminal
    logs,              // WebSocket /api/sessions/NAME/logs
    stats,             // GET /api/stats
    proxy,             // GET /api/proxy
    config,            // GET /api/config
    events,            // GET /api/events (Server-Sent Events)
    not_found,         // 404
    bad_method,        // 405 (allow = what the path takes)
    bad_request,       // 400 (message)
};

struct Route {
    RouteKind kind = RouteKind::not_found;
    std::string name;    // the session
    std::string action;  // session_action: stop | start | refresh | sync
    std::string asset;   // asset: relative file path
    std::map<std::string, std::string> query;  // decoded parameters (the last of repeated ones)
    std::string allow;    // bad_method: "GET, POST"
    std::string message;  // bad_request
};

// Percent-decodes a path segment or a query value ('+' is a space only in queries);
// nullopt on a malformed escape or a NUL.
std::optional<std::string> percent_decode(std::string_view text, bool query);

Route route(std::string_view method, std::string_view target, bool websocket);

// "1", "true", "yes" (what ?force=1 means).
bool query_flag(const std::map<std::string, std::string>& query, const std::string& key);
// An integer parameter within [min, max]; `fallback` when absent or not a number.
long query_int(const std::map<std::string, std::string>& query, const std::string& key, long fallback, long min,
               long max);

}  // namespace airlock::ui
