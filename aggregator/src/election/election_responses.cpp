#include "fleetscale/aggregator/election/election_responses.h"

#include <algorithm>

#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

std::string stringField(const json& object, const char* name) {
  return object.is_object() && object.contains(name) && object[name].is_string()
             ? object[name].get<std::string>()
             : std::string();
}

std::int64_t integerField(const json& object, const char* name) {
  return object.is_object() && object.contains(name) && object[name].is_number_integer()
             ? object[name].get<std::int64_t>()
             : 0;
}

}  // namespace

std::uint64_t etcdInt64(const json& object, const char* name) {
  if (!object.is_object() || !object.contains(name)) return 0;
  const json& value = object[name];
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, value.get<std::int64_t>()));
  }
  if (!value.is_string()) return 0;
  return parseUint64(value.get<std::string>()).value_or(0);
}

Result<EtcdKeyState> parseEtcdRange(const json& range) {
  EtcdKeyState state;
  if (!range.is_object()) return Error{"etcd: range response is not an object"};
  if (!range.contains("kvs")) return state;  // no such key
  const json& kvs = range["kvs"];
  if (!kvs.is_array() || kvs.empty() || !kvs[0].is_object()) return state;
  const json& kv = kvs[0];
  if (kv.contains("value") && kv["value"].is_string()) {
    auto holder = decodeBase64(kv["value"].get<std::string>());
    if (!holder) return Error{"etcd: leader key value: " + holder.error().message};
    state.holder = *holder;
  }
  state.term = etcdInt64(kv, "create_revision");
  state.lease = std::to_string(etcdInt64(kv, "lease"));
  return state;
}

std::string resourceVersionOf(const json& object) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  return stringField(object["metadata"], "resourceVersion");
}

Result<ParsedLease> parseLease(const std::string& body) {
  const auto lease = json::parse(body, nullptr, false);
  if (!lease.is_object() || !lease.contains("spec") || !lease["spec"].is_object()) {
    return Error{"the API server answered something that is not a Lease"};
  }
  const json& spec = lease["spec"];
  ParsedLease parsed;
  parsed.record =
      LeaseRecord{stringField(spec, "holderIdentity"), stringField(spec, "renewTime"),
                  stringField(spec, "acquireTime"), integerField(spec, "leaseDurationSeconds"),
                  integerField(spec, "leaseTransitions")};
  parsed.resourceVersion = resourceVersionOf(lease);
  return parsed;
}

}  // namespace fleetscale::aggregator
