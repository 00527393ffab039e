#pragma once
// Client identity at the proxy: each session reaches the proxy as
// http://<session>:<token>@host:port, so every CONNECT carries
// Proxy-Authorization: Basic base64(session:token). The store keeps only
// hash_token(token); verify with token_matches() (constant time).

#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::proxy {

struct ProxyCredentials {
    std::string name;   // session name
    std::string token;  // secret: never log it
};

// Parses a Proxy-Authorization value "Basic <base64(name:token)>" (scheme
// case-insensitive, one or more spaces). The first ':' separates name and token; both
// must be non-empty and free of control characters. Errors never include the token; the
// caller answers 407 with Proxy-Authenticate: Basic realm="airlock".
Result<ProxyCredentials> parse_proxy_authorization(std::string_view value);

// 32 bytes from RAND_bytes as base64url without padding (43 characters, URL-safe, so
// it can sit in a proxy URL's userinfo unescaped). Error if the RNG fails.
Result<std::string> generate_token();

// SHA-256 of the token as 64 lowercase hex digits.
std::string hash_token(std::string_view token);

// CRYPTO_memcmp over equal lengths; different lengths compare unequal (lengths are not
// secret: both sides are usually hashes).
bool constant_time_equal(std::string_view a, std::string_view b);

// constant_time_equal(hash_token(token), stored_hash).
bool token_matches(std::string_view token, std::string_view stored_hash);

}  // namespace airlock::proxy
