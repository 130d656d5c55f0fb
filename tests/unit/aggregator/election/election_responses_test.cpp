// The parsers of what the election engines answer: etcd's JSON gateway (int64 as strings, zero
// values left out, base64 keys and values) and a Kubernetes Lease, on real answers and on
// answers that are wrong in each way the parsers guard against. The fuzz target
// (tests/fuzz/election_responses_fuzz.cpp) only checks that nothing crashes; this checks values.
#include "fleetscale/aggregator/election/election_responses.h"

#include <gtest/gtest.h>

#include <limits>

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

TEST(EtcdInt64Test, ReadsTheGatewaysStringsAndPlainNumbers) {
  const json object = json::parse(
      R"({"revision": "2324035669532363527", "TTL": 5, "max": "18446744073709551615"})");
  EXPECT_EQ(etcdInt64(object, "revision"), 2324035669532363527u);
  EXPECT_EQ(etcdInt64(object, "TTL"), 5u);
  EXPECT_EQ(etcdInt64(object, "max"), std::numeric_limits<std::uint64_t>::max());
}

TEST(EtcdInt64Test, AbsentWrongAndNegativeValuesAreZero) {
  const json object =
      json::parse(R"({"negative": -3, "text": "ten", "flag": true, "list": [1], "empty": ""})");
  for (const char* field : {"absent", "negative", "text", "flag", "list", "empty"}) {
    EXPECT_EQ(etcdInt64(object, field), 0u) << field;
  }
  EXPECT_EQ(etcdInt64(json::array({1}), "revision"), 0u) << "not an object";
  EXPECT_EQ(etcdInt64(json(), "revision"), 0u);
}

// What the gateway answers for a range on the leader key held by "agg-0" (tests/fuzz corpus).
constexpr const char* kHeldRange =
    R"({"header":{"revision":"2"},"kvs":[{"key":"L2ZsZWV0c2NhbGUvbGVhZGVy","create_revision":"2",)"
    R"("mod_revision":"2","version":"1","value":"YWdnLTA=","lease":"2324035669532363527"}],)"
    R"("count":"1"})";

TEST(ParseEtcdRangeTest, AHeldKeyGivesHolderTermAndLease) {
  const auto state = parseEtcdRange(json::parse(kHeldRange));
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->holder, "agg-0");
  EXPECT_EQ(state->term, 2u) << "the key's create_revision";
  EXPECT_EQ(state->lease, "2324035669532363527");
}

TEST(ParseEtcdRangeTest, AMissingKeyIsNoHolderAtTermZero) {
  // etcd leaves out "kvs" when nothing matched; an empty list means the same.
  for (const char* text : {R"({"header":{"revision":"7"}})", R"({"kvs":[]})", R"({"kvs":{}})"}) {
    const auto state = parseEtcdRange(json::parse(text));
    ASSERT_TRUE(state.ok()) << text;
    EXPECT_EQ(state->holder, "") << text;
    EXPECT_EQ(state->term, 0u) << text;
  }
}

TEST(ParseEtcdRangeTest, BadAnswersAreErrors) {
  const auto notObject = parseEtcdRange(json::parse("[1, 2]"));
  ASSERT_FALSE(notObject.ok());
  EXPECT_EQ(notObject.error().message, "etcd: range response is not an object");

  const auto badValue = parseEtcdRange(json::parse(R"({"kvs":[{"value":"!!"}]})"));
  ASSERT_FALSE(badValue.ok());
  EXPECT_EQ(badValue.error().message.rfind("etcd: leader key value: ", 0), 0u)
      << badValue.error().message;
}

constexpr const char* kLease =
    R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{)"
    R"("name":"fleetscale-aggregator","namespace":"fleetscale-system","resourceVersion":"42"},)"
    R"("spec":{"holderIdentity":"aggregator-0","leaseDurationSeconds":10,)"
    R"("acquireTime":"2026-11-28T07:00:00.000000Z","renewTime":"2026-11-28T07:00:05.123456Z",)"
    R"("leaseTransitions":3}})";

TEST(ParseLeaseTest, ReadsTheSpecAndTheResourceVersion) {
  const auto lease = parseLease(kLease);
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  EXPECT_EQ(lease->record, (LeaseRecord{"aggregator-0", "2026-11-28T07:00:05.123456Z",
                                        "2026-11-28T07:00:00.000000Z", 10, 3}));
  EXPECT_EQ(lease->resourceVersion, "42");
}

TEST(ParseLeaseTest, AnEmptySpecIsAFreeLease) {
  // A Lease created without a holder, and fields of the wrong type, read as unset.
  const auto lease = parseLease(
      R"({"kind":"Lease","metadata":{},"spec":{"holderIdentity":7,"leaseDurationSeconds":"10"}})");
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  EXPECT_EQ(lease->record, LeaseRecord{});
  EXPECT_EQ(lease->resourceVersion, "");
}

TEST(ParseLeaseTest, AnythingButALeaseIsAnError) {
  for (const char* body : {R"({"kind":"Status","code":404})", R"({"spec":"held"})", "[]",
                           "<html>bad gateway</html>", ""}) {
    const auto lease = parseLease(body);
    ASSERT_FALSE(lease.ok()) << body;
    EXPECT_EQ(lease.error().message, "the API server answered something that is not a Lease")
        << body;
  }
}

TEST(ResourceVersionOfTest, ReadsMetadataOfAnyObject) {
  EXPECT_EQ(resourceVersionOf(json::parse(R"({"metadata":{"resourceVersion":"981"}})")), "981");
  EXPECT_EQ(resourceVersionOf(json::parse(R"({"metadata":{"resourceVersion":981}})")), "");
  EXPECT_EQ(resourceVersionOf(json::parse(R"({"metadata":"none"})")), "");
  EXPECT_EQ(resourceVersionOf(json::parse(R"({"kind":"Status"})")), "");
  EXPECT_EQ(resourceVersionOf(json::parse("42")), "");
}

}  // namespace
}  // namespace fleetscale::aggregator
