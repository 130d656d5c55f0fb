// A pod's /metrics answer, read from the network: the Prometheus text and OpenMetrics exposition
// parser, with the default limits, with small ones and with a `wanted` filter. Beyond not
// crashing, the results must agree with each other: a filter only removes samples, a smaller
// maxSamples only shortens the list.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fleetscale/agent/exposition.h"

namespace {

using fleetscale::agent::Exposition;
using fleetscale::agent::ExpositionLimits;
using fleetscale::agent::ExpositionSample;
using fleetscale::agent::parseExposition;

bool isNameStart(char c, bool colons) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
}

bool isName(std::string_view name, bool colons) {
  if (name.empty() || !isNameStart(name.front(), colons)) return false;
  for (char c : name) {
    if (!isNameStart(c, colons) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool wanted(std::string_view name) { return name.size() % 2 == 0 || name.ends_with("_total"); }

void checkInvariants(const Exposition& parsed, const ExpositionLimits& limits) {
  if (parsed.samples.size() > limits.maxSamples) __builtin_trap();
  if ((parsed.skippedLines == 0) != (parsed.firstSkippedLine == 0)) __builtin_trap();
  for (const ExpositionSample& sample : parsed.samples) {
    if (!isName(sample.name, /*colons=*/true)) __builtin_trap();
    if (sample.labels.size() > limits.maxLabels) __builtin_trap();
    for (std::size_t i = 0; i < sample.labels.size(); ++i) {
      if (!isName(sample.labels[i].first, /*colons=*/false)) __builtin_trap();
      // Strictly increasing: sorted and unique.
      if (i > 0 && !(sample.labels[i - 1].first < sample.labels[i].first)) __builtin_trap();
    }
  }
}

bool sameSample(const ExpositionSample& a, const ExpositionSample& b) {
  const bool sameValue = a.value == b.value || (std::isnan(a.value) && std::isnan(b.value));
  return a.name == b.name && a.labels == b.labels && a.type == b.type && sameValue;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const ExpositionLimits defaults;
  const auto all = parseExposition(text);
  if (all) checkInvariants(*all, defaults);

  // A smaller maxSamples reads a prefix of the same samples.
  const ExpositionLimits three{.maxSamples = 3};
  const auto firstThree = parseExposition(text, three);
  if (firstThree) checkInvariants(*firstThree, three);
  if (all && !all->truncated) {
    if (!firstThree) __builtin_trap();
    const std::size_t expected = std::min<std::size_t>(all->samples.size(), 3);
    if (firstThree->samples.size() != expected) __builtin_trap();
    if (firstThree->truncated != (all->samples.size() > 3)) __builtin_trap();
    for (std::size_t i = 0; i < expected; ++i) {
      if (!sameSample(firstThree->samples[i], all->samples[i])) __builtin_trap();
    }
  }

  // Small limits everywhere; the filter keeps exactly the samples it accepts.
  const ExpositionLimits small{.maxSamples = 3, .maxLabels = 2, .maxLineBytes = 64};
  const auto unfiltered = parseExposition(text, small);
  if (unfiltered) checkInvariants(*unfiltered, small);
  const auto filtered = parseExposition(text, small, wanted);
  if (!filtered) return 0;
  checkInvariants(*filtered, small);
  for (const ExpositionSample& sample : filtered->samples) {
    if (!wanted(sample.name)) __builtin_trap();
  }
  if (unfiltered && !unfiltered->truncated && !filtered->truncated) {
    if (filtered->skippedLines > unfiltered->skippedLines) __builtin_trap();
    std::size_t next = 0;
    for (const ExpositionSample& sample : unfiltered->samples) {
      if (!wanted(sample.name)) continue;
      if (next == filtered->samples.size() || !sameSample(sample, filtered->samples[next++])) {
        __builtin_trap();
      }
    }
    if (next != filtered->samples.size()) __builtin_trap();
  }
  return 0;
}
