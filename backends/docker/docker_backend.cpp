#include "backends/docker/docker_backend.hpp"

#include <arpa/inet.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include "backends/docker/container_spec.hpp"
#include "backends/docker/tar_writer.hpp"

namespace airlock::docker {

namespace json = boost::json;
using namespace std::chrono_literals;

// ---- DOCKER_HOST ------------------------------------------------------------------

Result<EngineEndpoint> parse_docker_host(std::string_view docker_host, bool tls_verify, std::string_view cert_path) {
    EngineEndpoint ep;
    if (docker_host.empty()) return ep;
    const auto bad = [&](std::string_view why) {
        return make_error(fmt::format("DOCKER_HOST '{}': {}; use unix:///path/to/docker.sock or tcp://host:port",
                                      docker_host, why));
    };
    if (docker_host.starts_with("unix://")) {
        std::string_view path = docker_host.substr(7);
        if (path.empty() || path.front() != '/') return bad("expected an absolute socket path after unix://");
        ep.path = std::string(path);
        return ep;
    }
    if (!docker_host.starts_with("tcp://")) {
        auto scheme = docker_host.substr(0, docker_host.find("://"));
        return bad(scheme.size() == docker_host.size() ? std::string_view("no scheme")
                                                       : std::string_view("unsupported scheme"));
    }
    std::string_view rest = docker_host.substr(6);
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        if (rest.substr(slash) != "/") return bad("a path after host:port is not supported");
        rest = rest.substr(0, slash);
    }
    std::string_view host = rest, port;
    if (rest.starts_with("[")) {
        auto close = rest.find(']');
        if (close == std::string_view::npos) return bad("unterminated '[' in the IPv6 address");
        host = rest.substr(1, close - 1);
        std::string_view after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("expected ':port' after the IPv6 address");
            port = after.substr(1);
        }
    } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    if (host.empty()) return bad("no host");
    ep.kind = EngineEndpoint::tcp;
    ep.host = std::string(host);
    ep.tls = tls_verify;
    ep.port = tls_verify ? 2376 : 2375;
    if (!port.empty()) {
        unsigned long value = 0;
        for (char c : port) {
            if (c < '0' || c > '9' || value > 65535) return bad("the port is not a number from 1 to 65535");
            value = value * 10 + static_cast<unsigned long>(c - '0');
        }
        if (value == 0 || value > 65535) return bad("the port is not a number from 1 to 65535");
        ep.port = static_cast<std::uint16_t>(value);
    }
    if (tls_verify) ep.cert_path = std::string(cert_path);
    return ep;
}

Result<EngineEndpoint> endpoint_from_env() {
    const char* host = std::getenv("DOCKER_HOST");
    const char* verify = std::getenv("DOCKER_TLS_VERIFY");
    const char* certs = std::getenv("DOCKER_CERT_PATH");
    std::string cert_path;
    if (certs && *certs) cert_path = certs;
    else if (const char* home = std::getenv("HOME")) cert_path = std::string(home) + "/.docker";
    return parse_docker_host(host ? host : "", verify && *verify, cert_path);
}

// ---- The logs stream format --------------------------------------------------------

bool LogDemuxer::feed(std::string_view bytes, const Sink& sink) {
    if (malformed_) return false;
    while (!bytes.empty()) {
        if (remaining_ == 0) {
            auto take = std::min(bytes.size(), 8 - header_.size());
            header_.append(bytes.substr(0, take));
            bytes.remove_prefix(take);
            if (header_.size() < 8) return true;
            const auto* h = reinterpret_cast<const unsigned char*>(header_.data());
            if (h[0] > 3 || h[1] != 0 || h[2] != 0 || h[3] != 0) {
                malformed_ = true;
                return false;
            }
            current_ = (h[0] == 2 || h[0] == 3) ? OutputStream::stderr_stream : OutputStream::stdout_stream;
            remaining_ = (std::size_t{h[4]} << 24) | (std::size_t{h[5]} << 16) | (std::size_t{h[6]} << 8) | h[7];
            header_.clear();
            continue;
        }
        auto take = std::min(bytes.size(), remaining_);
        remaining_ -= take;
        if (!sink(current_, bytes.substr(0, take))) return false;
        bytes.remove_prefix(take);
    }
    return true;
}

