#pragma once
// The container backend that session/ drives: create/start/stop/remove containers, read
// their logs, manage images and volumes. Plain data only (no Asio, no Beast, no JSON), so
// another engine (Kubernetes, Podman's own API) can sit behind the same seam, and tests can
// replace it with a fake.
//
// Every call is synchronous and may block on the engine; one Backend is used by one thread
// at a time. Errors are airlock::Error values with a one-line message a user can act on.

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/result.hpp"

namespace airlock {

struct Mount {
    enum Kind { bind, volume, tmpfs };
    std::string source;  // host path (bind), volume name (volume), unused (tmpfs)
    std::string target;  // path in the container
    bool read_only = false;
    Kind kind = bind;
};

struct ContainerSpec {
    std::string name;
    std::string image;
    std::vector<std::string> cmd;  // empty: the image's CMD
    std::vector<std::string> env;  // "KEY=value"
    std::map<std::string, std::string> labels;
    std::string working_dir;  // empty: the image's
    std::string user;         // empty: the image's
    std::vector<Mount> mounts;
    std::vector<std::string> extra_hosts;  // "host.docker.internal:host-gateway"
    std::string network;                   // empty: the engine's default (bridge)
    double cpus = 0;                       // 0 = no limit
    std::int64_t memory_bytes = 0;         // 0 = no limit
    std::int64_t pids_limit = 0;           // 0 = no limit
    bool read_only_rootfs = false;         // also mounts a tmpfs on /tmp unless a mount targets it
    bool tty = false;
    bool open_stdin = false;
    bool init = false;
    std::vector<std::string> cap_drop;      // "ALL"
    std::vector<std::string> security_opt;  // "no-new-privileges"
};

// A file for Backend::write_files: `path` relative to the directory it is written under.
struct FileEntry {
    std::string path;
    std::string content;
    unsigned mode = 0644;
};

struct ContainerState {
    std::string id;
    std::string name;      // without the leading '/'
    std::string image_id;  // "sha256:..."
    std::string status;    // created | running | paused | restarting | removing | exited | dead
    int exit_code = 0;     // meaningful once exited
    std::map<std::string, std::string> labels;
    std::string started_at;  // RFC 3339 as the engine reports it; "" if never started
};

struct VolumeInfo {
    std::string name;
    std::map<std::string, std::string> labels;
    std::int64_t size_bytes = -1;       // -1 = unknown
    std::vector<std::string> used_by;  // names of the containers that mount it
};

struct ImageInfo {
    std::string id;  // "sha256:..."
    std::vector<std::string> tags;
};

// A container's terminal as a byte stream (Backend::attach). `fd` is a connected, blocking
// stream socket owned by this object (closed by the destructor unless release()d): write
// the user's input to it, read the container's output from it, shutdown(SHUT_WR) at the end
// of input. `initial` holds output the backend had already read: it comes first.
// Without `tty` the output is multiplexed (8-byte frame headers, as logs of a container
// without a TTY: byte 0 = 1 stdout, 2 stderr; bytes 4-7 the big-endian payload length).
struct AttachedStream {
    int fd = -1;
    std::string initial;
    bool tty = true;
    std::string name;  // the container's name, without the leading '/'

