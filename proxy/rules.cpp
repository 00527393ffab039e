#include "proxy/rules.hpp"

#include "proxy/framing.hpp"

#include <fmt/format.h>

#include "airlock/text.hpp"
#include "proxy/base64.hpp"
#include "proxy/hosts.hpp"

namespace airlock::proxy {
namespace {

constexpr std::string_view secret_marker = "{secret}";

Status check_secret(const CredentialRule& rule, std::string_view secret) {
    if (secret.empty())
        return make_error(fmt::format("credential '{}': the secret is empty; check its secret source",
                                      rule.name));
    if (has_control(secret))
        return make_error(fmt::format(
            "credential '{}': the secret contains a control character (a newline?); "
            "store it on one line",
            rule.name));
    return {};
}

std::string substitute(std::string_view tmpl, std::string_view secret) {
    std::string out;
    while (true) {
        auto pos = tmpl.find(secret_marker);
        out += tmpl.substr(0, pos);
        if (pos == std::string_view::npos) break;
        out += secret;
        tmpl.remove_prefix(pos + secret_marker.size());
    }
    return out;
}

}  // namespace

Result<std::string> render_value(const CredentialRule& rule, std::string_view secret) {
    if (auto st = check_secret(rule, secret); !st) return st.error();
    std::string_view tmpl = rule.value_template.empty() ? secret_marker
                                                        : std::string_view(rule.value_template);
    if (tmpl.find(secret_marker) == std::string_view::npos)
        return make_error(fmt::format(
            "credential '{}': template '{}' does not contain {{secret}}; add it where the "
            "secret goes",
            rule.name, tmpl));
    if (has_control(tmpl))
        return make_error(fmt::format("credential '{}': the template contains a control character",
                                      rule.name));
    constexpr std::string_view basic = "Basic ";
    if (tmpl.substr(0, basic.size()) == basic &&
        tmpl.substr(basic.size()).find(':') != std::string_view::npos) {
        return std::string(basic) +
               detail::base64_encode(substitute(tmpl.substr(basic.size()), secret));
    }
    return substitute(tmpl, secret);
}

Result<HeaderEdit> credential_edit(const CredentialRule& rule, std::string_view secret,
                                   std::string_view host) {
    if (auto st = check_secret(rule, secret); !st) return st.error();
    HeaderEdit edit;
    if (rule.preset == "anthropic" && secret.substr(0, 10) == "sk-ant-oat") {
        edit.remove = {"x-api-key"};
        edit.name = "Authorization";
        edit.value = fmt::format("Bearer {}", secret);
        return edit;
    }
    if (rule.preset == "github") {
        edit.name = "Authorization";
        if (canonical_host(host) == "github.com")
            edit.value = "Basic " + detail::base64_encode(fmt::format("x-access-token:{}", secret));
        else
            edit.value = fmt::format("Bearer {}", secret);
        return edit;
    }
    if (rule.header.empty())
        return make_error(fmt::format(
            "credential '{}' has no header; set header = \"...\" or a preset", rule.name));
    auto value = render_value(rule, secret);
    if (!value) return value.error();
    edit.name = rule.header;
    edit.value = std::move(value).value();
    return edit;
}

void apply(const HeaderEdit& edit, RequestHead& head) {
    for (const auto& name : edit.remove) head.remove(name);
    head.set(edit.name, edit.value);
}

PreparedRequest prepare_upstream_request(RequestHead& head, const CredentialRule& rule, std::string_view secret,
                                         std::string_view host) {
    PreparedRequest out;
    head.remove("Proxy-Authorization");
    head.remove("Proxy-Connection");
    head.target = origin_form(head.target);
    if (auto e = credential_edit(rule, secret, host)) apply(*e, head);
    else out.credential_error = e.error().message;
    out.close_client = wants_close(head);
    if (out.close_client && head.version == 11 && !is_websocket_upgrade(head)) head.remove("Connection");
    return out;
}

}  // namespace airlock::proxy