// ---- The container list's Status text ----------------------------------------------

std::optional<int> exit_code_from_status(std::string_view status) {
    for (std::string_view prefix : {"Exited (", "Restarting ("}) {
        if (!status.starts_with(prefix)) continue;
        std::string_view rest = status.substr(prefix.size());
        bool negative = rest.starts_with("-");
        if (negative) rest.remove_prefix(1);
        std::int64_t value = 0;
        std::size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && digits < 10)
            value = value * 10 + (rest[digits++] - '0');
        if (digits == 0 || digits >= rest.size() || rest[digits] != ')') return std::nullopt;
        if (negative) value = -value;
        if (value < INT32_MIN || value > INT32_MAX) return std::nullopt;
        return static_cast<int>(value);
    }
    return std::nullopt;
}

// ---- A tar of one directory entry ---------------------------------------------------

namespace {

std::string directory_header(std::string_view name, std::uint32_t uid, std::uint32_t gid, unsigned mode,
                             std::int64_t mtime) {
    std::string header(512, '\0');
    auto field = [&](std::size_t at, std::size_t width, std::string_view text) {
        header.replace(at, text.size(), text);
        (void)width;
    };
    auto octal = [&](std::size_t at, std::size_t width, std::uint64_t value) {
        field(at, width, fmt::format("{:0{}o}", value, width - 1));  // digits, then the NUL already there
    };
    field(0, 100, std::string(name) + "/");
    octal(100, 8, mode & 07777);
    octal(108, 8, uid);
    octal(116, 8, gid);
    octal(124, 12, 0);  // size
    octal(136, 12, static_cast<std::uint64_t>(mtime < 0 ? 0 : mtime));
    header[156] = '5';  // directory
    field(257, 6, std::string_view("ustar\0", 6));
    field(263, 2, "00");
    header.replace(148, 8, 8, ' ');
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    field(148, 8, fmt::format("{:06o}", sum));
    header[154] = '\0';
    header[155] = ' ';
    return header;
}

}  // namespace

std::string directory_owner_tar(std::string_view name, std::uint32_t uid, std::uint32_t gid, unsigned mode,
                                std::int64_t mtime) {
    return directories_owner_tar({std::string(name)}, uid, gid, mode, mtime);
}

std::string directories_owner_tar(const std::vector<std::string>& names, std::uint32_t uid, std::uint32_t gid,
                                  unsigned mode, std::int64_t mtime) {
    std::string out;
    for (const auto& name : names) out += directory_header(name, uid, gid, mode, mtime);
    return out + std::string(1024, '\0');  // two zero blocks end the archive
}

Result<std::string> files_owner_tar(const std::vector<FileEntry>& files, std::uint32_t uid, std::uint32_t gid,
                                    std::uint64_t mtime) {
    std::vector<std::string> dirs;
    for (const auto& f : files) {
        if (f.path.empty() || f.path.front() == '/')
            return make_error(fmt::format("cannot write '{}': expected a relative path", f.path));
        for (std::size_t start = 0;;) {
            auto slash = f.path.find('/', start);
            auto part = std::string_view(f.path).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
            if (part.empty() || part == "." || part == "..")
                return make_error(fmt::format("cannot write '{}': a path part is empty, '.' or '..'", f.path));
            if (slash == std::string::npos) break;
            auto dir = f.path.substr(0, slash);
            if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
            start = slash + 1;
        }
    }
    std::stable_sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
        return std::count(a.begin(), a.end(), '/') < std::count(b.begin(), b.end(), '/');
    });
    std::string out;
    TarWriter tar([&out](std::string_view bytes) { out.append(bytes); });
    tar.set_owner(uid, gid);
    tar.set_mtime(mtime);
    for (const auto& d : dirs)
        if (auto st = tar.add_directory(d, 0755); !st) return st.error();
    for (const auto& f : files)
        if (auto st = tar.add_file(f.path, f.content, f.mode); !st) return st.error();
    tar.finish();
    return out;
}

