#pragma once
// Internal to proxy/: base64 (RFC 4648 §4, padded) and base64url (§5, unpadded).

#include <optional>
#include <string>
#include <string_view>

namespace airlock::proxy::detail {

std::string base64_encode(std::string_view data);
std::string base64url_encode(std::string_view data);  // no padding

// Standard alphabet. Padding is optional, but if present must be correct; whitespace
// and any other character are errors. nullopt on error.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace airlock::proxy::detail
