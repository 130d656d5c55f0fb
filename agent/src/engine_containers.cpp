#include "fleetscale/agent/engine_containers.h"

#include "fleetscale/shared/text.h"
#include "json_access.h"

namespace fleetscale::agent {

using namespace json_access;

namespace {

// Members read below; the rest of each entry (mounts, networks, ports) is dropped while parsing.
bool keepMember(int depth, Json::parse_event_t event, Json& parsed) {
  switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      return depth <= 8;
    case Json::parse_event_t::key: {
      if (!parsed.is_string()) return false;
      const auto& key = parsed.get_ref<const std::string&>();
      return key == "Id" || key == "Names" || key == "Image" || key == "Created" ||
             key == "Labels" || key == kWorkloadLabel;
    }
    default:
      return true;
  }
}

}  // namespace

Result<MetadataSnapshot> parseEngineContainerList(std::string_view json, std::string_view runtime) {
  const Json root = Json::parse(json.begin(), json.end(), keepMember, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_array()) {
    return Error{"/containers/json: not a JSON array"};
  }
  MetadataSnapshot snapshot;
  for (const auto& entry : root) {
    const std::string id = stringAt(entry, "Id");
    if (id.empty()) {
      ++snapshot.skippedEntries;
      continue;
    }
    KnownContainer known{std::string(runtime), {}};
    v1::ContainerMetadata& out = known.metadata;
    for (const auto& name : arrayAt(entry, "Names")) {
      if (!name.is_string()) continue;
      std::string text = name.get<std::string>();
      if (!text.empty() && text.front() == '/') text.erase(0, 1);
      out.set_container(std::move(text));
      break;
    }
    out.set_image(stringAt(entry, "Image"));
    if (auto created = integerAt(entry, "Created");
        created && *created > 0 && *created < INT64_MAX / 1000) {
      out.set_start_time_unix_ms(*created * 1000);
    }
    out.set_workload(stringAt(objectAt(entry, "Labels"), std::string(kWorkloadLabel).c_str()));
    snapshot.containers.insert_or_assign(id, std::move(known));
  }
  return snapshot;
}

}  // namespace fleetscale::agent
