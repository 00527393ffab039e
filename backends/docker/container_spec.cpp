#include "backends/docker/container_spec.hpp"

#include <boost/json/array.hpp>
#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <optional>

namespace airlock::docker {

namespace json = boost::json;

namespace {

json::array strings(const std::vector<std::string>& items) {
    json::array a;
    for (const auto& s : items) a.emplace_back(s);
    return a;
}

json::object string_map(const std::map<std::string, std::string>& items) {
    json::object o;
    for (const auto& [k, v] : items) o[k] = v;
    return o;
}

const char* mount_type(Mount::Kind kind) {
    switch (kind) {
        case Mount::bind: return "bind";
        case Mount::volume: return "volume";
        case Mount::tmpfs: return "tmpfs";
    }
    return "bind";
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// Decimal digits to a non-negative integer; nullopt on overflow.
std::optional<std::int64_t> to_int64(std::string_view digits) {
    std::int64_t value = 0;
    for (char c : digits) {
        int d = c - '0';
        if (value > (std::numeric_limits<std::int64_t>::max() - d) / 10) return std::nullopt;
        value = value * 10 + d;
    }
    return value;
}

constexpr std::int64_t kMinMemory = std::int64_t{6} << 20;  // Docker refuses less

}  // namespace

std::int64_t nano_cpus(double cpus) { return static_cast<std::int64_t>(std::llround(cpus * 1e9)); }

json::object to_create_request(const ContainerSpec& spec) {
    json::object body;
    body["Image"] = spec.image;
    if (!spec.cmd.empty()) body["Cmd"] = strings(spec.cmd);
    body["Env"] = strings(spec.env);
    body["Labels"] = string_map(spec.labels);
    body["WorkingDir"] = spec.working_dir;
    body["User"] = spec.user;
    body["Tty"] = spec.tty;
    body["OpenStdin"] = spec.open_stdin;
    body["StdinOnce"] = false;
    body["AttachStdin"] = spec.open_stdin;
    body["AttachStdout"] = true;
    body["AttachStderr"] = true;

    json::object host;
    json::array mounts;
    bool tmp_mounted = false;
    for (const auto& m : spec.mounts) {
        json::object jm;
        jm["Type"] = mount_type(m.kind);
        if (m.kind != Mount::tmpfs) jm["Source"] = m.source;
        jm["Target"] = m.target;
        jm["ReadOnly"] = m.read_only;
        mounts.emplace_back(std::move(jm));
        if (m.target == "/tmp" || m.target == "/tmp/") tmp_mounted = true;
    }
    host["Mounts"] = std::move(mounts);
    host["ExtraHosts"] = strings(spec.extra_hosts);
    if (!spec.network.empty()) host["NetworkMode"] = spec.network;
    if (spec.cpus > 0) host["NanoCpus"] = nano_cpus(spec.cpus);
    if (spec.memory_bytes > 0) host["Memory"] = spec.memory_bytes;
    if (spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
    host["ReadonlyRootfs"] = spec.read_only_rootfs;
    if (spec.init) host["Init"] = true;
    host["CapDrop"] = strings(spec.cap_drop);
    host["SecurityOpt"] = strings(spec.security_opt);
    // A read-only root still needs a scratch directory: most tools write to /tmp.
    if (spec.read_only_rootfs && !tmp_mounted) host["Tmpfs"] = json::object{{"/tmp", "rw,nosuid,nodev,mode=1777"}};
    body["HostConfig"] = std::move(host);
    return body;
}

Result<std::int64_t> parse_memory(std::string_view text, std::string_view what) {
    std::string s;
    for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t digits_end = 0;
    while (digits_end < s.size() && s[digits_end] >= '0' && s[digits_end] <= '9') ++digits_end;
    std::string_view unit = std::string_view(s).substr(digits_end);
    if (unit.size() == 2 && unit[1] == 'b' && unit[0] != 'b') unit.remove_suffix(1);  // "mb" = "m"
    int shift = -1;
    if (unit.empty() || unit == "b") shift = 0;
    else if (unit == "k") shift = 10;
    else if (unit == "m") shift = 20;
    else if (unit == "g") shift = 30;
    else if (unit == "t") shift = 40;
    if (digits_end == 0 || shift < 0)
        return make_error(fmt::format("{} '{}': expected a number with an optional unit b, k, m, g or t (or kb, mb, "
                                      "gb, tb; powers of 1024, any case), e.g. 512m or 4g",
                                      what, text));
    auto number = to_int64(std::string_view(s).substr(0, digits_end));
    if (!number || *number > (std::numeric_limits<std::int64_t>::max() >> shift))
        return make_error(fmt::format("{} '{}': too large a memory size", what, text));
    std::int64_t bytes = *number << shift;
    if (bytes < kMinMemory)
        return make_error(fmt::format("{} '{}': below Docker's minimum memory limit of 6m", what, text));
    return bytes;
}

Result<std::int64_t> check_pids_limit(std::int64_t value, std::string_view what) {
    if (value < kMinPidsLimit)
        return make_error(fmt::format("{} {}: must be at least {} (the container's init, the agent and its shell need "
                                      "processes; 0 does not mean unlimited)",
                                      what, value, kMinPidsLimit));
    return value;
}

Result<double> parse_cpus(std::string_view text, std::string_view what) {
    const auto dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    if (!all_digits(whole) || (dot != std::string_view::npos && !all_digits(fraction)))
        return make_error(
            fmt::format("{} '{}': expected a positive number of CPUs, e.g. 2 or 0.5", what, text));
    if (fraction.size() > 9)
        return make_error(fmt::format("{} '{}': at most 9 decimal places (nanoCPUs)", what, text));
    auto w = to_int64(whole);
    if (!w || *w > 1'000'000) return make_error(fmt::format("{} '{}': too many CPUs", what, text));
    std::int64_t nanos = *w * 1'000'000'000;
    std::int64_t scale = 100'000'000;
    for (char c : fraction) {
        nanos += (c - '0') * scale;
        scale /= 10;
    }
    if (nanos <= 0) return make_error(fmt::format("{} '{}': must be greater than 0", what, text));
    return static_cast<double>(nanos) / 1e9;
}

}  // namespace airlock::docker