// ---- The backend -------------------------------------------------------------------

namespace {

// Percent-encodes everything but unreserved characters (and, in paths, '/', ':' and '@',
// which image references contain).
std::string encode(std::string_view s, bool path = false) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (path && (c == '/' || c == ':' || c == '@')))
            out += static_cast<char>(c);
        else
            out += fmt::format("%{:02X}", c);
    }
    return out;
}

std::string label_filters(const LabelFilter& filter) {
    json::array labels;
    for (const auto& [k, v] : filter) labels.emplace_back(v.empty() ? k : k + "=" + v);
    return encode(json::serialize(json::object{{"label", std::move(labels)}}));
}

const json::value* member(const json::value& v, std::string_view key) {
    if (!v.is_object()) return nullptr;
    return v.as_object().if_contains(key);
}

std::string str(const json::value* v) { return v && v->is_string() ? std::string(v->as_string()) : std::string(); }

std::int64_t num(const json::value* v, std::int64_t fallback) {
    if (!v) return fallback;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    return fallback;
}

std::map<std::string, std::string> string_map(const json::value* v) {
    std::map<std::string, std::string> out;
    if (v && v->is_object())
        for (const auto& [k, val] : v->as_object())
            if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
    return out;
}

// The first address of "a.b.c.d/n" (the gateway docker0 gets by default).
std::string first_address(const std::string& subnet) {
    auto slash = subnet.find('/');
    std::string base = subnet.substr(0, slash);
    unsigned char bytes[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, base.c_str(), bytes) == 1) {
        bytes[3] = static_cast<unsigned char>(bytes[3] + 1);
        return inet_ntop(AF_INET, bytes, text, sizeof text) ? text : "";
    }
    if (inet_pton(AF_INET6, base.c_str(), bytes) == 1) {
        bytes[15] = static_cast<unsigned char>(bytes[15] + 1);
        return inet_ntop(AF_INET6, bytes, text, sizeof text) ? text : "";
    }
    return "";
}

// A container's name in a /containers/json entry: the one of "Names" without a second '/'
// (legacy links add "/other/alias" entries), without the leading '/'.
std::string primary_name(const json::value* names) {
    if (!names || !names->is_array()) return {};
    std::string first;
    for (const auto& n : names->as_array()) {
        std::string name = str(&n);
        if (name.starts_with("/")) name.erase(0, 1);
        if (first.empty()) first = name;
        if (!name.empty() && name.find('/') == std::string::npos) return name;
    }
    return first;
}

// "name:tag" / "name@digest" / "name" -> (name, tag or digest); "latest" when none.
std::pair<std::string, std::string> split_reference(const std::string& ref) {
    if (auto at = ref.find('@'); at != std::string::npos) return {ref.substr(0, at), ref.substr(at + 1)};
    auto slash = ref.rfind('/');
    auto colon = ref.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
        return {ref.substr(0, colon), ref.substr(colon + 1)};
    return {ref, "latest"};
}

class DockerBackend final : public Backend {
public:
    explicit DockerBackend(EngineEndpoint endpoint) : client_(std::move(endpoint)) {}

    Result<std::string> version() override {
        auto doc = get_json("/version", "read the engine version");
        if (!doc) return doc.error();
        return str(member(*doc, "Version"));
    }

    Result<std::optional<ImageInfo>> inspect_image(const std::string& ref) override {
        auto r = call("GET", "/images/" + encode(ref, true) + "/json");
        if (!r) return r.error();
        if (r->status == 404) return std::optional<ImageInfo>{};
        if (r->status != 200) return failure(fmt::format("cannot inspect image '{}'", ref), *r);
        auto doc = parse(r->body, "image " + ref);
        if (!doc) return doc.error();
        ImageInfo info;
        info.id = str(member(*doc, "Id"));
        if (const auto* tags = member(*doc, "RepoTags"); tags && tags->is_array())
            for (const auto& t : tags->as_array())
                if (t.is_string()) info.tags.emplace_back(t.as_string());
        return std::optional<ImageInfo>(std::move(info));
    }