    AttachedStream() = default;
    AttachedStream(AttachedStream&& o) noexcept
        : fd(std::exchange(o.fd, -1)), initial(std::move(o.initial)), tty(o.tty), name(std::move(o.name)) {}
    AttachedStream& operator=(AttachedStream&& o) noexcept {
        if (this != &o) {
            reset();
            fd = std::exchange(o.fd, -1);
            initial = std::move(o.initial);
            tty = o.tty;
            name = std::move(o.name);
        }
        return *this;
    }
    ~AttachedStream() { reset(); }
    int release() { return std::exchange(fd, -1); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

// Which stream of a container a piece of log output came from (TTY output is all stdout).
enum class OutputStream { stdout_stream, stderr_stream };

// Label filters: {"dev.airlock.session", ""} matches any value, {"k", "v"} only k=v; all must hold.
using LabelFilter = std::map<std::string, std::string>;

class Backend {
public:
    virtual ~Backend() = default;

    // The engine's version, e.g. "20.10.24+dfsg1". Also the cheapest "is it reachable" probe.
    virtual Result<std::string> version() = 0;

    // nullopt when the image is not present locally.
    virtual Result<std::optional<ImageInfo>> inspect_image(const std::string& ref) = 0;
    // Pulls `ref` (":latest" when no tag or digest is given); `progress` gets one
    // human-readable line per progress message ("<layer>: Downloading [==>  ] 1MB/9MB").
    virtual Status pull_image(const std::string& ref, std::function<void(const std::string& line)> progress) = 0;

    // Returns the new container's id. Errors: "image 'x' is not present", "container name 'x'
    // is already in use", or the engine's message.
    virtual Result<std::string> create_container(const ContainerSpec& spec) = 0;
    virtual Status start(const std::string& id) = 0;  // starting a running container is success
    // SIGTERM, then SIGKILL after `timeout_seconds`; stopping a stopped container is success.
    virtual Status stop(const std::string& id, int timeout_seconds) = 0;
    // Removing a container that does not exist is success. `force` kills a running one.
    virtual Status remove(const std::string& id, bool force) = 0;
    // By id or name; nullopt when there is no such container.
    virtual Result<std::optional<ContainerState>> inspect(const std::string& id_or_name) = 0;
    // All containers (running or not) carrying every label in `filter`. One engine request
    // where the engine's list has the fields: started_at may be left "" (use inspect()).
    virtual Result<std::vector<ContainerState>> list(const LabelFilter& filter) = 0;
    // Streams the container's output to `sink` as it arrives; with `follow`, until the
    // container stops or `sink` returns false.
    virtual Status logs(const std::string& id, bool follow,
                        std::function<bool(OutputStream stream, std::string_view data)> sink) = 0;
    // Blocks until the container is not running; returns its exit code.
    virtual Result<int> wait(const std::string& id) = 0;
    // Gives a container a new name (refresh swaps the new container in under the old name).
    virtual Status rename(const std::string& id, const std::string& new_name) = 0;

    // Creating a volume that exists is success (its labels are left as they are).
    virtual Status create_volume(const std::string& name, const std::map<std::string, std::string>& labels) = 0;
    // Volumes carrying every label in `filter`, with sizes and users.
    virtual Result<std::vector<VolumeInfo>> list_volumes(const LabelFilter& filter) = 0;
    // Removing a volume that does not exist is success; one in use is an error.
    virtual Status remove_volume(const std::string& name) = 0;

    // The volume `name` (labels; size -1, used_by empty), nullopt when there is none.
    // Not virtual-pure: a backend without it (a test fake) says so.
    virtual Result<std::optional<VolumeInfo>> inspect_volume(const std::string& name);

    // Makes each of `paths` (directories in container `id`, typically volume mount points)
    // owned by uid:gid with mode 0755, in a created or running container, without running
    // anything in it (so it works in images without a shell or chown).
    virtual Status set_owner(const std::string& id, const std::vector<std::string>& paths, std::uint32_t uid,
                             std::uint32_t gid);

    // Does `path` (absolute) exist in container `id`, created or running, volumes included?
    // A symbolic link counts as existing. Without running anything in the container.
    virtual Result<bool> path_exists(const std::string& id, const std::string& path);

    // Writes `files` under the directory `dir` (absolute; typically a volume mount point)
    // of container `id`, created or running, owned by uid:gid with each file's mode,
    // replacing what is at those paths. Each file's parent directories under `dir` are
    // made, or made owned by uid:gid with mode 0755 when present (a symbolic link there is
    // replaced by a directory, so nothing is written outside `dir`). One request, without
    // running anything in the container.
    virtual Status write_files(const std::string& id, const std::string& dir, const std::vector<FileEntry>& files,
                               std::uint32_t uid, std::uint32_t gid);

    // Gateway addresses of the engine's default `bridge` network (docker0), IPv4 first:
    // where a container reaches the host, so where the proxy must listen.
    virtual Result<std::vector<std::string>> bridge_gateways() = 0;

    // ---- The container's terminal (airlock attach) ----
    // Attaches stdin, stdout and stderr of a running container; detach keys ctrl-p ctrl-q
    // (the engine closes the stream when it reads them). Errors: no such container, not
    // running, paused, or an engine that cannot hand the connection over (TLS).
    // Not virtual-pure: backends without a terminal (and test fakes) need not provide it.
    virtual Result<AttachedStream> attach(const std::string& id);
    // Sets the container's TTY size (rows x columns).
    virtual Status resize_tty(const std::string& id, int rows, int cols);
};

inline Result<std::optional<VolumeInfo>> Backend::inspect_volume(const std::string& name) {
    return make_error("cannot inspect volume '" + name + "': this backend cannot");
}

inline Status Backend::set_owner(const std::string& id, const std::vector<std::string>&, std::uint32_t,
                                 std::uint32_t) {
    return make_error("cannot set the owner of volumes in container '" + id + "': this backend cannot");
}

inline Result<bool> Backend::path_exists(const std::string& id, const std::string& path) {
    return make_error("cannot look for '" + path + "' in container '" + id + "': this backend cannot");
}

inline Status Backend::write_files(const std::string& id, const std::string& dir, const std::vector<FileEntry>&,
                                   std::uint32_t, std::uint32_t) {
    return make_error("cannot write files under '" + dir + "' in container '" + id + "': this backend cannot");
}

inline Result<AttachedStream> Backend::attach(const std::string& id) {
    return make_error("cannot attach to container '" + id + "': this backend has no terminal attach");
}

inline Status Backend::resize_tty(const std::string& id, int, int) {
    return make_error("cannot resize the terminal of container '" + id + "': this backend has no terminal attach");
}

}  // namespace airlock
