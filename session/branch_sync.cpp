#include "session/branch_sync.hpp"

#include <fmt/format.h>

namespace airlock::session {

namespace {

bool is_hex40(std::string_view s) {
    if (s.size() != 40) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

std::string session_branch_ref(std::string_view session) { return fmt::format("refs/heads/airlock/{}", session); }
std::string base_keep_ref(std::string_view session) { return fmt::format("refs/airlock/{}/base", session); }
std::string tip_keep_ref(std::string_view session) { return fmt::format("refs/airlock/{}/tip", session); }

bool may_fetch(std::string_view session, std::string_view ref) {
    return !session.empty() && ref == session_branch_ref(session);
}

SyncAction plan_sync(const SyncFacts& f) {
    if (f.session_tip.empty()) return SyncAction::refuse_no_branch;
    if (f.session_tip == f.user_tip) return SyncAction::up_to_date;
    if (f.checked_out) return SyncAction::refuse_checked_out;
    if (f.user_tip.empty()) return SyncAction::create;
    if (f.user_tip_is_ancestor) return SyncAction::fast_forward;
    return f.force ? SyncAction::force_update : SyncAction::refuse_diverged;
}

std::string_view to_string(SyncAction a) {
    switch (a) {
        case SyncAction::up_to_date: return "up to date";
        case SyncAction::create: return "created";
        case SyncAction::fast_forward: return "fast-forward";
        case SyncAction::force_update: return "forced";
        case SyncAction::refuse_diverged: return "diverged";
        case SyncAction::refuse_checked_out: return "checked out";
        case SyncAction::refuse_no_branch: return "no branch";
    }
    return "unknown";
}

bool moves_branch(SyncAction a) {
    return a == SyncAction::create || a == SyncAction::fast_forward || a == SyncAction::force_update;
}

Result<std::string> parse_loose_ref(std::string_view text) {
    if (text.starts_with("ref:"))
        return make_error("it is a symbolic ref; airlock brings back only a branch that names a commit");
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!is_hex40(text)) return make_error("it does not hold a full object id");
    return std::string(text);
}

std::optional<std::string> find_packed_ref(std::string_view text, std::string_view ref) {
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#' || line.front() == '^') continue;
        if (line.size() < 42 || line[40] != ' ') continue;
        if (line.substr(41) == ref && is_hex40(line.substr(0, 40))) return std::string(line.substr(0, 40));
    }
    return std::nullopt;
}

std::string terminal_safe(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        // U+0080..U+009F (UTF-8 C2 80..C2 9F) are C1 controls: some terminals read U+009B as CSI.
        bool c1 = c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                  static_cast<unsigned char>(text[i + 1]) <= 0x9f;
        if (c1) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[++i]));
        } else if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    return out;
}

}  // namespace airlock::session
