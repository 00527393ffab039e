#pragma once
// The Backend interface over the Docker Engine API (Docker 19.03+ / API 1.40+, or Podman's
// compatible socket), plus where to find the engine (DOCKER_HOST) and the logs stream format.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/result.hpp"
#include "backends/backend.hpp"
#include "backends/docker/engine_client.hpp"

namespace airlock::docker {

// DOCKER_HOST as the docker CLI reads it: "" = unix:///var/run/docker.sock,
// "unix:///path", "tcp://host[:port]" (2375, or 2376 with TLS), "tcp://[::1]:2375".
// With `tls_verify` a tcp:// endpoint uses TLS with <cert_path>/{ca,cert,key}.pem.
Result<EngineEndpoint> parse_docker_host(std::string_view docker_host, bool tls_verify = false,
                                         std::string_view cert_path = {});

// From the environment: DOCKER_HOST, DOCKER_TLS_VERIFY (any non-empty value),
// DOCKER_CERT_PATH (default ~/.docker).
Result<EngineEndpoint> endpoint_from_env();

// A Backend over one EngineClient. Nothing is contacted until the first call.
std::unique_ptr<Backend> make_docker_backend(const EngineEndpoint& endpoint);

// The exit code in the "Status" text of a /containers/json entry: "Exited (3) 2 seconds ago"
// -> 3 (also "Restarting (N) ..."); nullopt for any other text ("Up 5 minutes", "Created").
std::optional<int> exit_code_from_status(std::string_view status);

// A tar archive of one directory entry "<name>/" owned by uid:gid with `mode` and `mtime`:
// extracted by the engine into the parent of a directory (PUT /containers/{id}/archive), it
// sets that directory's owner and mode and adds nothing. (An entry "./" extracted at the
// directory itself is ignored by the engine.) `name` must be shorter than 99 bytes.
std::string directory_owner_tar(std::string_view name, std::uint32_t uid, std::uint32_t gid, unsigned mode,
                                std::int64_t mtime);

// The same for several directories in one archive ("home/agent", "home/agent/.npm", ...,
// relative to where it is extracted; parents before children). Names must be shorter than
// 99 bytes.
std::string directories_owner_tar(const std::vector<std::string>& names, std::uint32_t uid, std::uint32_t gid,
                                  unsigned mode, std::int64_t mtime);

// A tar archive of `files` (paths relative to where it is extracted) owned by uid:gid with
// their modes, each file's parent directories first (mode 0755, same owner, each once,
// parents before children). Errors: a path that is empty, absolute, or has a "." or ".."
// or empty part.
Result<std::string> files_owner_tar(const std::vector<FileEntry>& files, std::uint32_t uid, std::uint32_t gid,
                                    std::uint64_t mtime);

// The stream format of logs/attach for a container without a TTY: frames of an 8-byte header
// (stream: 0 stdin, 1 stdout, 2 stderr, 3 engine error; three zero bytes; big-endian payload
// length) and the payload. Bytes may be fed in pieces of any size; payload is handed on as it
// arrives, so one frame may reach the sink in several pieces.
class LogDemuxer {
public:
    using Sink = std::function<bool(OutputStream stream, std::string_view data)>;

    // False when the sink returned false or the bytes are not this format (then malformed()).
    bool feed(std::string_view bytes, const Sink& sink);
    bool malformed() const { return malformed_; }
    // True between frames: a stream that ends otherwise was cut short.
    bool at_frame_boundary() const { return header_.empty() && remaining_ == 0; }

private:
    std::string header_;         // the part of a header received so far
    std::size_t remaining_ = 0;  // payload bytes still to come in the current frame
    OutputStream current_ = OutputStream::stdout_stream;
    bool malformed_ = false;
};

}  // namespace airlock::docker
