#include "session/session_json.hpp"

#include <fmt/format.h>

#include "airlock/settings_text.hpp"
#include "session/container.hpp"
#include "session/network.hpp"

namespace airlock::session {

boost::json::object session_json(const SessionView& v, const std::string& home_id) {
    const auto& s = v.session;
    boost::json::object o;
    o["name"] = s.name;
    o["state"] = v.state;
    o["from_engine"] = v.from_engine;
    o["status"] = std::string(to_string(s.status));
    o["branch"] = s.branch;
    o["worktree"] = s.worktree;
    o["repo"] = s.repo_root;
    o["subdir"] = s.repo_subdir;
    o["base_commit"] = s.base_commit;
    o["image"] = s.image;
    o["image_id"] = s.image_id;
    o["agent"] = s.agent;
    boost::json::array cmd;
    for (const auto& a : s.agent_command) cmd.emplace_back(a);
    o["agent_command"] = std::move(cmd);
    o["prompt"] = s.prompt;
    o["cpus"] = s.cpus;
    o["memory"] = s.memory;
    o["pids_limit"] = s.pids_limit;
    o["pull_policy"] = std::string(to_string(s.pull_policy));
    o["network"] = s.network;
    o["network_confined"] = is_confined(s.network);
    o["network_reach"] = describe_network(s.network);
    o["read_only"] = s.read_only;
    boost::json::array env;
    for (const auto& e : s.extra_env) env.emplace_back(e);
    o["env"] = std::move(env);
    boost::json::array creds;
    for (const auto& c : s.credentials) creds.emplace_back(c);
    o["credentials"] = std::move(creds);
    o["container_id"] = s.container_id;
    o["container"] = container_name(home_id, s.name);
    o["home_volume"] = s.home_volume;
    o["created_at"] = s.created_at;
    o["updated_at"] = s.updated_at;
    o["last_error"] = s.last_error;
    o["branch_note"] = v.branch_note;
    return o;
}


boost::json::array commits_json(const BranchLog& log) {
    boost::json::array a;
    for (const auto& c : log.commits)
        a.emplace_back(boost::json::object{{"id", c.id}, {"summary", c.summary}, {"author", c.author}, {"time", c.time}});
    return a;
}

SyncMessage sync_message(const SyncResult& r, const std::string& branch, const std::string& session) {
    auto short_tip = [](const std::string& id) { return id.empty() ? std::string("(none)") : id.substr(0, 12); };
    switch (r.action) {
        case SyncAction::up_to_date:
            return {false, fmt::format("{} is up to date ({})", branch, short_tip(r.new_tip))};
        case SyncAction::create:
        case SyncAction::fast_forward:
        case SyncAction::force_update:
            return {false, fmt::format("{}: {} -> {} ({})", branch, short_tip(r.old_tip), short_tip(r.new_tip),
                                       to_string(r.action))};
        case SyncAction::refuse_diverged:
            return {true, fmt::format("{} in your repository ({}) is not an ancestor of the session's branch ({}); "
                                      "nothing moved. Look with 'airlock diff {}', then 'airlock sync {} --force' to "
                                      "replace it",
                                      branch, short_tip(r.old_tip), short_tip(r.new_tip), session, session)};
        case SyncAction::refuse_checked_out:
            return {true, fmt::format("{} is checked out in your repository; switch to another branch, then run "
                                      "'airlock sync {}' again",
                                      branch, session)};
        case SyncAction::refuse_no_branch:
            return {true, fmt::format("the session's repository has no branch {} (the agent deleted it); nothing to "
                                      "bring across",
                                      branch)};
    }
    return {true, "unknown sync result"};
}

}  // namespace airlock::session
