// Type-checked access to parsed JSON from untrusted peers (kubelet, container engines): every
// accessor returns an empty value instead of throwing when a member is missing or has another
// type, so parsers built on it cannot be crashed by well-formed but unexpected documents.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace fleetscale::agent::json_access {

using Json = nlohmann::json;

// The member `key` of `object`, or nullptr when `object` is not an object or lacks it.
inline const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

inline std::string stringAt(const Json& object, const char* key) {
  const Json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

inline std::optional<bool> boolAt(const Json& object, const char* key) {
  const Json* value = member(object, key);
  if (value == nullptr || !value->is_boolean()) return std::nullopt;
  return value->get<bool>();
}

inline std::optional<std::int64_t> integerAt(const Json& object, const char* key) {
  const Json* value = member(object, key);
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  if (value->is_number_unsigned()) {
    const auto unsignedValue = value->get<std::uint64_t>();
    if (unsignedValue > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(unsignedValue);
  }
  return value->get<std::int64_t>();
}

// The array member `key`, or an empty array.
inline const Json& arrayAt(const Json& object, const char* key) {
  static const Json empty = Json::array();
  const Json* value = member(object, key);
  return value != nullptr && value->is_array() ? *value : empty;
}

// The object member `key`, or an empty object.
inline const Json& objectAt(const Json& object, const char* key) {
  static const Json empty = Json::object();
  const Json* value = member(object, key);
  return value != nullptr && value->is_object() ? *value : empty;
}

}  // namespace fleetscale::agent::json_access
