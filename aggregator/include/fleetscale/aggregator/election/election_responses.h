// What the election engines answer, parsed: etcd's JSON gateway (int64 fields as strings, zero
// values left out, keys and values base64) and a Kubernetes Lease. Network input, so fuzzed
// (tests/fuzz/election_responses_fuzz.cpp); no I/O here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// An int64 field of an etcd gateway object; 0 when absent or not a number.
std::uint64_t etcdInt64(const nlohmann::json& object, const char* name);

// The leader key as a range (or a failed transaction's range) shows it. A missing key is holder
// "" and term 0.
struct EtcdKeyState {
  std::string holder;
  std::uint64_t term = 0;  // the key's create_revision
  std::string lease;       // decimal lease ID
};
Result<EtcdKeyState> parseEtcdRange(const nlohmann::json& range);

// A coordination.k8s.io/v1 Lease's spec, and its metadata.resourceVersion.
struct LeaseRecord {
  std::string holder;
  std::string renewTime;
  std::string acquireTime;
  std::int64_t durationSeconds = 0;
  std::int64_t transitions = 0;
  bool operator==(const LeaseRecord&) const = default;
};
struct ParsedLease {
  LeaseRecord record;
  std::string resourceVersion;
};
Result<ParsedLease> parseLease(const std::string& body);
// metadata.resourceVersion of any object ("" when absent).
std::string resourceVersionOf(const nlohmann::json& object);

}  // namespace fleetscale::aggregator
