#include "session/session_repo.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <git2.h>
#include <git2/odb_backend.h>

namespace airlock::session {

namespace fs = std::filesystem;

namespace {

void ensure_libgit2() {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const noexcept { F(p); }
};
using RepoPtr = std::unique_ptr<git_repository, Free<git_repository, git_repository_free>>;
using RefPtr = std::unique_ptr<git_reference, Free<git_reference, git_reference_free>>;
using ObjectPtr = std::unique_ptr<git_object, Free<git_object, git_object_free>>;
using CommitPtr = std::unique_ptr<git_commit, Free<git_commit, git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, Free<git_tree, git_tree_free>>;
using OdbPtr = std::unique_ptr<git_odb, Free<git_odb, git_odb_free>>;
using WalkPtr = std::unique_ptr<git_revwalk, Free<git_revwalk, git_revwalk_free>>;
using PackPtr = std::unique_ptr<git_packbuilder, Free<git_packbuilder, git_packbuilder_free>>;
using ConfigPtr = std::unique_ptr<git_config, Free<git_config, git_config_free>>;
using IndexPtr = std::unique_ptr<git_index, Free<git_index, git_index_free>>;
using DiffPtr = std::unique_ptr<git_diff, Free<git_diff, git_diff_free>>;
using StatusPtr = std::unique_ptr<git_status_list, Free<git_status_list, git_status_list_free>>;

std::string git_message() {
    const git_error* e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

std::string oid_hex(const git_oid& oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, &oid);
    return buf;
}

bool parse_oid(git_oid& out, std::string_view hex) {
    return hex.size() == GIT_OID_HEXSZ && git_oid_fromstrn(&out, hex.data(), hex.size()) == 0;
}

fs::path dir_path(const char* p) {
    std::string s = p ? p : "";
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return fs::path(s);
}

// The user's repository (trusted): its common git dir, opened exactly there.
Result<RepoPtr> open_user_repo(const fs::path& git_dir) {
    ensure_libgit2();
    git_repository* raw = nullptr;
    int rc = git_repository_open_ext(&raw, git_dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    RepoPtr repo(raw);
    if (rc != 0)
        return make_error(fmt::format("could not open the git repository {}: {}", git_dir.string(), git_message()));
    return repo;
}

bool is_real_dir(const fs::path& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists_nofollow(const fs::path& p) {
    struct stat st{};
    return ::lstat(p.c_str(), &st) == 0;
}

// The session's repository as libgit2 sees it, for status and work-tree diffs: refused when
// the agent planted a redirect (commondir, gitdir) or replaced the directory or its config.
Result<RepoPtr> open_session_repo(const SessionRepoPaths& p) {
    ensure_libgit2();
    if (!is_real_dir(p.git_dir))
        return make_error(fmt::format("the session's repository {} is missing (or not a directory); a session made "
                                      "by an older airlock gets one with 'airlock refresh {}'",
                                      p.git_dir.string(), p.name));
    for (const char* planted : {"commondir", "gitdir"})
        if (exists_nofollow(p.git_dir / planted))
            return make_error(fmt::format("the session's repository {} holds a '{}' file the agent wrote; airlock "
                                          "does not follow it (delete the session with --force)",
                                          p.git_dir.string(), planted));
    struct stat st{};
    if (::lstat((p.git_dir / "config").c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return make_error(fmt::format("the session's repository {} has no regular config file", p.git_dir.string()));
    git_repository* raw = nullptr;
    int rc = git_repository_open_ext(&raw, p.git_dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    RepoPtr repo(raw);
    if (rc != 0)
        return make_error(
            fmt::format("could not open the session's repository {}: {}", p.git_dir.string(), git_message()));
    if (git_repository_set_workdir(repo.get(), p.worktree.c_str(), 0) != 0)
        return make_error(fmt::format("could not use {} as the work tree of {}: {}", p.worktree.string(),
                                      p.git_dir.string(), git_message()));
    return repo;
}

// A file of the session's repository, read as data: every component opened with O_NOFOLLOW
// relative to the one before (no symbolic link anywhere below git_dir, even one swapped in
// meanwhile), a regular file, at most `limit` bytes. nullopt when it does not exist.
Result<std::optional<std::string>> read_agent_file(const fs::path& git_dir, const fs::path& rel, std::size_t limit) {
    auto fail = [&](const fs::path& at, int err) -> Result<std::optional<std::string>> {
        if (err == ENOENT || err == ENOTDIR) return std::optional<std::string>{};
        if (err == ELOOP)
            return make_error(fmt::format("{} in the session's repository is a symbolic link; airlock does not follow it",
                                          at.string()));
        return make_error(fmt::format("cannot read {}: {}", at.string(), std::strerror(err)));
    };
    int dir = ::open(git_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return fail(git_dir, errno);
    fs::path at = git_dir;
    for (auto it = rel.begin(); it != rel.end(); ++it) {
        at /= *it;
        bool last = std::next(it) == rel.end();
        struct stat st{};
        if (::fstatat(dir, it->c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            int err = errno;
            ::close(dir);
            return fail(at, err);
        }
        if (S_ISLNK(st.st_mode)) {
            ::close(dir);
            return fail(at, ELOOP);
        }
        if (!last && !S_ISDIR(st.st_mode)) {
            ::close(dir);
            return std::optional<std::string>{};
        }
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
        int next = ::openat(dir, it->c_str(), flags);
        int err = errno;
        ::close(dir);
        if (next < 0) {  // swapped since the fstatat: refuse rather than guess
            if (err == ENOENT) return std::optional<std::string>{};
            return make_error(fmt::format("cannot read {}: {}", at.string(), std::strerror(err)));
        }
        dir = next;
    }
    struct stat st{};
    if (::fstat(dir, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(dir);
        return make_error(fmt::format("{} is not a regular file", at.string()));
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(dir, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > limit) {
            ::close(dir);
            return make_error(fmt::format("{} is larger than {} bytes", at.string(), limit));
        }
    }
    ::close(dir);
    return std::optional<std::string>(std::move(text));
}

// The session branch's commit, read as text from the session's repository ("" = no branch).
Result<std::string> read_session_tip(const SessionRepoPaths& p) {
    const std::string ref = "refs/heads/" + p.branch;
    if (!may_fetch(p.name, ref))
        return make_error(fmt::format("airlock brings back only the branch airlock/{}, not '{}'", p.name, p.branch));
    if (!is_real_dir(p.git_dir))
        return make_error(fmt::format("the session's repository {} is missing (or not a directory); a session made "
                                      "by an older airlock gets one with 'airlock refresh {}'",
                                      p.git_dir.string(), p.name));
    auto loose = read_agent_file(p.git_dir, ref, 4096);
    if (!loose) return loose.error();
    if (*loose) {
        auto id = parse_loose_ref(**loose);
        if (!id) return make_error(fmt::format("the session's branch {} cannot be read: {}", p.branch, id.error().message));
        return *id;
    }
    auto packed = read_agent_file(p.git_dir, "packed-refs", std::size_t{256} << 20);
    if (!packed) return packed.error();
    if (*packed)
        if (auto id = find_packed_ref(**packed, ref)) return *id;
    return std::string();
}

// An object database holding the session's own objects (loose and packed, its alternates not
// followed) and the user's (with the user's alternates), wrapped in a repository handle for
// revwalks, diffs and packing.
struct View {
    RepoPtr repo;
};

Result<View> open_view(const SessionRepoPaths& p) {
    ensure_libgit2();
    git_odb* odb_raw = nullptr;
    if (git_odb_new(&odb_raw) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
    OdbPtr odb(odb_raw);
    const fs::path objects = p.git_dir / "objects";
    if (is_real_dir(objects)) {
        git_odb_backend* loose = nullptr;
        if (git_odb_backend_loose(&loose, objects.c_str(), -1, 0, 0, 0) != 0 ||
            git_odb_add_backend(odb.get(), loose, 2) != 0)
            return make_error(fmt::format("cannot read the objects of {}: {}", p.git_dir.string(), git_message()));
        git_odb_backend* packs = nullptr;
        if (git_odb_backend_pack(&packs, objects.c_str()) != 0 || git_odb_add_backend(odb.get(), packs, 1) != 0)
            return make_error(fmt::format("cannot read the packs of {}: {}", p.git_dir.string(), git_message()));
    }
    const fs::path user_objects = p.user_git_dir / "objects";
    if (git_odb_add_disk_alternate(odb.get(), user_objects.c_str()) != 0)
        return make_error(fmt::format("cannot read the objects of {}: {}", p.user_git_dir.string(), git_message()));
    git_repository* raw = nullptr;
    if (git_repository_wrap_odb(&raw, odb.get()) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
    return View{RepoPtr(raw)};
}

Result<CommitPtr> lookup_commit(git_repository* repo, std::string_view hex, std::string_view what) {
    git_oid id{};
    if (!parse_oid(id, hex)) return make_error(fmt::format("{} '{}' is not an object id", what, hex));
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, repo, &id) != 0)
        return make_error(fmt::format("{} {} is not a commit that can be read: {}", what, hex, git_message()));
    return CommitPtr(raw);
}

// Whether `ancestor` is reachable from `from` through parents, skipping parents that are not
// there (a shallow repository's boundary). For when git_graph_descendant_of fails.
bool reaches(git_repository* repo, const git_oid& from, const git_oid& ancestor) {
    git_odb* odb_raw = nullptr;
    if (git_repository_odb(&odb_raw, repo) != 0) return false;
    OdbPtr odb(odb_raw);
    std::vector<git_oid> pending = {from};
    std::set<std::string> seen;
    while (!pending.empty()) {
        git_oid id = pending.back();
        pending.pop_back();
        if (git_oid_equal(&id, &ancestor)) return true;
        if (!seen.insert(oid_hex(id)).second || !git_odb_exists(odb.get(), &id)) continue;
        git_commit* raw = nullptr;
        if (git_commit_lookup(&raw, repo, &id) != 0) continue;
        CommitPtr c(raw);
        for (unsigned i = 0; i < git_commit_parentcount(c.get()); ++i) pending.push_back(*git_commit_parent_id(c.get(), i));
    }
    git_error_clear();
    return false;
}

// The commit a ref of the user's repository names ("" = no such ref).
Result<std::string> user_ref(git_repository* repo, const std::string& name) {
    git_reference* raw = nullptr;
    int rc = git_reference_lookup(&raw, repo, name.c_str());
    RefPtr ref(raw);
    if (rc == GIT_ENOTFOUND) return std::string();
    if (rc != 0) return make_error(fmt::format("could not read {}: {}", name, git_message()));
    git_reference* resolved_raw = nullptr;
    if (git_reference_resolve(&resolved_raw, ref.get()) != 0) return std::string();
    RefPtr resolved(resolved_raw);
    const git_oid* id = git_reference_target(resolved.get());
    return id ? oid_hex(*id) : std::string();
}

Status write_text(const fs::path& file, const std::string& text) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return make_error(fmt::format("cannot write {}", file.string()));
    return {};
}

// The session's repository: initialised with alternates to the user's objects, the branch at
// `commit`, HEAD on it. Leaves the work tree alone.
Status init_session_git_dir(const SessionRepoPaths& p, git_repository* user, const git_oid& commit) {
    git_repository_init_options opts;
    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    opts.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT | GIT_REPOSITORY_INIT_BARE;
    const std::string head = "refs/heads/" + p.branch;
    opts.initial_head = head.c_str();
    git_repository* raw = nullptr;
    if (git_repository_init_ext(&raw, p.git_dir.c_str(), &opts) != 0)
        return make_error(fmt::format("could not create the session's repository {}: {}", p.git_dir.string(), git_message()));
    RepoPtr session(raw);
    {
        git_config* cfg_raw = nullptr;
        if (git_repository_config(&cfg_raw, session.get()) != 0)
            return make_error(fmt::format("could not configure {}: {}", p.git_dir.string(), git_message()));
        ConfigPtr cfg(cfg_raw);
        git_config* local_raw = nullptr;
        if (git_config_open_level(&local_raw, cfg.get(), GIT_CONFIG_LEVEL_LOCAL) != 0)
            return make_error(fmt::format("could not configure {}: {}", p.git_dir.string(), git_message()));
        ConfigPtr local(local_raw);
        if (git_config_set_bool(local.get(), "core.bare", 0) != 0 ||
            git_config_set_bool(local.get(), "core.logallrefupdates", 1) != 0)
            return make_error(fmt::format("could not configure {}: {}", p.git_dir.string(), git_message()));
    }
    session.reset();
    std::error_code ec;
    fs::create_directories(p.git_dir / "hooks", ec);
    fs::create_directories(p.git_dir / "info", ec);
    const fs::path user_objects = dir_path(git_repository_commondir(user)) / "objects";
    if (auto st = write_text(p.git_dir / "objects" / "info" / "alternates", user_objects.string() + "\n"); !st) return st;
    const fs::path shallow = dir_path(git_repository_commondir(user)) / "shallow";
    if (fs::exists(shallow, ec)) fs::copy_file(shallow, p.git_dir / "shallow", fs::copy_options::overwrite_existing, ec);

    raw = nullptr;
    if (git_repository_open_ext(&raw, p.git_dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0)
        return make_error(fmt::format("could not open the session's repository {}: {}", p.git_dir.string(), git_message()));
    session.reset(raw);
    git_reference* ref_raw = nullptr;
    if (git_reference_create(&ref_raw, session.get(), head.c_str(), &commit, 0, "airlock: session created") != 0)
        return make_error(fmt::format("could not create {} in {}: {}", head, p.git_dir.string(), git_message()));
    git_reference_free(ref_raw);
    return {};
}

Status write_gitfile(const SessionRepoPaths& p) {
    return write_text(p.worktree / ".git", fmt::format("gitdir: {}\n", kContainerGitDir));
}

Status check_names(const SessionRepoPaths& p) {
    if (p.name.empty() || p.name.find_first_of("/\\") != std::string::npos || p.name == "." || p.name == "..")
        return make_error(fmt::format("'{}' cannot name a session repository; use a session name (a-z, 0-9 and '-')",
                                      p.name));
    int valid = 0;
    if (git_branch_name_is_valid(&valid, p.branch.c_str()) != 0 || !valid)
        return make_error(fmt::format("'{}' is not a valid git branch name", p.branch));
    if (!may_fetch(p.name, "refs/heads/" + p.branch))
        return make_error(fmt::format("a session's branch must be airlock/{}, not '{}'", p.name, p.branch));
    return {};
}

void remove_quietly(const fs::path& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
}

void delete_user_ref(git_repository* user, const std::string& name) {
    git_reference* raw = nullptr;
    if (git_reference_lookup(&raw, user, name.c_str()) == 0) {
        RefPtr ref(raw);
        git_reference_delete(ref.get());
    }
}

}  // namespace

std::vector<fs::path> borrowed_object_dirs(const fs::path& user_git_dir) {
    std::vector<fs::path> out;
    std::set<std::string> seen;
    std::vector<fs::path> pending = {user_git_dir / "objects"};
    while (!pending.empty() && out.size() < 16) {
        fs::path dir = pending.back();
        pending.pop_back();
        std::error_code ec;
        fs::path canon = fs::weakly_canonical(dir, ec);
        if (ec) canon = dir.lexically_normal();
        if (!seen.insert(canon.string()).second) continue;
        out.push_back(dir.lexically_normal());
        std::ifstream in(dir / "info" / "alternates");
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            fs::path alt(line);
            pending.push_back(alt.is_absolute() ? alt : dir / alt);
        }
    }
    return out;
}

Status create_session_repo(const SessionRepoPaths& p, std::string_view base_commit) {
    ensure_libgit2();
    if (auto st = check_names(p); !st) return st;
    std::error_code ec;
    if (fs::exists(fs::symlink_status(p.worktree, ec)) &&
        (!fs::is_directory(fs::symlink_status(p.worktree, ec)) || !fs::is_empty(p.worktree, ec)))
        return make_error(fmt::format("{} already exists; a session's worktree must be a new directory: delete the old "
                                      "session with 'airlock delete {}' or remove the directory",
                                      p.worktree.string(), p.name));
    if (fs::exists(fs::symlink_status(p.git_dir, ec)))
        return make_error(fmt::format("{} already exists; delete the old session with 'airlock delete {}' or remove it",
                                      p.git_dir.string(), p.name));
    auto user = open_user_repo(p.user_git_dir);
    if (!user) return user.error();
    git_repository* u = user->get();

    git_oid base{};
    {
        git_object* raw = nullptr;
        const std::string spec(base_commit);
        if (git_revparse_single(&raw, u, spec.c_str()) != 0)
            return make_error(fmt::format("base commit '{}' is not in {}: {}", spec, p.user_git_dir.string(), git_message()));
        ObjectPtr obj(raw);
        git_object* peeled = nullptr;
        if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_COMMIT) != 0)
            return make_error(fmt::format("base '{}' in {} is not a commit: {}", spec, p.user_git_dir.string(), git_message()));
        git_oid_cpy(&base, git_object_id(peeled));
        git_object_free(peeled);
    }

    const std::string branch_ref = "refs/heads/" + p.branch;
    {
        git_reference* raw = nullptr;
        int rc = git_reference_create(&raw, u, branch_ref.c_str(), &base, 0, "airlock: session created");
        git_reference_free(raw);
        if (rc == GIT_EEXISTS)
            return make_error(fmt::format("the branch '{}' already exists in {}; pick another --name, or delete it with "
                                          "'git branch -D {}' if you no longer need it",
                                          p.branch, p.user_git_dir.string(), p.branch));
        if (rc != 0)
            return make_error(fmt::format("could not create the branch '{}' in {}: {}", p.branch,
                                          p.user_git_dir.string(), git_message()));
    }
    bool done = false;
    struct Undo {
        const SessionRepoPaths& p;
        git_repository* u;
        const std::string& branch_ref;
        bool& done;
        ~Undo() {
            if (done) return;
            remove_quietly(p.worktree);
            remove_quietly(p.git_dir);
            delete_user_ref(u, base_keep_ref(p.name));
            delete_user_ref(u, branch_ref);
        }
    } undo{p, u, branch_ref, done};

    {
        git_reference* raw = nullptr;
        if (git_reference_create(&raw, u, base_keep_ref(p.name).c_str(), &base, 1, "airlock: session base") != 0)
            return make_error(fmt::format("could not create {} in {}: {}", base_keep_ref(p.name),
                                          p.user_git_dir.string(), git_message()));
        git_reference_free(raw);
    }
    if (auto st = init_session_git_dir(p, u, base); !st) return st;

    fs::create_directories(p.worktree, ec);
    if (ec) return make_error(fmt::format("could not create {}: {}", p.worktree.string(), ec.message()));
    auto session = open_session_repo(p);
    if (!session) return session.error();
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git_checkout_head(session->get(), &co) != 0)
        return make_error(fmt::format("could not check out {} into {}: {}", p.branch, p.worktree.string(), git_message()));
    if (auto st = write_gitfile(p); !st) return st;
    done = true;
    return {};
}

Status adopt_linked_worktree(const SessionRepoPaths& p, std::string_view base_commit) {
    ensure_libgit2();
    std::error_code ec;
    if (fs::exists(fs::symlink_status(p.git_dir, ec))) return {};
    if (auto st = check_names(p); !st) return st;
    auto user = open_user_repo(p.user_git_dir);
    if (!user) return user.error();
    git_repository* u = user->get();
    const fs::path linked = p.user_git_dir / "worktrees" / p.name;
    auto tip = user_ref(u, "refs/heads/" + p.branch);
    if (!tip) return tip.error();
    if (tip->empty())
        return make_error(fmt::format("session {} has neither its own repository {} nor the branch {} in {}; delete it "
                                      "with 'airlock delete --force {}'",
                                      p.name, p.git_dir.string(), p.branch, p.user_git_dir.string(), p.name));
    git_oid tip_id{}, base{};
    parse_oid(tip_id, *tip);
    if (auto st = init_session_git_dir(p, u, tip_id); !st) {
        remove_quietly(p.git_dir);
        return st;
    }
    if (fs::exists(linked / "index", ec)) fs::copy_file(linked / "index", p.git_dir / "index", ec);
    if (auto st = write_gitfile(p); !st) return st;
    if (parse_oid(base, base_commit)) {
        git_reference* raw = nullptr;
        git_reference_create(&raw, u, base_keep_ref(p.name).c_str(), &base, 1, "airlock: session base");
        git_reference_free(raw);
    }
    remove_quietly(linked);
    return {};
}

Status remove_session_repo(const SessionRepoPaths& p) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(p.worktree, ec))) {
        fs::path wt = fs::weakly_canonical(p.worktree, ec);
        fs::path user = fs::weakly_canonical(p.user_git_dir, ec);
        if (wt == wt.root_path() || user.string() == wt.string() || user.string().starts_with(wt.string() + "/"))
            return make_error(fmt::format("refusing to delete {}: it is (or contains) the repository {} itself, not a "
                                          "session worktree",
                                          p.worktree.string(), p.user_git_dir.string()));
        fs::remove_all(p.worktree, ec);
        if (ec)
            return make_error(fmt::format("could not delete the worktree directory {}: {}; files created in the "
                                          "container may belong to another user: remove it by hand (e.g. with sudo) "
                                          "and run the delete again",
                                          p.worktree.string(), ec.message()));
    }
    fs::remove_all(p.git_dir, ec);
    if (ec) return make_error(fmt::format("could not delete {}: {}", p.git_dir.string(), ec.message()));
    // An older airlock's linked worktree of this name.
    const fs::path linked = p.user_git_dir / "worktrees" / p.name;
    if (fs::exists(linked / "gitdir", ec)) {
        std::ifstream in(linked / "gitdir");
        std::string back;
        std::getline(in, back);
        if (back.rfind(p.worktree.string(), 0) == 0) fs::remove_all(linked, ec);
    }
    if (!fs::exists(p.user_git_dir, ec)) return {};
    auto user = open_user_repo(p.user_git_dir);
    if (!user) return user.error();
    delete_user_ref(user->get(), base_keep_ref(p.name));
    delete_user_ref(user->get(), tip_keep_ref(p.name));
    return {};
}

Result<bool> session_has_uncommitted_changes(const SessionRepoPaths& p) {
    auto repo = open_session_repo(p);
    if (!repo) return repo.error();
    git_status_options opts;
    git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED;
    git_status_list* raw = nullptr;
    if (git_status_list_new(&raw, repo->get(), &opts) != 0)
        return make_error(fmt::format("could not read the status of {}: {}", p.worktree.string(), git_message()));
    StatusPtr list(raw);
    std::size_t n = git_status_list_entrycount(list.get());
    for (std::size_t i = 0; i < n; ++i) {
        const git_status_entry* e = git_status_byindex(list.get(), i);
        // The .git file airlock wrote is no work of the agent's.
        const git_diff_delta* d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
        if (d && d->new_file.path && std::string_view(d->new_file.path) == ".git") continue;
        return true;
    }
    return false;
}

Result<SyncResult> sync_session_branch(const SessionRepoPaths& p, bool force) {
    ensure_libgit2();
    const std::string ref = "refs/heads/" + p.branch;
    auto session_tip = read_session_tip(p);
    if (!session_tip) return session_tip.error();
    auto user = open_user_repo(p.user_git_dir);
    if (!user) return user.error();
    git_repository* u = user->get();
    auto user_tip = user_ref(u, ref);
    if (!user_tip) return user_tip.error();

    SyncFacts facts;
    facts.session_tip = *session_tip;
    facts.user_tip = *user_tip;
    facts.force = force;
    if (!facts.user_tip.empty()) {
        git_reference* raw = nullptr;
        if (git_reference_lookup(&raw, u, ref.c_str()) == 0) {
            RefPtr r(raw);
            facts.checked_out = git_branch_is_checked_out(r.get()) == 1;
        }
    }
    SyncResult out{SyncAction::up_to_date, facts.user_tip, facts.session_tip};
    if (facts.session_tip.empty() || facts.session_tip == facts.user_tip) {
        out.action = plan_sync(facts);
        return out;
    }

    auto view = open_view(p);
    if (!view) return view.error();
    git_repository* v = view->repo.get();
    auto tip = lookup_commit(v, facts.session_tip, fmt::format("the session's branch {} names", p.branch));
    if (!tip) return tip.error();
    git_oid tip_id = *git_commit_id(tip->get());
    // The objects the user's repository lacks: from the tip down to the first commits it has,
    // each new commit with the parts of its tree the user's repository does not have (a tree
    // it has is complete there). Every new commit's parents must exist in one of the two: a
    // commit whose history is incomplete never reaches the user's repository. (A walk of our
    // own rather than libgit2's revwalk, which in 1.5 knows no shallow clones.)
    git_odb* user_odb = nullptr;
    if (git_repository_odb(&user_odb, u) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
    OdbPtr uodb(user_odb);
    git_odb* view_odb = nullptr;
    if (git_repository_odb(&view_odb, v) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
    OdbPtr vodb(view_odb);
    git_packbuilder* pb_raw = nullptr;
    if (git_packbuilder_new(&pb_raw, v) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
    PackPtr pb(pb_raw);
    git_packbuilder_set_threads(pb.get(), 1);
    std::set<std::string> seen;
    auto fresh = [&](const git_oid& id) {  // not in the user's repository, not taken yet
        return !git_odb_exists(uodb.get(), &id) && seen.insert(oid_hex(id)).second;
    };
    auto damaged = [&](const std::string& what) {
        return make_error(fmt::format("cannot collect the objects of the session's branch {} (the session's repository "
                                      "may be damaged): {}",
                                      p.branch, what));
    };
    std::function<Status(const git_oid&)> add_tree = [&](const git_oid& tree_id) -> Status {
        if (!fresh(tree_id)) return {};
        git_tree* raw = nullptr;
        if (git_tree_lookup(&raw, v, &tree_id) != 0 || git_packbuilder_insert(pb.get(), &tree_id, nullptr) != 0) {
            git_tree_free(raw);
            return damaged(git_message());
        }
        TreePtr tree(raw);
        for (std::size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
            const git_tree_entry* e = git_tree_entry_byindex(tree.get(), i);
            const git_oid* id = git_tree_entry_id(e);
            switch (git_tree_entry_type(e)) {
                case GIT_OBJECT_TREE:
                    if (auto st = add_tree(*id); !st) return st;
                    break;
                case GIT_OBJECT_BLOB:
                    if (fresh(*id) && (!git_odb_exists(vodb.get(), id) || git_packbuilder_insert(pb.get(), id, nullptr) != 0))
                        return damaged(fmt::format("blob {} is missing", oid_hex(*id)));
                    break;
                default:  // a submodule's commit lives in the submodule
                    break;
            }
        }
        return {};
    };
    std::vector<git_oid> pending = {tip_id};
    while (!pending.empty()) {
        git_oid id = pending.back();
        pending.pop_back();
        if (!fresh(id)) continue;
        git_commit* raw = nullptr;
        if (git_commit_lookup(&raw, v, &id) != 0 || git_packbuilder_insert(pb.get(), &id, nullptr) != 0) {
            git_commit_free(raw);
            return damaged(git_message());
        }
        CommitPtr c(raw);
        if (auto st = add_tree(*git_commit_tree_id(c.get())); !st) return st.error();
        for (unsigned i = 0; i < git_commit_parentcount(c.get()); ++i) {
            const git_oid* parent = git_commit_parent_id(c.get(), i);
            if (!git_odb_exists(vodb.get(), parent))
                return make_error(fmt::format("the session's commit {} names a parent {} that neither repository has; "
                                              "its branch cannot be brought across",
                                              oid_hex(id), oid_hex(*parent)));
            pending.push_back(*parent);
        }
    }
    git_error_clear();

    // Only now (every new commit's history is complete) whether the user's tip is an ancestor.
    git_oid user_id{};
    if (!facts.user_tip.empty() && parse_oid(user_id, facts.user_tip)) {
        // libgit2 1.5 does not know shallow clones: its walk fails at a missing parent.
        const bool shallow = fs::exists(p.user_git_dir / "shallow");
        int rc = shallow ? -1 : git_graph_descendant_of(v, &tip_id, &user_id);
        facts.user_tip_is_ancestor = rc == 1 || (rc < 0 && reaches(v, tip_id, user_id));
    }
    out.action = plan_sync(facts);
    if (!moves_branch(out.action)) return out;

    if (git_packbuilder_object_count(pb.get()) > 0) {
        git_odb_writepack* wp = nullptr;
        if (git_odb_write_pack(&wp, uodb.get(), nullptr, nullptr) != 0)
            return make_error(fmt::format("cannot write into {}: {}", p.user_git_dir.string(), git_message()));
        struct Feed {
            git_odb_writepack* wp;
            git_indexer_progress stats{};
        } feed{wp, {}};
        int rc = git_packbuilder_foreach(
            pb.get(),
            [](void* buf, size_t size, void* payload) -> int {
                auto* f = static_cast<Feed*>(payload);
                return f->wp->append(f->wp, buf, size, &f->stats);
            },
            &feed);
        if (rc == 0) rc = wp->commit(wp, &feed.stats);
        std::string why = rc == 0 ? "" : git_message();
        wp->free(wp);
        if (rc != 0)
            return make_error(fmt::format("cannot copy the session's commits into {}: {}", p.user_git_dir.string(), why));
    }
    git_odb_refresh(uodb.get());
    if (!git_odb_exists(uodb.get(), &tip_id))
        return make_error(fmt::format("the session's commit {} did not reach {}", facts.session_tip,
                                      p.user_git_dir.string()));

    const std::string msg = fmt::format("airlock sync: {}", to_string(out.action));
    git_reference* raw = nullptr;
    int rc = facts.user_tip.empty()
                 ? git_reference_create(&raw, u, ref.c_str(), &tip_id, 0, msg.c_str())
                 : git_reference_create_matching(&raw, u, ref.c_str(), &tip_id, 1, &user_id, msg.c_str());
    git_reference_free(raw);
    if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS)
        return make_error(fmt::format("{} changed in {} while airlock brought the session's commits; run 'airlock sync "
                                      "{}' again",
                                      p.branch, p.user_git_dir.string(), p.name));
    if (rc != 0)
        return make_error(fmt::format("could not move {} in {}: {}", p.branch, p.user_git_dir.string(), git_message()));
    raw = nullptr;
    if (git_reference_create(&raw, u, tip_keep_ref(p.name).c_str(), &tip_id, 1, "airlock: session tip") == 0)
        git_reference_free(raw);
    return out;
}

Result<BranchLog> session_log(const SessionRepoPaths& p, std::string_view base_commit, std::size_t limit) {
    BranchLog log;
    auto tip = read_session_tip(p);
    if (!tip) return tip.error();
    log.tip = *tip;
    if (tip->empty()) return log;
    auto view = open_view(p);
    if (!view) return view.error();
    git_repository* v = view->repo.get();
    auto head = lookup_commit(v, *tip, fmt::format("the session's branch {} names", p.branch));
    if (!head) return head.error();
    auto add = [&](const git_oid& id) -> bool {
        ++log.total;
        if (log.commits.size() >= limit) return true;
        git_commit* c_raw = nullptr;
        if (git_commit_lookup(&c_raw, v, &id) != 0) return false;
        CommitPtr c(c_raw);
        const git_signature* a = git_commit_author(c.get());
        const char* summary = git_commit_summary(c.get());
        log.commits.push_back({oid_hex(id), summary ? summary : "",
                               a ? fmt::format("{} <{}>", a->name ? a->name : "", a->email ? a->email : "") : "",
                               a ? static_cast<std::int64_t>(a->when.time) : 0});
        return true;
    };
    git_oid base{};
    const bool has_base = parse_oid(base, base_commit);
    if (!fs::exists(p.user_git_dir / "shallow")) {
        git_revwalk* raw = nullptr;
        if (git_revwalk_new(&raw, v) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
        WalkPtr walk(raw);
        git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
        if (git_revwalk_push(walk.get(), git_commit_id(head->get())) != 0)
            return make_error(fmt::format("cannot walk the session's branch: {}", git_message()));
        if (has_base) (void)git_revwalk_hide(walk.get(), &base);
        git_error_clear();
        git_oid id{};
        int rc = 0;
        while ((rc = git_revwalk_next(&id, walk.get())) == 0)
            if (!add(id)) break;
        if (rc == GIT_ITEROVER || rc == 0) return log;
    }
    // The walk met a missing parent (a shallow repository: libgit2 1.5 does not know shallow
    // clones). Newest first by commit time, down to the base or the shallow boundary.
    log = BranchLog{*tip, {}, 0};
    std::vector<std::pair<std::int64_t, git_oid>> found;
    std::vector<git_oid> pending = {*git_commit_id(head->get())};
    std::set<std::string> seen;
    while (!pending.empty() && found.size() < 100000) {
        git_oid id = pending.back();
        pending.pop_back();
        if ((has_base && git_oid_equal(&id, &base)) || !seen.insert(oid_hex(id)).second) continue;
        git_commit* raw = nullptr;
        if (git_commit_lookup(&raw, v, &id) != 0) continue;
        CommitPtr c(raw);
        found.emplace_back(git_commit_time(c.get()), id);
        for (unsigned i = 0; i < git_commit_parentcount(c.get()); ++i) pending.push_back(*git_commit_parent_id(c.get(), i));
    }
    git_error_clear();
    std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [when, id] : found)
        if (!add(id)) break;
    return log;
}

Result<std::string> session_diff(const SessionRepoPaths& p, std::string_view base_commit, bool worktree) {
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    git_diff* diff_raw = nullptr;
    RepoPtr holder;
    if (worktree) {
        auto repo = open_session_repo(p);
        if (!repo) return repo.error();
        holder = std::move(*repo);
        auto base = lookup_commit(holder.get(), base_commit, "the session's base");
        if (!base) return base.error();
        git_tree* tree = nullptr;
        if (git_commit_tree(&tree, base->get()) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
        TreePtr t(tree);
        opts.flags |= GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_SHOW_UNTRACKED_CONTENT | GIT_DIFF_RECURSE_UNTRACKED_DIRS;
        if (git_diff_tree_to_workdir_with_index(&diff_raw, holder.get(), t.get(), &opts) != 0)
            return make_error(fmt::format("cannot compare {} with its base: {}", p.worktree.string(), git_message()));
    } else {
        auto tip = read_session_tip(p);
        if (!tip) return tip.error();
        if (tip->empty()) return make_error(fmt::format("the session's repository has no branch {}", p.branch));
        auto view = open_view(p);
        if (!view) return view.error();
        holder = std::move(view->repo);
        auto base = lookup_commit(holder.get(), base_commit, "the session's base");
        if (!base) return base.error();
        auto head = lookup_commit(holder.get(), *tip, fmt::format("the session's branch {} names", p.branch));
        if (!head) return head.error();
        git_tree *a = nullptr, *b = nullptr;
        if (git_commit_tree(&a, base->get()) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
        TreePtr ta(a);
        if (git_commit_tree(&b, head->get()) != 0) return make_error(fmt::format("libgit2: {}", git_message()));
        TreePtr tb(b);
        if (git_diff_tree_to_tree(&diff_raw, holder.get(), ta.get(), tb.get(), &opts) != 0)
            return make_error(fmt::format("cannot compare {} with its base: {}", p.branch, git_message()));
    }
    DiffPtr diff(diff_raw);
    std::string patch;
    int rc = git_diff_print(
        diff.get(), GIT_DIFF_FORMAT_PATCH,
        [](const git_diff_delta* delta, const git_diff_hunk*, const git_diff_line* line, void* payload) -> int {
            auto* out = static_cast<std::string*>(payload);
            // The work tree's .git file is airlock's, not the agent's work.
            if (delta && delta->new_file.path && std::string_view(delta->new_file.path) == ".git") return 0;
            if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
                line->origin == GIT_DIFF_LINE_DELETION)
                out->push_back(line->origin);
            out->append(line->content, line->content_len);
            return 0;
        },
        &patch);
    if (rc != 0) return make_error(fmt::format("cannot print the diff: {}", git_message()));
    return patch;
}

}  // namespace airlock::session
