// What a pod's /metrics endpoint answers: the Prometheus text exposition format (0.0.4) and
// OpenMetrics text (1.0), reduced to samples with their labels, value and family type. A pure
// function over text; the input is untrusted (garbage, huge, hostile), so the parser is fuzzed
// (tests/fuzz/exposition_fuzz.cpp), keeps at most ExpositionLimits, and runs in linear time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// The type a `# TYPE` line gives a sample's family. OpenMetrics' gauge-like types (gaugehistogram,
// stateset, info) are kGauge: their samples may go down, so they must never be read as rates;
// `unknown` and `untyped` are kUntyped.
enum class SeriesType { kUntyped, kCounter, kGauge, kSummary, kHistogram };

struct ExpositionSample {
  // As written: "http_requests_total", "latency_seconds_bucket", not the family name.
  std::string name;
  // Sorted by label name, no duplicates, values unescaped.
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;  // NaN, +Inf and -Inf as written
  // From the `# TYPE` line of the sample's family, when one precedes the sample and the name is
  // the family's or the family's plus a suffix its type has (counter: _total, _created; summary:
  // _sum, _count, _created; histogram: _bucket, _sum, _count, _created; gaugehistogram: _bucket,
  // _gsum, _gcount; info: _info). Else kUntyped.
  SeriesType type = SeriesType::kUntyped;
};

struct ExpositionLimits {
  // Samples kept, after the `wanted` filter. One more sets Exposition::truncated and ends parsing.
  std::size_t maxSamples = 10000;
  // Labels of one sample; a line with more is skipped (and counted).
  std::size_t maxLabels = 64;
  // Bytes of one line without its line ending; a longer line is skipped (and counted).
  std::size_t maxLineBytes = 64 * 1024;
};

struct Exposition {
  std::vector<ExpositionSample> samples;  // in input order
  // Lines skipped: sample and `# TYPE` lines that are malformed or over a limit, and any line
  // longer than maxLineBytes. Other comments (HELP, UNIT, ...) are not read and never count.
  std::size_t skippedLines = 0;
  std::size_t firstSkippedLine = 0;  // its 1-based line number, for a log message; 0: none
  bool truncated = false;            // maxSamples reached; the rest of the text was not read
};

// Parses an exposition up to its end or OpenMetrics' `# EOF`. Lines end in "\n" or "\r\n";
// tokens may be separated by spaces and tabs. Label values take the escapes \\ \" \n; a trailing
// comma in a label set is allowed; a duplicate label name makes the line malformed. Values are
// read like Go's strconv.ParseFloat (decimal and 0x hexadecimal with a p exponent, NaN, Inf,
// +Inf, -Inf, Infinity in any case; a value too small for a double is 0, one too large is
// malformed; no '_' digit separators). A timestamp after the value is checked and dropped: integer
// milliseconds (0.0.4) or real seconds (OpenMetrics). An OpenMetrics exemplar (" # {...} ...")
// after them is ignored.
// `wanted` (empty: every sample) is asked with each sample's name before its labels are read, so
// unwanted series cost little; rejected samples are neither kept nor counted as skipped.
// Fails only when the text is clearly not an exposition: a NUL byte or bytes that are not UTF-8
// (in the part read), or malformed sample lines and not one sample line that parses or was
// filtered out (lines over a limit prove nothing either way). Otherwise malformed lines are
// skipped and counted.
Result<Exposition> parseExposition(std::string_view text, const ExpositionLimits& limits = {},
                                   const std::function<bool(std::string_view)>& wanted = {});

}  // namespace fleetscale::agent
