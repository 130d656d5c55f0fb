#include "fleetscale/sim/lease_object.h"

#include <cstdio>
#include <ctime>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

// What the API server says when the JSON does not fit the Go type.
ApiError undecodable(const std::string& why) {
  return badRequest("Lease in version \"v1\" cannot be handled as a Lease: " + why);
}

bool digits(std::string_view text, std::size_t at, std::size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

// A string-to-string map (labels, annotations); null counts as absent.
std::optional<ApiError> checkStringMap(const json& metadata, const char* key) {
  if (!metadata.contains(key) || metadata[key].is_null()) return std::nullopt;
  const json& map = metadata[key];
  if (!map.is_object()) {
    return undecodable(std::string("json: cannot unmarshal ") + map.type_name() +
                       " into Go struct field ObjectMeta.metadata." + key +
                       " of type map[string]string");
  }
  for (const auto& [name, value] : map.items()) {
    if (!value.is_string()) {
      return undecodable(std::string("json: cannot unmarshal ") + value.type_name() +
                         " into Go struct field ObjectMeta.metadata." + key + " of type string");
    }
  }
  return std::nullopt;
}

std::string formatUtcMicros(std::time_t whole, int micros) {
  std::tm utc{};
  ::gmtime_r(&whole, &utc);
  char text[48];
  const std::size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%06dZ", micros);
  return text;
}

}  // namespace

std::optional<std::string> normalizeMicroTime(std::string_view text) {
  // 2006-01-02T15:04:05.000000Z07:00
  int year, month, day, hour, minute, second, micros;
  if (text.size() < 27 || !digits(text, 0, 4, year) || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) || text[10] != 'T' ||
      !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) ||
      text[16] != ':' || !digits(text, 17, 2, second) || text[19] != '.' ||
      !digits(text, 20, 6, micros)) {
    return std::nullopt;
  }
  int offsetMinutes = 0;
  const std::string_view zone = text.substr(26);
  if (zone != "Z") {
    int offsetHours, offsetRest;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') ||
        !digits(zone, 1, 2, offsetHours) || zone[3] != ':' || !digits(zone, 4, 2, offsetRest) ||
        offsetHours > 23 || offsetRest > 59) {
      return std::nullopt;
    }
    offsetMinutes = (offsetHours * 60 + offsetRest) * (zone[0] == '-' ? -1 : 1);
  }
  static constexpr int kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDaysIn[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::tm parts{};
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  parts.tm_hour = hour;
  parts.tm_min = minute;
  parts.tm_sec = second;
  // Seconds and microseconds stay apart: years past 2262 (valid MicroTimes) overflow the
  // nanosecond system_clock.
  const std::time_t utc = ::timegm(&parts) - static_cast<std::time_t>(offsetMinutes) * 60;
  return formatUtcMicros(utc, micros);
}

std::string formatMicroTime(WallTime time) {
  const auto micros = std::chrono::floor<std::chrono::microseconds>(time.time_since_epoch());
  const auto seconds = std::chrono::floor<std::chrono::seconds>(micros);
  return formatUtcMicros(seconds.count(), static_cast<int>((micros - seconds).count()));
}

