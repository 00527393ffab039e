#include "ui/audit_index.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "ui/shape.hpp"

using namespace airlock;
using namespace airlock::ui;
using namespace std::chrono;

namespace {
proxy::AuditRecord rec(std::int64_t unix_s, std::string client, int status, proxy::Decision::Kind d,
                       std::string rule = "") {
    proxy::AuditRecord r;
    r.time = system_clock::time_point(seconds(unix_s));
    r.client = std::move(client);
    r.method = "POST";
    r.host = "api.example";
    r.port = 443;
    r.path = "/v1/x";
    r.status = status;
    r.bytes_up = 10;
    r.bytes_down = 100;
    r.decision = d;
    r.rule = std::move(rule);
    return r;
}
}  // namespace

TEST_CASE("AuditIndex: lines split anywhere, counts per session and rule, refusals by status") {
    std::string text = proxy::to_json_line(rec(1000, "a", 200, proxy::Decision::intercept, "anthropic")) +
                       "garbage line\n" + proxy::to_json_line(rec(1001, "b", 407, proxy::Decision::deny)) +
                       proxy::to_json_line(rec(1002, "a", 403, proxy::Decision::deny)) +
                       proxy::to_json_line(rec(1003, "", 400, proxy::Decision::deny));
    auto summary = rec(1004, "", 407, proxy::Decision::deny);
    summary.suppressed = 50;
    text += proxy::to_json_line(summary);
    for (std::size_t piece : {std::size_t(1), std::size_t(7), text.size()}) {
        AuditIndex idx;
        std::size_t added = 0;
        for (std::size_t at = 0; at < text.size(); at += piece) added += idx.feed(std::string_view(text).substr(at, piece));
        CHECK(added == 5);
        CHECK(idx.total() == 4);
        CHECK(idx.records().size() == 5);
        REQUIRE(idx.activity().count("a"));
        const auto& a = idx.activity().at("a");
        CHECK(a.requests == 2);
        CHECK(a.refusals == 1);
        CHECK(a.bytes_down == 200);
        CHECK(a.last == system_clock::time_point(seconds(1002)));
        CHECK(idx.activity().at("b").refusals == 1);
        CHECK(!idx.activity().count(""));
        CHECK(idx.rule_last_used().at("anthropic") == system_clock::time_point(seconds(1000)));
        CHECK(idx.refusal_counts().at("407") == 51);
        CHECK(idx.refusal_counts().at("403") == 1);
        CHECK(idx.refusal_counts().at("400") == 1);
        CHECK(idx.take_new().size() == 5);
        CHECK(idx.take_new().empty());
    }
}

TEST_CASE("AuditIndex: keeps the newest, a rotated file drops the torn line") {
    AuditIndex idx(3, 2);
    for (int i = 0; i < 5; ++i) (void)idx.feed(proxy::to_json_line(rec(1000 + i, "a", 200, proxy::Decision::tunnel)));
    CHECK(idx.records().size() == 3);
    CHECK(idx.records().front().time == system_clock::time_point(seconds(1002)));
    CHECK(idx.take_new().size() == 2);
    auto line = proxy::to_json_line(rec(2000, "a", 200, proxy::Decision::tunnel));
    (void)idx.feed(line.substr(0, 10));
    idx.drop_partial();
    CHECK(idx.feed(line) == 1);
}

