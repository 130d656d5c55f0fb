#include "fleetscale/agent/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

// The types a `# TYPE` line names. OpenMetrics' gauge-like ones share SeriesType::kGauge but
// differ in the sample suffixes their families have.
enum class FamilyType {
  kCounter,
  kGauge,
  kSummary,
  kHistogram,
  kGaugeHistogram,
  kStateSet,
  kInfo,
  kUnknown,
};

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// Any case, as Prometheus' 0.0.4 parser upper-cases the word before looking it up.
std::optional<FamilyType> familyTypeNamed(std::string_view word) {
  constexpr std::pair<std::string_view, FamilyType> kNames[] = {
      {"counter", FamilyType::kCounter},
      {"gauge", FamilyType::kGauge},
      {"summary", FamilyType::kSummary},
      {"histogram", FamilyType::kHistogram},
      {"gaugehistogram", FamilyType::kGaugeHistogram},
      {"stateset", FamilyType::kStateSet},
      {"info", FamilyType::kInfo},
      {"untyped", FamilyType::kUnknown},  // 0.0.4
      {"unknown", FamilyType::kUnknown},  // OpenMetrics
  };
  for (const auto& [name, type] : kNames) {
    if (equalsIgnoringCase(word, name)) return type;
  }
  return std::nullopt;
}

SeriesType seriesTypeOf(FamilyType type) {
  switch (type) {
    case FamilyType::kCounter:
      return SeriesType::kCounter;
    case FamilyType::kSummary:
      return SeriesType::kSummary;
    case FamilyType::kHistogram:
      return SeriesType::kHistogram;
    case FamilyType::kGauge:
    case FamilyType::kGaugeHistogram:
    case FamilyType::kStateSet:
    case FamilyType::kInfo:
      return SeriesType::kGauge;
    case FamilyType::kUnknown:
      break;
  }
  return SeriesType::kUntyped;
}

// Sample name suffixes that some family types have, none a suffix of another, so a name ends in
// at most one of them.
constexpr std::string_view kSampleSuffixes[] = {"_total",  "_created", "_sum",    "_count",
                                                "_bucket", "_gsum",    "_gcount", "_info"};

bool familyHasSuffix(FamilyType type, std::string_view suffix) {
  switch (type) {
    case FamilyType::kCounter:
      // OpenMetrics declares "foo" and writes foo_total; 0.0.4 declares foo_total itself, which
      // the exact name matches.
      return suffix == "_total" || suffix == "_created";
    case FamilyType::kSummary:
      return suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case FamilyType::kHistogram:
      return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case FamilyType::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_gsum" || suffix == "_gcount";
    case FamilyType::kInfo:
      return suffix == "_info";
    case FamilyType::kGauge:
    case FamilyType::kStateSet:
    case FamilyType::kUnknown:
      break;
  }
  return false;
}