ApiResult decodeLease(const json& body, const std::string& namespaceName,
                      const std::string& urlName) {
  if (!body.is_object()) {
    return ApiResult::fail(undecodable(std::string("json: cannot unmarshal ") + body.type_name() +
                                       " into Go value of type v1.Lease"));
  }
  if (body.contains("kind") && body["kind"] != "Lease") {
    return ApiResult::fail(
        badRequest("the kind of the object (" + body["kind"].dump() + ") does not match Lease"));
  }
  if (body.contains("apiVersion") && body["apiVersion"] != kLeaseApiVersion) {
    return ApiResult::fail(badRequest("the API version of the object (" +
                                      body["apiVersion"].dump() + ") is not " +
                                      std::string(kLeaseApiVersion)));
  }
  const json metadata =
      body.contains("metadata") && !body["metadata"].is_null() ? body["metadata"] : json::object();
  if (!metadata.is_object()) {
    return ApiResult::fail(undecodable(std::string("json: cannot unmarshal ") +
                                       metadata.type_name() +
                                       " into Go struct field Lease.metadata of type "
                                       "v1.ObjectMeta"));
  }
  json stored = {{"kind", "Lease"}, {"apiVersion", kLeaseApiVersion}};
  json& meta = stored["metadata"] = json::object();
  for (const char* key : {"name", "generateName", "namespace", "resourceVersion", "uid"}) {
    if (!metadata.contains(key) || metadata[key].is_null()) continue;
    if (!metadata[key].is_string()) {
      return ApiResult::fail(
          undecodable(std::string("json: cannot unmarshal ") + metadata[key].type_name() +
                      " into Go struct field ObjectMeta.metadata." + key + " of type string"));
    }
    if (!metadata[key].get<std::string>().empty()) meta[key] = metadata[key];
  }
  for (const char* key : {"labels", "annotations"}) {
    if (auto problem = checkStringMap(metadata, key)) return ApiResult::fail(*problem);
    if (metadata.contains(key) && metadata[key].is_object() && !metadata[key].empty()) {
      meta[key] = metadata[key];
    }
  }
  const std::string name = meta.value("name", "");  // as sent, before the URL's fills it in
  if (auto problem = scopeToRequest(meta, namespaceName, urlName)) {
    return ApiResult::fail(*problem);
  }

  const json spec =
      body.contains("spec") && !body["spec"].is_null() ? body["spec"] : json::object();
  if (!spec.is_object()) {
    return ApiResult::fail(undecodable(std::string("json: cannot unmarshal ") + spec.type_name() +
                                       " into Go struct field Lease.spec of type v1.LeaseSpec"));
  }
  json& storedSpec = stored["spec"] = json::object();
  auto typeError = [](const std::string& field, const json& value, const char* goType) {
    return ApiResult::fail(undecodable(std::string("json: cannot unmarshal ") + value.type_name() +
                                       " into Go struct field LeaseSpec.spec." + field +
                                       " of type " + goType));
  };
  if (spec.contains("holderIdentity") && !spec["holderIdentity"].is_null()) {
    if (!spec["holderIdentity"].is_string()) {
      return typeError("holderIdentity", spec["holderIdentity"], "string");
    }
    storedSpec["holderIdentity"] = spec["holderIdentity"];
  }
  for (const char* field : {"leaseDurationSeconds", "leaseTransitions"}) {
    if (!spec.contains(field) || spec[field].is_null()) continue;
    const json& value = spec[field];
    if (!value.is_number_integer() || value.get<long long>() < INT32_MIN ||
        value.get<long long>() > INT32_MAX) {
      return typeError(field, value, "int32");
    }
    storedSpec[field] = value.get<long long>();
  }
  for (const char* field : {"acquireTime", "renewTime"}) {
    if (!spec.contains(field) || spec[field].is_null()) continue;
    const json& value = spec[field];
    if (!value.is_string()) return typeError(field, value, "v1.MicroTime");
    auto normalized = normalizeMicroTime(value.get<std::string>());
    if (!normalized) {
      return ApiResult::fail(undecodable("parsing time " + value.dump() +
                                         " as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse "
                                         "spec." +
                                         field));
    }
    storedSpec[field] = *normalized;
  }

  // Validation (ValidateLease): a name, a DNS subdomain; durations and transitions in range.
  const std::string shownName = name.empty() ? meta.value("generateName", "") : name;
  if (name.empty() && !meta.contains("generateName")) {
    return ApiResult::fail(leaseInvalid(shownName, "metadata.name", "FieldValueRequired",
                                        "Required value: name or generateName is required"));
  }
  if (!name.empty()) {
    if (const std::string problem = dnsSubdomainProblem(name); !problem.empty()) {
      return ApiResult::fail(leaseInvalid(name, "metadata.name", "FieldValueInvalid",
                                          "Invalid value: \"" + name + "\": " + problem));
    }
  }
  if (storedSpec.contains("leaseDurationSeconds") && storedSpec["leaseDurationSeconds"] <= 0) {
    return ApiResult::fail(
        leaseInvalid(shownName, "spec.leaseDurationSeconds", "FieldValueInvalid",
                     "Invalid value: " + storedSpec["leaseDurationSeconds"].dump() +
                         ": must be greater than 0"));
  }
  if (storedSpec.contains("leaseTransitions") && storedSpec["leaseTransitions"] < 0) {
    return ApiResult::fail(leaseInvalid(shownName, "spec.leaseTransitions", "FieldValueInvalid",
                                        "Invalid value: " + storedSpec["leaseTransitions"].dump() +
                                            ": must be greater than or equal to 0"));
  }
  return ApiResult{std::nullopt, std::move(stored)};
}

ApiResult decodeLease(std::string_view body, const std::string& namespaceName,
                      const std::string& urlName) {
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return ApiResult::fail(badRequest(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml"));
  }
  return decodeLease(parsed, namespaceName, urlName);
}

ApiError leaseNotFound(const std::string& name) { return objectNotFound(kLeaseResource, name); }

ApiError leaseAlreadyExists(const std::string& name) {
  return objectAlreadyExists(kLeaseResource, name);
}

ApiError leaseConflict(const std::string& name, const std::string& detail) {
  return objectConflict(kLeaseResource, name, detail);
}

ApiError leaseInvalid(const std::string& name, const std::string& field, const std::string& reason,
                      const std::string& detail) {
  return objectInvalid(kLeaseResource, name, {FieldError{field, reason, detail}});
}

}  // namespace fleetscale::sim
