#pragma once
// What a session's container looks like: a pure function from the stored session and the
// host's settings to a ContainerSpec. create and refresh both use it, so a refreshed
// container is exactly the stored session again (with a fresh proxy token).

#include <cstdint>
#include <map>
#include <string_view>
#include <string>
#include <vector>

#include "airlock/settings.hpp"
#include "backends/backend.hpp"
#include "session/session.hpp"

namespace airlock::session {

// Host-side facts that are not part of the stored session.
// A file written into the session's home at create and refresh: a subscription login's
// placeholder (never a real token), for the sessions whose scope includes `credential`.
struct HomeFile {
    std::string credential;
    std::string path;  // relative to the agent's home, e.g. ".codex/auth.json"
    std::string content;
    unsigned mode = 0600;
};

struct HostSettings {
    std::string home;            // $AIRLOCK_HOME (label dev.airlock.home, informational)
    std::string home_id;         // this home's identity (label dev.airlock.home-id, in names)
    std::string ca_cert;         // host path of ca.pem
    std::string ca_bundle;       // host path of the system roots + ca.pem
    std::string hooks_dir;       // $AIRLOCK_HOME/hooks
    std::string prompt_file;     // host path of the prompt (prompt = "stdin"), else ""
    std::string session_git_dir; // host path of the session's own repository (session_repo.hpp)
    std::vector<std::string> object_dirs;  // the user's object directories it borrows (read-only)
    std::uint16_t proxy_port = 3030;
    // Confined sessions: the directory holding the proxy's Unix socket (mounted, not the
    // socket itself, so a restarted proxy's new socket shows up) and airlock-relay.
    std::string proxy_socket_dir;  // $AIRLOCK_HOME/run
    std::string relay_binary;      // "" = not found (confined sessions cannot be made)
    std::vector<CacheVolume> caches;
    std::vector<CredentialRule> credentials;  // for the placeholders
    std::vector<HomeFile> home_files;         // placeholder login files
    // The agent definitions of the configuration now ([agent.<name>] env and files): a
    // session gets its agent's env at create and refresh, so a changed definition applies
    // on the next refresh.
    std::map<std::string, AgentDefinition> agents;
    std::string user;            // "uid:gid"; "" = the image's user
    std::string git_author_name;
    std::string git_author_email;
};

inline constexpr const char* kSessionLabel = "dev.airlock.session";
inline constexpr const char* kHomeLabel = "dev.airlock.home";
// Which home an object belongs to: containers and volumes are found by it, and airlock
// never touches one that carries another home's id.
inline constexpr const char* kHomeIdLabel = "dev.airlock.home-id";
inline constexpr const char* kCacheLabel = "dev.airlock.cache";
inline constexpr const char* kWorkspace = "/workspace";
inline constexpr const char* kAgentHome = "/home/agent";
// Where a confined container finds the relay and the proxy's socket directory.
inline constexpr const char* kRelayPath = "/run/airlock/relay";
inline constexpr const char* kProxySocketDir = "/run/airlock/proxy";
inline constexpr const char* kProxySocketName = "proxy.sock";
// Where the container finds airlock's CA alone and merged with the host's roots.
inline constexpr const char* kCaPath = "/etc/airlock/ca.pem";
inline constexpr const char* kCaBundlePath = "/etc/airlock/ca-bundle.pem";

// The system trust stores of the common distributions. The merged bundle is mounted
// read-only over each, so a TLS client that reads its platform's default store trusts
// airlock's CA with no per-tool setting. A path the image lacks becomes an empty mount
// point the engine makes in the container's own layer (parent directories included);
// a path that is a symbolic link in the image is mounted where the link points.
inline constexpr const char* kSystemTrustPaths[] = {
    "/etc/ssl/certs/ca-certificates.crt",              // Debian, Ubuntu, Alpine, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",                // Fedora, RHEL, CentOS, Amazon Linux
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // Fedora/RHEL (what the above links to)
    "/etc/ssl/cert.pem",                               // Alpine, Arch, LibreSSL/BoringSSL defaults
    "/etc/ssl/ca-bundle.pem",                          // openSUSE, SLES
};

// Variables naming the merged bundle (a file with every root a client needs): OpenSSL
// and Go (SSL_CERT_FILE), Python requests, curl, git, pip, Codex (whose WebSocket
// client has ignored SSL_CERT_FILE in some versions).
inline constexpr const char* kCaBundleVariables[] = {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                                     "GIT_SSL_CAINFO", "PIP_CERT", "CODEX_CA_CERTIFICATE"};

// Names on the engine include the home's id, so two homes (two users on one engine) with a
// session of the same name never share a container or a volume.
std::string container_name(const std::string& home_id, const std::string& session);   // "airlock-<session>-<home id>"
std::string home_volume_name(const std::string& home_id, const std::string& session);  // "airlock-home-<session>-<home id>"
// Cache volumes are shared by every session of every home on the engine (by design: a
// package cache); see docs/security.md.
std::string cache_volume_name(const std::string& cache);  // "airlock-cache-<cache>"

// Does an engine object with these labels belong to the home `home_id`?
bool belongs_to_home(const std::map<std::string, std::string>& labels, const std::string& home_id);

// A home id: 10 characters of [a-z0-9] (see load_or_create_home_id in the CLI).
Status validate_home_id(std::string_view id);

// The proxy URL a session's container uses: 127.0.0.1 (the relay) when confined, else
// host.docker.internal.
std::string proxy_url(const std::string& session, const std::string& token, const std::string& network,
                      std::uint16_t port);

// The container for `s` with proxy token `token`. Confined: NetworkMode none, the relay and
// the socket directory mounted read-only, the command run by the relay (`airlock-relay exec`),
// no host.docker.internal. none: no proxy variables. Errors: a cpus/memory value that does
// not parse (validated earlier by create, so only a corrupt row gets here); a confined
// session without a relay binary.
Result<ContainerSpec> build_container_spec(const Session& s, const HostSettings& host, const std::string& token);

// The argv the container runs: the agent command plus the prompt as one argv element
// (prompt = arg), or reading the prompt file on stdin (prompt = stdin), or alone (none).
std::vector<std::string> agent_argv(const Session& s);

}  // namespace airlock::session
