#pragma once
// The settings' enums as the text users write (config.toml, CLI flags) and the store keeps:
// one table per enum, read both ways, so a name is spelled in exactly one place.

#include <optional>
#include <string_view>
#include <utility>

#include "airlock/settings.hpp"

namespace airlock {

namespace detail {

template <class E>
using EnumNames = std::pair<E, std::string_view>;

inline constexpr EnumNames<PullPolicy> kPullPolicyNames[] = {
    {PullPolicy::always, "always"}, {PullPolicy::if_not_present, "if-not-present"}, {PullPolicy::never, "never"}};
inline constexpr EnumNames<Unmatched> kUnmatchedNames[] = {{Unmatched::tunnel, "tunnel"}, {Unmatched::deny, "deny"}};
inline constexpr EnumNames<PromptMode> kPromptModeNames[] = {
    {PromptMode::arg, "arg"}, {PromptMode::stdin_, "stdin"}, {PromptMode::none, "none"}};

template <class E, std::size_t N>
constexpr std::string_view name_of(const EnumNames<E> (&names)[N], E value) {
    for (const auto& [v, text] : names)
        if (v == value) return text;
    return names[0].second;
}

template <class E, std::size_t N>
constexpr std::optional<E> value_of(const EnumNames<E> (&names)[N], std::string_view text) {
    for (const auto& [v, t] : names)
        if (t == text) return v;
    return std::nullopt;
}

}  // namespace detail

// "always" | "if-not-present" | "never"
constexpr std::string_view to_string(PullPolicy p) { return detail::name_of(detail::kPullPolicyNames, p); }
constexpr std::optional<PullPolicy> parse_pull_policy(std::string_view text) {
    return detail::value_of(detail::kPullPolicyNames, text);
}

// "tunnel" | "deny"
constexpr std::string_view to_string(Unmatched u) { return detail::name_of(detail::kUnmatchedNames, u); }
constexpr std::optional<Unmatched> parse_unmatched(std::string_view text) {
    return detail::value_of(detail::kUnmatchedNames, text);
}

// "arg" | "stdin" | "none"
constexpr std::string_view to_string(PromptMode m) { return detail::name_of(detail::kPromptModeNames, m); }
constexpr std::optional<PromptMode> parse_prompt_mode(std::string_view text) {
    return detail::value_of(detail::kPromptModeNames, text);
}

}  // namespace airlock