    Status pull_image(const std::string& ref, std::function<void(const std::string&)> progress) override {
        auto [name, tag] = split_reference(ref);
        EngineRequest req;
        req.method = "POST";
        req.target = "/images/create?fromImage=" + encode(name) + "&tag=" + encode(tag);
        req.idle_timeout = 15min;  // progress lines come every few seconds; extraction can be quiet
        std::string pending, failed;
        auto on_line = [&](std::string_view line) {
            if (line.find_first_not_of(" \r\t") == std::string_view::npos) return;
            boost::system::error_code ec;
            json::value v = json::parse(line, ec);
            if (ec) return;
            if (const auto* e = member(v, "error")) {
                failed = engine_message(json::serialize(json::object{{"message", str(e)}}));
                if (const auto* d = member(v, "errorDetail"); d && member(*d, "message"))
                    failed = engine_message(json::serialize(json::object{{"message", str(member(*d, "message"))}}));
                return;
            }
            std::string text;
            if (auto id = str(member(v, "id")); !id.empty()) text = id + ": ";
            text += str(member(v, "status"));
            if (auto bar = str(member(v, "progress")); !bar.empty()) text += " " + bar;
            if (progress) progress(text);
        };
        auto on_body = [&](std::string_view piece) {
            pending.append(piece);
            for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
                on_line(std::string_view(pending).substr(0, nl));
                pending.erase(0, nl + 1);
            }
            return true;
        };
        auto r = client_.stream(req, on_body);
        if (!r) return r.error();
        if (r->status / 100 != 2) return failure(fmt::format("cannot pull image '{}'", ref), *r);
        on_line(pending);
        if (!failed.empty()) return make_error(fmt::format("cannot pull image '{}': {}", ref, failed));
        return {};
    }

    Result<std::string> create_container(const ContainerSpec& spec) override {
        auto body = json::serialize(to_create_request(spec));
        auto r = call("POST", "/containers/create?name=" + encode(spec.name), body);
        if (!r) return r.error();
        if (r->status == 409)
            return make_error(fmt::format("container name '{}' is already in use; remove that container or choose "
                                          "another name",
                                          spec.name));
        if (r->status == 404 && engine_message(r->body).find("No such image") != std::string::npos)
            return make_error(fmt::format("image '{}' is not present; pull or build it first", spec.image));
        if (r->status != 201) return failure(fmt::format("cannot create container '{}'", spec.name), *r);
        auto doc = parse(r->body, "container " + spec.name);
        if (!doc) return doc.error();
        return str(member(*doc, "Id"));
    }

    Status start(const std::string& id) override {
        auto r = call("POST", "/containers/" + encode(id) + "/start");
        if (!r) return r.error();
        if (r->status == 204 || r->status == 304) return {};
        return failure(fmt::format("cannot start container '{}'", id), *r);
    }

    Status stop(const std::string& id, int timeout_seconds) override {
        EngineRequest req;
        req.method = "POST";
        req.target = fmt::format("/containers/{}/stop?t={}", encode(id), timeout_seconds);
        req.idle_timeout = std::chrono::seconds(std::max(timeout_seconds, 0) + 60);
        auto r = client_.request(req);
        if (!r) return r.error();
        if (r->status == 204 || r->status == 304) return {};
        return failure(fmt::format("cannot stop container '{}'", id), *r);
    }

    Status remove(const std::string& id, bool force) override {
        auto r = call("DELETE", "/containers/" + encode(id) + (force ? "?force=1" : "?force=0"));
        if (!r) return r.error();
        if (r->status == 204 || r->status == 404) return {};
        return failure(fmt::format("cannot remove container '{}'", id), *r);
    }

    Status rename(const std::string& id, const std::string& new_name) override {
        auto r = call("POST", "/containers/" + encode(id) + "/rename?name=" + encode(new_name));
        if (!r) return r.error();
        if (r->status == 204 || r->status == 200) return {};
        return failure(fmt::format("cannot rename container '{}' to '{}'", id, new_name), *r);
    }

    Result<std::optional<ContainerState>> inspect(const std::string& id_or_name) override {
        auto r = call("GET", "/containers/" + encode(id_or_name) + "/json");
        if (!r) return r.error();
        if (r->status == 404) return std::optional<ContainerState>{};
        if (r->status != 200) return failure(fmt::format("cannot inspect container '{}'", id_or_name), *r);
        auto doc = parse(r->body, "container " + id_or_name);
        if (!doc) return doc.error();
        ContainerState s;
        s.id = str(member(*doc, "Id"));
        s.name = str(member(*doc, "Name"));
        if (s.name.starts_with("/")) s.name.erase(0, 1);
        s.image_id = str(member(*doc, "Image"));
        if (const auto* state = member(*doc, "State")) {
            s.status = str(member(*state, "Status"));
            s.exit_code = static_cast<int>(num(member(*state, "ExitCode"), 0));
            s.started_at = str(member(*state, "StartedAt"));
            if (s.started_at.starts_with("0001-01-01")) s.started_at.clear();  // Go's zero time: never started
        }
        if (const auto* config = member(*doc, "Config")) s.labels = string_map(member(*config, "Labels"));
        return std::optional<ContainerState>(std::move(s));
    }

    Result<std::vector<ContainerState>> list(const LabelFilter& filter) override {
        auto doc = get_json("/containers/json?all=1&filters=" + label_filters(filter), "list containers");
        if (!doc) return doc.error();
        std::vector<ContainerState> out;
        if (!doc->is_array()) return out;
        for (const auto& c : doc->as_array()) {
            // Everything but the exit code and the start time is in the list entry. The exit
            // code is in its Status text ("Exited (3) 2 seconds ago"); only when that cannot
            // be read does the container get inspected. started_at stays "" (see backend.hpp).
            ContainerState s;
            s.id = str(member(c, "Id"));
            s.name = primary_name(member(c, "Names"));
            s.image_id = str(member(c, "ImageID"));
            s.status = str(member(c, "State"));
            s.labels = string_map(member(c, "Labels"));
            if (auto code = exit_code_from_status(str(member(c, "Status")))) {
                s.exit_code = *code;
            } else if (s.status == "exited") {
                auto state = inspect(s.id);
                if (!state) return state.error();
                if (!*state) continue;  // gone meanwhile: skip
                s = std::move(**state);
            }
            out.push_back(std::move(s));
        }
        return out;
    }

    Status logs(const std::string& id, bool follow,
                std::function<bool(OutputStream, std::string_view)> sink) override {
        auto info = call("GET", "/containers/" + encode(id) + "/json");
        if (!info) return info.error();
        if (info->status == 404) return make_error(fmt::format("no such container '{}'", id));
        if (info->status != 200) return failure(fmt::format("cannot read the logs of container '{}'", id), *info);
        auto doc = parse(info->body, "container " + id);
        if (!doc) return doc.error();
        const json::value* config = member(*doc, "Config");
        const json::value* tty_flag = config ? member(*config, "Tty") : nullptr;
        const bool tty = tty_flag && tty_flag->is_bool() && tty_flag->as_bool();

        EngineRequest req;
        req.target = fmt::format("/containers/{}/logs?stdout=1&stderr=1&follow={}", encode(id), follow ? 1 : 0);
        if (follow) req.idle_timeout.reset();
        LogDemuxer demux;
        bool stopped = false;
        auto on_body = [&](std::string_view piece) {
            bool more = tty ? sink(OutputStream::stdout_stream, piece) : demux.feed(piece, sink);
            if (!more && !demux.malformed()) stopped = true;
            return more;
        };
        auto r = client_.stream(req, on_body);
        if (!r) return r.error();
        if (r->status / 100 != 2) return failure(fmt::format("cannot read the logs of container '{}'", id), *r);
        if (demux.malformed())
            return make_error(fmt::format("the Docker engine sent the logs of container '{}' in an unknown format", id));
        if (!stopped && !tty && !demux.at_frame_boundary())
            return make_error(fmt::format("the logs of container '{}' ended in the middle of a frame", id));
        return {};
    }

    Result<int> wait(const std::string& id) override {
        EngineRequest req;
        req.method = "POST";
        req.target = "/containers/" + encode(id) + "/wait?condition=not-running";
        req.idle_timeout.reset();
        auto r = client_.request(req);
        if (!r) return r.error();
        if (r->status == 404) return make_error(fmt::format("no such container '{}'", id));
        if (r->status != 200) return failure(fmt::format("cannot wait for container '{}'", id), *r);
        auto doc = parse(r->body, "container " + id);
        if (!doc) return doc.error();
        if (const auto* e = member(*doc, "Error"); e && !str(member(*e, "Message")).empty())
            return make_error(fmt::format("waiting for container '{}' failed: {}", id, str(member(*e, "Message"))));
        return static_cast<int>(num(member(*doc, "StatusCode"), -1));
    }

    Status create_volume(const std::string& name, const std::map<std::string, std::string>& labels) override {
        json::object body{{"Name", name}};
        json::object jl;
        for (const auto& [k, v] : labels) jl[k] = v;
        body["Labels"] = std::move(jl);
        auto r = call("POST", "/volumes/create", json::serialize(body));
        if (!r) return r.error();
        if (r->status == 201 || r->status == 200) return {};
        return failure(fmt::format("cannot create volume '{}'", name), *r);
    }

    Result<std::vector<VolumeInfo>> list_volumes(const LabelFilter& filter) override {
        auto vols = get_json("/volumes?filters=" + label_filters(filter), "list volumes");
        if (!vols) return vols.error();
        std::vector<VolumeInfo> out;
        const auto* items = member(*vols, "Volumes");
        if (!items || !items->is_array() || items->as_array().empty()) return out;
        for (const auto& v : items->as_array())
            out.push_back(VolumeInfo{str(member(v, "Name")), string_map(member(v, "Labels")), -1, {}});

        // Sizes: only /system/df computes them (API 1.41 has no per-type filter there).
        EngineRequest df;
        df.target = "/system/df";
        df.idle_timeout = 600s;
        auto usage = client_.request(df);
        if (!usage) return usage.error();
        if (usage->status != 200) return failure("cannot read disk usage", *usage);
        auto udoc = parse(usage->body, "disk usage");
        if (!udoc) return udoc.error();
        if (const auto* dfv = member(*udoc, "Volumes"); dfv && dfv->is_array())
            for (const auto& v : dfv->as_array())
                for (auto& info : out)
                    if (info.name == str(member(v, "Name")))
                        if (const auto* u = member(v, "UsageData")) info.size_bytes = num(member(*u, "Size"), -1);

        auto containers = get_json("/containers/json?all=1", "list containers");
        if (!containers) return containers.error();
        if (containers->is_array())
            for (const auto& c : containers->as_array()) {
                const auto* names = member(c, "Names");
                const auto* mounts = member(c, "Mounts");
                if (!names || !names->is_array() || names->as_array().empty() || !mounts || !mounts->is_array())
                    continue;
                std::string cname = str(&names->as_array()[0]);
                if (cname.starts_with("/")) cname.erase(0, 1);
                for (const auto& m : mounts->as_array())
                    for (auto& info : out)
                        if (str(member(m, "Type")) == "volume" && str(member(m, "Name")) == info.name)
                            info.used_by.push_back(cname);
            }
        return out;
    }

    Status remove_volume(const std::string& name) override {
        auto r = call("DELETE", "/volumes/" + encode(name));
        if (!r) return r.error();
        if (r->status == 204 || r->status == 404) return {};
        if (r->status == 409)
            return make_error(fmt::format("volume '{}' is in use by a container; remove the container first ({})",
                                          name, engine_message(r->body)));
        return failure(fmt::format("cannot remove volume '{}'", name), *r);
    }

    Result<std::optional<VolumeInfo>> inspect_volume(const std::string& name) override {
        auto r = call("GET", "/volumes/" + encode(name));
        if (!r) return r.error();
        if (r->status == 404) return std::optional<VolumeInfo>{};
        if (r->status != 200) return failure(fmt::format("cannot inspect volume '{}'", name), *r);
        auto doc = parse(r->body, "volume " + name);
        if (!doc) return doc.error();
        return std::optional<VolumeInfo>(VolumeInfo{str(member(*doc, "Name")), string_map(member(*doc, "Labels")), -1, {}});
    }

    Status set_owner(const std::string& id, const std::vector<std::string>& paths, std::uint32_t uid,
                     std::uint32_t gid) override {
        // One archive extracted at "/": one request, one mount of the container's volumes.
        std::vector<std::string> names;
        for (auto path : paths) {
            while (path.size() > 1 && path.back() == '/') path.pop_back();
            if (path.size() < 2 || path.front() != '/' || path.size() > 99 || path.find("/../") != std::string::npos)
                return make_error(fmt::format("cannot set the owner of '{}': expected an absolute directory path "
                                              "shorter than 99 characters",
                                              path));
            names.push_back(path.substr(1));
        }
        std::stable_sort(names.begin(), names.end(),
                         [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
        EngineRequest req;
        req.method = "PUT";
        req.target = "/containers/" + encode(id) + "/archive?path=%2F";
        req.body = directories_owner_tar(names, uid, gid, 0755, static_cast<std::int64_t>(std::time(nullptr)));
        req.headers["Content-Type"] = "application/x-tar";
        auto r = client_.request(req);
        if (!r) return r.error();
        if (r->status != 200)
            return failure(fmt::format("cannot make the home and cache directories in container '{}' owned by {}:{}", id,
                                       uid, gid),
                           *r);
        return {};
    }

    Result<bool> path_exists(const std::string& id, const std::string& path) override {
        EngineRequest req;
        req.method = "HEAD";
        req.target = "/containers/" + encode(id) + "/archive?path=" + encode(path);
        auto r = client_.request(req);
        if (!r) return r.error();
        if (r->status == 200) return true;
        // 404 names both a missing path and a missing container: tell them apart.
        if (r->status == 404) {
            auto c = inspect(id);
            if (!c) return c.error();
            if (!*c) return make_error(fmt::format("no such container: '{}'", id));
            return false;
        }
        return failure(fmt::format("cannot look for '{}' in container '{}'", path, id), *r);
    }

    Status write_files(const std::string& id, const std::string& dir, const std::vector<FileEntry>& files,
                       std::uint32_t uid, std::uint32_t gid) override {
        if (files.empty()) return {};
        auto tar = files_owner_tar(files, uid, gid, static_cast<std::uint64_t>(std::time(nullptr)));
        if (!tar) return tar.error();
        EngineRequest req;
        req.method = "PUT";
        req.target = "/containers/" + encode(id) + "/archive?path=" + encode(dir);
        req.body = std::move(*tar);
        req.headers["Content-Type"] = "application/x-tar";
        auto r = client_.request(req);
        if (!r) return r.error();
        if (r->status != 200) return failure(fmt::format("cannot write files under '{}' in container '{}'", dir, id), *r);
        return {};
    }

    Result<std::vector<std::string>> bridge_gateways() override {
        auto r = call("GET", "/networks/bridge");
        if (!r) return r.error();
        if (r->status == 404)
            return make_error("the Docker engine has no 'bridge' network; containers cannot reach the host proxy");
        if (r->status != 200) return failure("cannot inspect the 'bridge' network", *r);
        auto doc = parse(r->body, "network bridge");
        if (!doc) return doc.error();
        std::vector<std::string> v4, v6;
        const auto* ipam = member(*doc, "IPAM");
        const auto* configs = ipam ? member(*ipam, "Config") : nullptr;
        if (configs && configs->is_array())
            for (const auto& c : configs->as_array()) {
                std::string gw = str(member(c, "Gateway"));
                if (gw.empty()) gw = first_address(str(member(c, "Subnet")));  // 20.10 may leave it empty
                if (auto slash = gw.find('/'); slash != std::string::npos) gw.resize(slash);
                if (gw.empty()) continue;
                (gw.find(':') == std::string::npos ? v4 : v6).push_back(gw);
            }
        if (v4.empty() && v6.empty())
            return make_error("the Docker engine's 'bridge' network has no gateway address");
        v4.insert(v4.end(), v6.begin(), v6.end());
        return v4;
    }

    Result<AttachedStream> attach(const std::string& id) override {
        auto info = call("GET", "/containers/" + encode(id) + "/json");
        if (!info) return info.error();
        if (info->status == 404) return make_error(fmt::format("no such container '{}'", id));
        if (info->status != 200) return failure(fmt::format("cannot attach to container '{}'", id), *info);
        auto doc = parse(info->body, "container " + id);
        if (!doc) return doc.error();
        AttachedStream out;
        out.name = str(member(*doc, "Name"));
        if (out.name.starts_with("/")) out.name.erase(0, 1);
        const json::value* config = member(*doc, "Config");
        const json::value* tty_flag = config ? member(*config, "Tty") : nullptr;
        out.tty = tty_flag && tty_flag->is_bool() && tty_flag->as_bool();
        const json::value* state = member(*doc, "State");
        std::string status = state ? str(member(*state, "Status")) : "";
        if (status == "paused")
            return make_error(fmt::format("cannot attach to container '{}': it is paused; unpause it first", id));
        if (status != "running")
            return make_error(fmt::format("cannot attach to container '{}': it is not running ({}); start it first",
                                          id, status.empty() ? "unknown state" : status));

        auto r = client_.attach(id, true, "ctrl-p,ctrl-q");
        if (!r) return r.error();
        if (r->fd < 0) {
            if (r->status == 404) return make_error(fmt::format("no such container '{}'", id));
            EngineResponse failed;
            failed.status = r->status;
            failed.body = r->body;
            return failure(fmt::format("cannot attach to container '{}'", id), failed);
        }
        out.fd = r->release();
        out.initial = std::move(r->initial);
        return out;
    }

    Status resize_tty(const std::string& id, int rows, int cols) override { return client_.resize(id, rows, cols); }

private:
    Result<EngineResponse> call(const char* method, std::string target, std::string body = {}) {
        EngineRequest req;
        req.method = method;
        req.target = std::move(target);
        req.body = std::move(body);
        return client_.request(req);
    }

    Result<json::value> get_json(const std::string& target, const std::string& doing) {
        auto r = call("GET", target);
        if (!r) return r.error();
        if (r->status != 200) return failure("cannot " + doing, *r);
        return parse(r->body, doing);
    }

    Result<json::value> parse(const std::string& body, const std::string& about) {
        boost::system::error_code ec;
        json::value v = json::parse(body, ec);
        if (ec)
            return make_error(fmt::format("the Docker engine at {} answered with malformed JSON ({}): {}",
                                          client_.endpoint().display(), about, ec.message()));
        return v;
    }

    Error failure(const std::string& what, const EngineResponse& r) {
        auto message = engine_message(r.body);
        if (message.empty()) message = fmt::format("HTTP {}", r.status);
        return make_error(fmt::format("{}: {}", what, message));
    }

    EngineClient client_;
};

}  // namespace

std::unique_ptr<Backend> make_docker_backend(const EngineEndpoint& endpoint) {
    return std::make_unique<DockerBackend>(endpoint);
}

}  // namespace airlock::docker