bool isBlank(char c) { return c == ' ' || c == '\t'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool isLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// How a number std::from_chars found out of range is read: Go's ParseFloat rounds one too small
// for a double to 0 but rejects one too large. Which one it is follows from the sign of its order
// of magnitude: the place of its first nonzero digit plus its exponent. `number` is well-formed
// (from_chars took all of it) and has no sign; `hex` numbers have 4-bit digits and a power-of-2
// exponent, which only scales the order, never flips its sign.
bool isTooSmallForADouble(std::string_view number, bool hex) {
  const std::size_t exponentAt = number.find_first_of(hex ? "pP" : "eE");
  // Saturated: a hostile exponent may have any number of digits.
  constexpr std::int64_t kExponentCap = 1'000'000'000'000;
  std::int64_t exponent = 0;
  if (exponentAt != std::string_view::npos) {
    std::string_view digits = number.substr(exponentAt + 1);
    const bool negative = !digits.empty() && digits.front() == '-';
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+'))
      digits.remove_prefix(1);
    for (char c : digits) exponent = std::min(exponent * 10 + (c - '0'), kExponentCap);
    if (negative) exponent = -exponent;
  }
  const std::string_view mantissa = number.substr(0, exponentAt);
  const std::size_t point = mantissa.find('.');
  const std::string_view integerPart = mantissa.substr(0, point);
  const std::size_t firstNonzero = integerPart.find_first_not_of('0');
  std::int64_t order = 0;  // of the first nonzero digit: 0 for the units digit
  if (firstNonzero != std::string_view::npos) {
    order = static_cast<std::int64_t>(integerPart.size() - firstNonzero) - 1;
  } else {
    const std::string_view fraction =
        point == std::string_view::npos ? std::string_view() : mantissa.substr(point + 1);
    const std::size_t firstFractionNonzero = fraction.find_first_not_of('0');
    if (firstFractionNonzero == std::string_view::npos) return true;  // zero; not out of range
    order = -static_cast<std::int64_t>(firstFractionNonzero) - 1;
  }
  return order * (hex ? 4 : 1) + exponent < 0;
}

// Go's strconv.ParseFloat, which both formats refer to, without its '_' digit separators (legal
// only after a 0x prefix, never written by exporters). std::from_chars is locale-independent and
// reads only the view; it also takes a leading '-', "inf" and "nan" of its own, which must not
// slip past Go's stricter forms, so only a digit or '.' may start what it is given.
std::optional<double> parseGoFloat(std::string_view text) {
  std::string_view number = text;
  bool negative = false;
  if (!number.empty() && (number.front() == '+' || number.front() == '-')) {
    negative = number.front() == '-';
    number.remove_prefix(1);
  }
  if (equalsIgnoringCase(number, "inf") || equalsIgnoringCase(number, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (equalsIgnoringCase(text, "nan")) return std::numeric_limits<double>::quiet_NaN();  // unsigned
  const bool hex = number.size() >= 2 && number[0] == '0' && (number[1] == 'x' || number[1] == 'X');
  if (hex) {
    number.remove_prefix(2);
    // Go requires the exponent of a hexadecimal float; from_chars does not.
    if (number.find_first_of("pP") == std::string_view::npos) return std::nullopt;
  }
  if (number.empty() ||
      !(isDigit(number.front()) || number.front() == '.' || (hex && isHexDigit(number.front())))) {
    return std::nullopt;
  }
  double value = 0;
  const char* end = number.data() + number.size();
  const auto [stop, error] = std::from_chars(
      number.data(), end, value, hex ? std::chars_format::hex : std::chars_format::general);
  if (stop != end) return std::nullopt;
  if (error == std::errc::result_out_of_range) {
    if (!isTooSmallForADouble(number, hex)) return std::nullopt;
    value = 0;
  } else if (error != std::errc()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

// 0.0.4 writes integer milliseconds (Go's ParseInt: optional sign, int64 range); OpenMetrics
// writes seconds as a real number. Either is accepted, as the content type that tells them apart
// is not ours to see.
bool isTimestamp(std::string_view token) {
  const bool plus = !token.empty() && token.front() == '+';
  const std::string_view digits = plus ? token.substr(1) : token;
  // from_chars takes a '-' of its own, which must not follow the '+'.
  if (!digits.empty() && (isDigit(digits.front()) || (digits.front() == '-' && !plus))) {
    std::int64_t millis = 0;
    const char* end = digits.data() + digits.size();
    const auto [stop, error] = std::from_chars(digits.data(), end, millis);
    if (error == std::errc() && stop == end) return true;
  }
  const auto seconds = parseGoFloat(token);
  return seconds && std::isfinite(*seconds);
}

// The first byte of `line` that is a NUL or not part of well-formed UTF-8; npos when none.
std::size_t firstInvalidByte(std::string_view line) {
  const auto* begin = reinterpret_cast<const unsigned char*>(line.data());
  const auto* end = begin + line.size();
  for (const auto* p = begin; p < end;) {
    const std::size_t length = *p == 0 ? 0 : utf8SequenceLength(p, end);
    if (length == 0) return static_cast<std::size_t>(p - begin);
    p += length;
  }
  return std::string_view::npos;
}

enum class LineOutcome {
  kKept,
  kFiltered,   // a sample `wanted` rejected
  kMalformed,  // a sample line
  kMalformedComment,
  kOverLimit,
  kIgnored,  // blank, a comment, HELP, UNIT, a TYPE line that was read
  kEnd,      // OpenMetrics' "# EOF", or maxSamples reached
};

// A position in one line; reading past its end yields nothing.
class Cursor {
 public:
  explicit Cursor(std::string_view line) : rest_(line) {}

  bool atEnd() const { return rest_.empty(); }
  bool atBlankOrEnd() const { return rest_.empty() || isBlank(rest_.front()); }
  bool startsWith(char c) const { return !rest_.empty() && rest_.front() == c; }

  bool consume(char c) {
    if (!startsWith(c)) return false;
    rest_.remove_prefix(1);
    return true;
  }
  void skipBlanks() {
    while (!rest_.empty() && isBlank(rest_.front())) rest_.remove_prefix(1);
  }
  // Up to the next blank or the end of the line.
  std::string_view token() {
    std::size_t length = 0;
    while (length < rest_.size() && !isBlank(rest_[length])) ++length;
    return take(length);
  }
  // [a-zA-Z_:][a-zA-Z0-9_:]*, or "" when none starts here.
  std::string_view metricName() { return name(/*colons=*/true); }
  // [a-zA-Z_][a-zA-Z0-9_]*, or "".
  std::string_view labelName() { return name(/*colons=*/false); }

  // A label value after its opening quote, unescaped, through the closing quote. Only the
  // escapes both formats define; anything else after a backslash, or no closing quote, is
  // malformed.
  std::optional<std::string> quotedValue() {
    std::string value;
    for (std::size_t i = 0; i < rest_.size(); ++i) {
      const char c = rest_[i];
      if (c == '"') {
        rest_.remove_prefix(i + 1);
        return value;
      }
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (++i == rest_.size()) return std::nullopt;
      switch (rest_[i]) {
        case '\\':
          value.push_back('\\');
          break;
        case '"':
          value.push_back('"');
          break;
        case 'n':
          value.push_back('\n');
          break;
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view name(bool colons) {
    const auto allowed = [colons](char c) {
      return isLetterOrUnderscore(c) || (colons && c == ':');
    };
    if (rest_.empty() || !allowed(rest_.front())) return {};
    std::size_t length = 1;
    while (length < rest_.size() && (allowed(rest_[length]) || isDigit(rest_[length]))) ++length;
    return take(length);
  }
  std::string_view take(std::size_t length) {
    const std::string_view taken = rest_.substr(0, length);
    rest_.remove_prefix(length);
    return taken;
  }

  std::string_view rest_;
};

class ExpositionParser {
 public:
  ExpositionParser(const ExpositionLimits& limits,
                   const std::function<bool(std::string_view)>& wanted)
      : limits_(limits), wanted_(wanted) {}

  Result<Exposition> parse(std::string_view text) {
    std::size_t lineNumber = 0;
    for (std::size_t start = 0; start < text.size();) {
      ++lineNumber;
      const std::size_t newline = text.find('\n', start);
      const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

      if (const std::size_t bad = firstInvalidByte(line); bad != std::string_view::npos) {
        return Error{"not a metrics exposition: line " + std::to_string(lineNumber) + " has " +
                     (line[bad] == '\0' ? "a NUL byte" : "bytes that are not UTF-8")};
      }
      const LineOutcome outcome = parseLine(line);
      if (outcome == LineOutcome::kEnd) break;
      switch (outcome) {
        case LineOutcome::kKept:
        case LineOutcome::kFiltered:
          ++samplesRead_;
          break;
        case LineOutcome::kMalformed:
          if (malformedSamples_++ == 0) firstMalformedSample_ = excerpt(line);
          [[fallthrough]];
        case LineOutcome::kMalformedComment:
        case LineOutcome::kOverLimit:
          if (out_.skippedLines++ == 0) out_.firstSkippedLine = lineNumber;
          break;
        default:
          break;
      }
    }
    if (malformedSamples_ > 0 && samplesRead_ == 0) {
      return Error{"not a metrics exposition: no sample line parses, the first reads " +
                   singleQuoted(firstMalformedSample_)};
    }
    return std::move(out_);
  }

 private:
  // At most 80 bytes, cut before a UTF-8 sequence, printable.
  static std::string excerpt(std::string_view line) {
    constexpr std::size_t kMaxBytes = 80;
    if (line.size() <= kMaxBytes) return escapeControl(line);
    std::size_t cut = kMaxBytes;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xc0) == 0x80) --cut;
    return escapeControl(line.substr(0, cut)) + "...";
  }

  LineOutcome parseLine(std::string_view line) {
    if (line.size() > limits_.maxLineBytes) return LineOutcome::kOverLimit;
    Cursor cursor(line);
    cursor.skipBlanks();
    if (cursor.atEnd()) return LineOutcome::kIgnored;
    if (cursor.consume('#')) return parseComment(cursor);
    return parseSample(cursor);
  }

  // "# TYPE name type" is read; "# EOF" ends the exposition; HELP, UNIT and any other comment
  // are ignored.
  LineOutcome parseComment(Cursor& cursor) {
    cursor.skipBlanks();
    const std::string_view keyword = cursor.token();
    cursor.skipBlanks();
    if (keyword == "EOF" && cursor.atEnd()) return LineOutcome::kEnd;
    if (keyword != "TYPE") return LineOutcome::kIgnored;
    const std::string_view family = cursor.metricName();
    if (family.empty() || !cursor.atBlankOrEnd()) return LineOutcome::kMalformedComment;
    cursor.skipBlanks();
    const auto type = familyTypeNamed(cursor.token());
    cursor.skipBlanks();
    if (!type || !cursor.atEnd()) return LineOutcome::kMalformedComment;
    // Both formats allow one TYPE line per family; the first one stands.
    if (!families_.emplace(family, *type).second) return LineOutcome::kMalformedComment;
    return LineOutcome::kIgnored;
  }

  LineOutcome parseSample(Cursor& cursor) {
    const std::string_view name = cursor.metricName();
    if (name.empty() || !(cursor.atBlankOrEnd() || cursor.startsWith('{'))) {
      return LineOutcome::kMalformed;
    }
    if (wanted_ && !wanted_(name)) return LineOutcome::kFiltered;
    ExpositionSample sample;
    cursor.skipBlanks();
    if (cursor.consume('{')) {
      if (const LineOutcome outcome = parseLabels(cursor, sample.labels);
          outcome != LineOutcome::kKept) {
        return outcome;
      }
    }
    cursor.skipBlanks();
    const auto value = parseGoFloat(cursor.token());
    if (!value) return LineOutcome::kMalformed;
    cursor.skipBlanks();
    // An OpenMetrics exemplar (" # {trace_id=...} 1 ...") may follow the value or timestamp.
    if (!cursor.atEnd() && !cursor.startsWith('#')) {
      if (!isTimestamp(cursor.token())) return LineOutcome::kMalformed;
      cursor.skipBlanks();
      if (!cursor.atEnd() && !cursor.startsWith('#')) return LineOutcome::kMalformed;
    }
    if (out_.samples.size() >= limits_.maxSamples) {
      out_.truncated = true;
      ++samplesRead_;  // a sample it was, which tells an exposition from garbage
      return LineOutcome::kEnd;
    }
    sample.name = name;
    sample.value = *value;
    sample.type = typeOf(name);
    out_.samples.push_back(std::move(sample));
    return LineOutcome::kKept;
  }

  // After '{', through '}'. kKept when the label set is well-formed and within maxLabels.
  LineOutcome parseLabels(Cursor& cursor,
                          std::vector<std::pair<std::string, std::string>>& labels) {
    while (true) {
      cursor.skipBlanks();
      if (cursor.consume('}')) break;  // also after a trailing comma
      const std::string_view labelName = cursor.labelName();
      if (labelName.empty()) return LineOutcome::kMalformed;
      if (labels.size() == limits_.maxLabels) return LineOutcome::kOverLimit;
      cursor.skipBlanks();
      if (!cursor.consume('=')) return LineOutcome::kMalformed;
      cursor.skipBlanks();
      if (!cursor.consume('"')) return LineOutcome::kMalformed;
      auto value = cursor.quotedValue();
      if (!value) return LineOutcome::kMalformed;
      labels.emplace_back(labelName, std::move(*value));
      cursor.skipBlanks();
      if (cursor.consume('}')) break;
      if (!cursor.consume(',')) return LineOutcome::kMalformed;
    }
    std::sort(labels.begin(), labels.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const bool duplicate =
        std::adjacent_find(labels.begin(), labels.end(), [](const auto& a, const auto& b) {
          return a.first == b.first;
        }) != labels.end();
    return duplicate ? LineOutcome::kMalformed : LineOutcome::kKept;
  }

  // The family a sample belongs to is the one named like it, or like it without a suffix the
  // family's type has. An ordered map keeps each lookup O(name length x log families) whatever
  // names a hostile exporter picks; a hash table's worst case is linear in the families.
  SeriesType typeOf(std::string_view name) const {
    if (families_.empty()) return SeriesType::kUntyped;
    if (const auto family = families_.find(name); family != families_.end()) {
      return seriesTypeOf(family->second);
    }
    for (const std::string_view suffix : kSampleSuffixes) {
      if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
      const auto family = families_.find(name.substr(0, name.size() - suffix.size()));
      if (family != families_.end() && familyHasSuffix(family->second, suffix)) {
        return seriesTypeOf(family->second);
      }
      break;  // no other suffix can match
    }
    return SeriesType::kUntyped;
  }

  const ExpositionLimits& limits_;
  const std::function<bool(std::string_view)>& wanted_;
  Exposition out_;
  std::map<std::string, FamilyType, std::less<>> families_;  // from the TYPE lines so far
  std::size_t samplesRead_ = 0;                              // parsed, whether kept or filtered out
  std::size_t malformedSamples_ = 0;
  std::string firstMalformedSample_;
};

}  // namespace

Result<Exposition> parseExposition(std::string_view text, const ExpositionLimits& limits,
                                   const std::function<bool(std::string_view)>& wanted) {
  return ExpositionParser(limits, wanted).parse(text);
}

}  // namespace fleetscale::agent