TEST_CASE("series: step, buckets, the last one holds now") {
    CHECK(series_step(60) == 1);
    CHECK(series_step(3600) == 10);
    CHECK(series_step(86400) == 300);
    CHECK(series_step(1000000) == 600);
    std::deque<proxy::AuditRecord> records = {rec(995, "a", 200, proxy::Decision::intercept),
                                              rec(1000, "a", 200, proxy::Decision::intercept),
                                              rec(1009, "b", 407, proxy::Decision::deny),
                                              rec(1010, "a", 200, proxy::Decision::intercept),
                                              rec(1, "a", 200, proxy::Decision::intercept)};
    auto s = make_series(records, "", system_clock::time_point(seconds(1012)), 3600);
    CHECK(s.step == 10);
    CHECK(s.requests.size() == 360);
    CHECK(s.start + 359 * 10 == 1010);
    CHECK(s.requests.back() == 1);        // 1010
    CHECK(s.requests[358] == 2);          // 1000, 1009
    CHECK(s.refusals[358] == 1);
    CHECK(s.requests[357] == 1);          // 995
    CHECK(s.bytes.back() == 110);
    auto only_a = make_series(records, "a", system_clock::time_point(seconds(1012)), 3600);
    CHECK(only_a.requests[358] == 1);
    auto j = series_json(s);
    CHECK(j.at("step_s").as_int64() == 10);
    CHECK(j.at("requests").as_array().size() == 360);
}

TEST_CASE("shapes: records, selection, activity, errors") {
    std::deque<proxy::AuditRecord> records = {rec(1000, "a", 200, proxy::Decision::intercept, "anthropic"),
                                              rec(1001, "b", 407, proxy::Decision::deny),
                                              rec(1002, "a", 421, proxy::Decision::deny)};
    auto sel = select_records(records, "a", 1, false);
    CHECK(sel.total == 2);
    REQUIRE(sel.records.size() == 1);
    CHECK(sel.records[0]->status == 421);
    CHECK(select_records(records, "", 10, true).total == 2);
    auto o = record_json(records[0]);
    CHECK(o.at("rule").as_string() == "anthropic");
    CHECK(o.at("refused").as_bool() == false);
    CHECK(o.at("time").as_string() == "1970-01-01T00:16:40.000Z");
    CHECK(record_json(records[2]).at("refused").as_bool());
    boost::json::object s;
    add_activity(s, nullptr);
    CHECK(s.at("requests").as_uint64() == 0);
    CHECK(s.at("last_request").as_string() == "");
    CHECK(error_json("two\nlines") == R"({"error":"two lines"})");
}

TEST_CASE("parse_create_options: fields, defaults, wrong types and unknown fields named") {
    auto o = parse_create_options(R"({"prompt":"fix it","agent":"shell","image":"busybox","network":"none",)"
                                  R"("env":["A=1"],"credentials":["anthropic"],"pids_limit":64,"read_only":true,"cpus":"0.5"})");
    REQUIRE(o);
    CHECK(o->prompt == "fix it");
    CHECK(o->agent == "shell");
    CHECK(o->image == "busybox");
    CHECK(o->network == "none");
    CHECK(o->env == std::vector<std::string>{"A=1"});
    CHECK(o->credentials == std::vector<std::string>{"anthropic"});
    CHECK(o->pids == 64);
    CHECK(o->pids_set);
    CHECK(o->read_only);
    CHECK(o->cpus == "0.5");
    auto empty = parse_create_options("");
    REQUIRE(empty);
    CHECK(empty->agent.empty());  // the caller's default
    CHECK(!empty->pids_set);
    CHECK(!parse_create_options(R"({"pids_limit":0})")->pids_set);
    CHECK(parse_create_options(R"({"prompt":5})").error().message == "field 'prompt' must be a string");
    CHECK(parse_create_options(R"({"env":"A=1"})").error().message == "field 'env' must be an array of strings");
    CHECK(parse_create_options(R"({"promtp":"x"})").error().message.find("unknown field 'promtp'") == 0);
    CHECK(!parse_create_options("[1]"));
    CHECK(!parse_create_options("{"));
}

TEST_CASE("status_for_error") {
    CHECK(status_for_error("there is no session named 'x'; see 'airlock list'") == 404);
    CHECK(status_for_error("session 'x' has uncommitted changes in /w; commit them") == 409);
    CHECK(status_for_error("cannot reach the Docker engine") == 500);
}
