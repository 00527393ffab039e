#include "proxy/proxy_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include <fmt/format.h>

#include "proxy/base64.hpp"
#include "proxy/http_request.hpp"

namespace airlock::proxy {

Result<ProxyCredentials> parse_proxy_authorization(std::string_view value) {
    auto bad = [](std::string_view why) {
        return make_error(fmt::format("invalid Proxy-Authorization: {}", why));
    };
    auto sp = value.find(' ');
    if (sp == std::string_view::npos || !iequals(value.substr(0, sp), "Basic"))
        return bad("expected the Basic scheme");
    std::string_view b64 = value.substr(sp);
    while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
    while (!b64.empty() && (b64.back() == ' ' || b64.back() == '\t')) b64.remove_suffix(1);
    if (b64.empty()) return bad("missing credentials");
    auto decoded = detail::base64_decode(b64);
    if (!decoded) return bad("credentials are not valid base64");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return bad("expected name:token");
    ProxyCredentials out{decoded->substr(0, colon), decoded->substr(colon + 1)};
    if (out.name.empty() || out.token.empty()) return bad("empty name or token");
    for (char c : *decoded) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return bad("control character in the credentials");
    }
    return out;
}

Result<std::string> generate_token() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        return make_error("cannot generate a session token: the OpenSSL random generator failed");
    return detail::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string hash_token(std::string_view token) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(token.data(), token.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
        return {};  // only on allocation failure; an empty hash matches nothing
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool token_matches(std::string_view token, std::string_view stored_hash) {
    std::string h = hash_token(token);
    if (h.empty() || stored_hash.empty()) return false;
    return constant_time_equal(h, stored_hash);
}

}  // namespace airlock::proxy
