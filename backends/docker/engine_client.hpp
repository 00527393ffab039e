#pragma once
// EngineClient: HTTP/1.1 to the Docker Engine API (or Podman's compatible one) over a unix
// socket, TCP, or TCP + TLS. Beast and Asio stay inside engine_client.cpp.
//
// Synchronous: each call runs its own exchange to completion on a private io_context, over a
// fresh connection (the engine is local and the CLI is sequential). Not thread-safe; use one
// client per thread.
//
// Errors: a Result error means the exchange itself failed (engine unreachable, timeout,
// broken connection, TLS); its message names the endpoint and what to do. Any HTTP status,
// 4xx/5xx included, is a response: the caller knows what a 404 means for its request.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::docker {

// Where the engine listens (see endpoint_from_env in docker_backend.hpp).
struct EngineEndpoint {
    enum Kind { unix_socket, tcp };
    Kind kind = unix_socket;
    std::string path = "/var/run/docker.sock";  // unix_socket
    std::string host;                           // tcp: name or address (IPv6 without brackets)
    std::uint16_t port = 0;                     // tcp
    bool tls = false;                           // tcp: DOCKER_TLS_VERIFY=1
    std::string cert_path;                      // tls: directory with ca.pem, cert.pem, key.pem

    // "unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", for messages.
    std::string display() const;

    bool operator==(const EngineEndpoint&) const = default;
};

struct EngineRequest {
    std::string method = "GET";  // GET | POST | DELETE | PUT | HEAD
    std::string target;          // "/containers/json?all=1" (the client adds "/v1.41")
    std::string body;            // JSON; empty = no body
    std::map<std::string, std::string> headers;  // extra headers, e.g. X-Registry-Auth
    // Longest wait for the engine between two reads (or for the connect); nullopt waits
    // forever (logs --follow, wait, pull).
    std::optional<std::chrono::seconds> idle_timeout = std::chrono::seconds(120);
};

struct EngineResponse {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;  // the whole body; for stream(): only when the status is not 2xx
};

struct HijackedConnection;

class EngineClient {
public:
    explicit EngineClient(EngineEndpoint endpoint);
    ~EngineClient();
    EngineClient(const EngineClient&) = delete;
    EngineClient& operator=(const EngineClient&) = delete;

    const EngineEndpoint& endpoint() const;

    // The API version used ("1.41", or "1.40" for an older engine), negotiated once with
    // GET /_ping (Api-Version header; GET /version as a fallback). Error for engines older
    // than 1.40.
    Result<std::string> api_version();

    // One request/response; the body is read whole.
    Result<EngineResponse> request(const EngineRequest& request);

    // One request whose 2xx body is handed to `on_body` piece by piece as it arrives
    // (chunked pull progress, logs); `on_body` returns false to stop early (the connection
    // is closed). Exceptions from `on_body` propagate.
    Result<EngineResponse> stream(const EngineRequest& request,
                                  const std::function<bool(std::string_view piece)>& on_body);

    // POST /containers/{id}/attach?stream=1&stdin=..&stdout=1&stderr=1&detachKeys=.. with
    // "Connection: Upgrade", "Upgrade: tcp"; see HijackedConnection (end of this file). An
    // error when the exchange fails, and for TLS endpoints (not supported yet).
    // `detach_keys` empty: the engine's default (ctrl-p,ctrl-q).
    Result<HijackedConnection> attach(const std::string& container_id, bool stdin_, std::string detach_keys);
    // POST /containers/{id}/resize?h=rows&w=cols; any status but 200 is an error with the
    // engine's message.
    Status resize(const std::string& container_id, int rows, int cols);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The engine's error text: the "message" of a JSON error body, else the body itself, on
// one line ("" for an empty body).
std::string engine_message(std::string_view body);

// ---- attach: a connection handed over as a raw byte stream --------------------------------

// The answer to an attach request. When the engine upgraded the connection (101, or 200 from
// older engines) `fd` is the connected socket, blocking, owned by this object (closed by the
// destructor unless release()d) and `initial` the bytes already read past the response head:
// they come before anything read from `fd`. Otherwise `fd` is -1 and `body` the response body.
struct HijackedConnection {
    unsigned status = 0;
    std::string body;
    int fd = -1;
    std::string initial;

    HijackedConnection() = default;
    HijackedConnection(HijackedConnection&& other) noexcept;
    HijackedConnection& operator=(HijackedConnection&& other) noexcept;
    ~HijackedConnection();
    int release();  // hands over the descriptor (the caller closes it)
};

}  // namespace airlock::docker
