#include "fleetscale/aggregator/sources/prometheus_response.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace fleetscale::aggregator::sources {
namespace {

using nlohmann::json;

// [<unix seconds>, "<value>"]: the value is a string so that NaN and infinities survive JSON.
Result<PromSample> sampleFrom(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return Error{"a sample is not [time, \"value\"]"};
  }
  PromSample sample;
  const auto timestamp = fromUnixSeconds(pair[0].get<double>());
  if (!timestamp) return Error{"a sample's time is absurd"};
  sample.timestamp = *timestamp;
  const std::string& text = pair[1].get_ref<const std::string&>();
  char* end = nullptr;
  sample.value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    return Error{"a sample's value is not a number"};
  }
  return sample;
}

// A string field, "" when absent or of another type (a proxy's error page has "status": 404).
std::string stringField(const json& object, const char* key) {
  const auto field = object.find(key);
  return field != object.end() && field->is_string() ? field->get<std::string>() : "";
}

}  // namespace

Result<std::vector<PromSample>> parsePrometheusQueryResponse(std::string_view body) {
  const json root = json::parse(body, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return Error{"the answer is not a JSON object"};
  const std::string status = stringField(root, "status");
  if (status == "error") {
    return Error{stringField(root, "errorType") + ": " + stringField(root, "error")};
  }
  if (status != "success") return Error{"the answer's status is neither success nor error"};
  const auto found = root.find("data");
  if (found == root.end() || !found->is_object()) return Error{"the answer has no data"};
  const json& data = *found;
  const std::string type = stringField(data, "resultType");
  const json& result = data.contains("result") ? data["result"] : json();
  std::vector<PromSample> samples;
  if (type == "scalar") {
    auto sample = sampleFrom(result);
    if (!sample) return sample.error();
    if (std::isfinite(sample->value)) samples.push_back(std::move(*sample));
    return samples;
  }
  if (type != "vector") {
    return Error{"the query gives a " + (type.empty() ? std::string("result of no type") : type) +
                 ", not an instant vector or a scalar"};
  }
  if (!result.is_array()) return Error{"the vector result is not a list"};
  if (result.size() > kMaxPromSeries) {
    return Error{"the query gives " + std::to_string(result.size()) + " series, more than " +
                 std::to_string(kMaxPromSeries)};
  }
  for (const auto& series : result) {
    if (!series.is_object()) return Error{"a series is not an object"};
    const auto pair = series.find("value");
    auto sample = sampleFrom(pair == series.end() ? json() : *pair);
    if (!sample) return sample.error();
    const auto labels = series.find("metric");
    const json metric = labels == series.end() ? json::object() : *labels;
    if (!metric.is_object()) return Error{"a series' labels are not an object"};
    for (const auto& [name, value] : metric.items()) {
      if (!value.is_string()) return Error{"label " + name + " is not a string"};
      sample->labels[name] = value.get<std::string>();
    }
    if (std::isfinite(sample->value)) samples.push_back(std::move(*sample));
  }
  return samples;
}

}  // namespace fleetscale::aggregator::sources
