// The container a session gets (session/container.hpp): of the user's repository only the
// object directories are mounted, read-only; the session's own repository is where commits go.

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "session/container.hpp"
#include "session/session_repo.hpp"

using namespace airlock;
using namespace airlock::session;

TEST_CASE("build_container_spec: nothing of the user's repository is writable") {
    Session s;
    s.name = "s";
    s.repo_root = "/repo";
    s.git_common_dir = "/repo/.git";
    s.worktree = "/home/u/.airlock/worktrees/s";
    s.branch = "airlock/s";
    s.image = "busybox:latest";
    s.agent_command = {"sh", "-c"};
    HostSettings host;
    host.session_git_dir = "/home/u/.airlock/sessions/s/git";
    host.object_dirs = {"/repo/.git/objects", "/shared/objects"};
    auto spec = build_container_spec(s, host, "token");
    REQUIRE(spec.ok());
    std::map<std::string, Mount> by_target;
    for (const auto& m : spec->mounts) by_target[m.target] = m;

    CHECK(by_target.at("/workspace").source == s.worktree);
    CHECK_FALSE(by_target.at("/workspace").read_only);
    CHECK(by_target.at("/workspace/.git").source == s.worktree + "/.git");
    CHECK(by_target.at("/workspace/.git").read_only);
    CHECK(by_target.at(kContainerGitDir).source == host.session_git_dir);
    CHECK_FALSE(by_target.at(kContainerGitDir).read_only);
    CHECK(by_target.at(std::string(kContainerGitDir) + "/config").read_only);
    CHECK(by_target.at(std::string(kContainerGitDir) + "/hooks").read_only);
    CHECK(by_target.at("/repo/.git/objects").read_only);
    CHECK(by_target.at("/shared/objects").read_only);
    for (const auto& m : spec->mounts) {
        INFO(m.source << " -> " << m.target);
        bool in_user_repo = m.source.rfind("/repo/.git", 0) == 0 || m.source.rfind("/shared", 0) == 0;
        if (in_user_repo) CHECK(m.read_only);
        CHECK(m.source != "/repo/.git");
        CHECK(m.target != "/repo/.git");
    }
}
