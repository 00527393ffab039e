#include "airlock/settings_text.hpp"

#include <doctest/doctest.h>

using namespace airlock;

TEST_CASE("settings_text: every enum value round-trips through its text; unknown text is nullopt") {
    for (auto p : {PullPolicy::always, PullPolicy::if_not_present, PullPolicy::never})
        CHECK(parse_pull_policy(to_string(p)) == p);
    for (auto u : {Unmatched::tunnel, Unmatched::deny}) CHECK(parse_unmatched(to_string(u)) == u);
    for (auto m : {PromptMode::arg, PromptMode::stdin_, PromptMode::none}) CHECK(parse_prompt_mode(to_string(m)) == m);
    CHECK(to_string(PullPolicy::if_not_present) == "if-not-present");
    CHECK(to_string(PromptMode::stdin_) == "stdin");
    CHECK_FALSE(parse_pull_policy("if_not_present").has_value());
    CHECK_FALSE(parse_unmatched("").has_value());
    CHECK_FALSE(parse_prompt_mode("Arg").has_value());
}
