#pragma once
// The page's files (index.html, scripts, styles, the bundled libraries and their licences),
// embedded in the binary at build time (ui/embed_assets.py writes ui_assets.cpp from what
// ui/web/build produces), or read from a directory (AIRLOCK_UI_ASSETS, for work on the page).

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace airlock::ui {

struct Asset {
    std::string_view path;  // "index.html", "vendor/xterm.js"
    std::string_view data;
    std::string_view etag;  // "\"<hash>\""
};

std::span<const Asset> embedded_assets();

// "text/javascript; charset=utf-8" ... by extension; "application/octet-stream" otherwise.
std::string_view content_type_for(std::string_view path);

}  // namespace airlock::ui
