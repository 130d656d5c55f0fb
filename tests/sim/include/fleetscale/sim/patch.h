// The PATCH flavours the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
// and strategic merge patch (merge patch plus lists merged by key, such as containers by name).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale::sim {

enum class PatchType { kMerge, kStrategicMerge, kJsonPatch, kApply, kUnknown };

// From the request's Content-Type (parameters such as "; charset=utf-8" are ignored).
PatchType patchTypeOf(std::string_view contentType);

// Applies `patchText` to `target`. Errors say why (malformed JSON, a failed "test" op, ...).
// kApply and kUnknown are errors: the caller answers 415.
Result<nlohmann::json> applyPatch(const nlohmann::json& target, std::string_view patchText,
                                  PatchType type);

// Strategic merge on parsed values; exposed for tests.
nlohmann::json strategicMerge(const nlohmann::json& target, const nlohmann::json& patch);

}  // namespace fleetscale::sim
