#include "fleetscale/agent/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace fleetscale::agent {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// The example of the Prometheus documentation's text format page (0.0.4), verbatim.
constexpr std::string_view kPrometheusDocsExample =
    R"(# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
)";

Exposition parseOk(std::string_view text, const ExpositionLimits& limits = {},
                   const std::function<bool(std::string_view)>& wanted = {}) {
  auto parsed = parseExposition(text, limits, wanted);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? std::move(parsed).value() : Exposition{};
}

// The value of the one sample in `text`, or nullopt when the line was skipped.
std::optional<double> onlyValue(const std::string& text) {
  const Exposition parsed = parseOk("ok 1\n" + text + "\n");
  if (parsed.samples.size() != 2) return std::nullopt;
  return parsed.samples[1].value;
}

TEST(ExpositionTest, ParsesThePrometheusDocumentationExample) {
  const Exposition parsed = parseOk(kPrometheusDocsExample);
  EXPECT_EQ(parsed.skippedLines, 0u);
  EXPECT_FALSE(parsed.truncated);
  ASSERT_EQ(parsed.samples.size(), 20u);

  const ExpositionSample& first = parsed.samples[0];
  EXPECT_EQ(first.name, "http_requests_total");
  EXPECT_EQ(first.labels, (Labels{{"code", "200"}, {"method", "post"}})) << "sorted by name";
  EXPECT_EQ(first.value, 1027);
  EXPECT_EQ(first.type, SeriesType::kCounter);
  EXPECT_EQ(parsed.samples[1].value, 3) << "runs of blanks between tokens";

  const ExpositionSample& escaped = parsed.samples[2];
  EXPECT_EQ(escaped.labels,
            (Labels{{"error", "Cannot find file:\n\"FILE.TXT\""}, {"path", R"(C:\DIR\FILE.TXT)"}}));
  EXPECT_EQ(escaped.value, 1.458255915e9);
  EXPECT_EQ(escaped.type, SeriesType::kUntyped);

  EXPECT_EQ(parsed.samples[3].name, "metric_without_timestamp_and_labels");
  EXPECT_TRUE(parsed.samples[3].labels.empty());
  EXPECT_EQ(parsed.samples[4].value, std::numeric_limits<double>::infinity());

  for (int i = 5; i <= 12; ++i) {
    EXPECT_EQ(parsed.samples[i].type, SeriesType::kHistogram) << parsed.samples[i].name;
  }
  EXPECT_EQ(parsed.samples[10].labels, (Labels{{"le", "+Inf"}}));
  EXPECT_EQ(parsed.samples[12].name, "http_request_duration_seconds_count");
  for (int i = 13; i <= 19; ++i) {
    EXPECT_EQ(parsed.samples[i].type, SeriesType::kSummary) << parsed.samples[i].name;
  }
  EXPECT_EQ(parsed.samples[18].value, 1.7560473e+07);
}

TEST(ExpositionTest, ParsesOpenMetricsUpToEof) {
  const Exposition parsed = parseOk(
      "# TYPE acme_http_router_request_seconds summary\n"
      "# UNIT acme_http_router_request_seconds seconds\n"
      "# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n"
      "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
      "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
      "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
      "# TYPE process_cpu_seconds counter\n"
      "# UNIT process_cpu_seconds seconds\n"
      "process_cpu_seconds_total 4.20072246e+06 1520879607.789\n"
      "# TYPE foo histogram\n"
      "foo_bucket{le=\"0.01\"} 0\n"
      "foo_bucket{le=\"+Inf\"} 17 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879607.789\n"
      "foo_count 17 123 # {trace_id=\"oHg5SJYRHA0\"} 9.8\n"
      "foo_sum 324789.3\n"
      "# EOF\n"
      "after_eof 1\n"
      "\xff garbage after EOF is not read\n");
  EXPECT_EQ(parsed.skippedLines, 0u);
  ASSERT_EQ(parsed.samples.size(), 8u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(parsed.samples[i].type, SeriesType::kSummary);
  EXPECT_EQ(parsed.samples[1].value, 807283.0);
  EXPECT_EQ(parsed.samples[3].name, "process_cpu_seconds_total");
  EXPECT_EQ(parsed.samples[3].type, SeriesType::kCounter)
      << "OpenMetrics names the family without _total";
  EXPECT_EQ(parsed.samples[5].value, 17) << "the exemplar is not the value";
  EXPECT_EQ(parsed.samples[5].labels, (Labels{{"le", "+Inf"}}));
  EXPECT_EQ(parsed.samples[6].name, "foo_count");
  EXPECT_EQ(parsed.samples[7].type, SeriesType::kHistogram);
}

TEST(ExpositionTest, TypesApplyToTheFamilyAndTheSuffixesItsTypeHas) {
  struct Case {
    const char* typeLine;
    const char* sample;
    SeriesType type;
  };
  const Case cases[] = {
      {"# TYPE a_total counter", "a_total", SeriesType::kCounter},  // 0.0.4
      {"# TYPE a_total counter", "a_total_created", SeriesType::kCounter},
      {"# TYPE a counter", "a_total", SeriesType::kCounter},  // OpenMetrics
      {"# TYPE a counter", "a_created", SeriesType::kCounter},
      {"# TYPE a counter", "a", SeriesType::kCounter},
      {"# TYPE a counter", "a_sum", SeriesType::kUntyped},
      {"# TYPE a counter", "ab_total", SeriesType::kUntyped},
      {"# TYPE a COUNTER", "a_total", SeriesType::kCounter},
      {"# TYPE a gauge", "a", SeriesType::kGauge},
      {"# TYPE a gauge", "a_total", SeriesType::kUntyped},
      {"# TYPE a summary", "a", SeriesType::kSummary},
      {"# TYPE a summary", "a_sum", SeriesType::kSummary},
      {"# TYPE a summary", "a_count", SeriesType::kSummary},
      {"# TYPE a summary", "a_created", SeriesType::kSummary},
      {"# TYPE a summary", "a_bucket", SeriesType::kUntyped},
      {"# TYPE a histogram", "a_bucket", SeriesType::kHistogram},
      {"# TYPE a histogram", "a_sum", SeriesType::kHistogram},
      {"# TYPE a histogram", "a_count", SeriesType::kHistogram},
      {"# TYPE a histogram", "a_created", SeriesType::kHistogram},
      {"# TYPE a histogram", "a_total", SeriesType::kUntyped},
      {"# TYPE a gaugehistogram", "a_bucket", SeriesType::kGauge},
      {"# TYPE a gaugehistogram", "a_gsum", SeriesType::kGauge},
      {"# TYPE a gaugehistogram", "a_gcount", SeriesType::kGauge},
      {"# TYPE a gaugehistogram", "a_count", SeriesType::kUntyped},
      {"# TYPE a stateset", "a", SeriesType::kGauge},
      {"# TYPE a info", "a_info", SeriesType::kGauge},
      {"# TYPE a untyped", "a", SeriesType::kUntyped},
      {"# TYPE a unknown", "a", SeriesType::kUntyped},
      {"#TYPE\ta\tcounter  ", "a_total", SeriesType::kCounter},
      {"# type a counter", "a_total", SeriesType::kUntyped},  // a comment: TYPE is upper case
  };
  for (const Case& c : cases) {
    const Exposition parsed = parseOk(std::string(c.typeLine) + "\n" + c.sample + " 1\n");
    ASSERT_EQ(parsed.samples.size(), 1u) << c.typeLine << " / " << c.sample;
    EXPECT_EQ(parsed.samples[0].type, c.type) << c.typeLine << " / " << c.sample;
    EXPECT_EQ(parsed.skippedLines, 0u) << c.typeLine;
  }
}

TEST(ExpositionTest, ATypeLineTypesOnlyTheSamplesAfterIt) {
  const Exposition parsed = parseOk(
      "a 1\n"
      "# TYPE a gauge\n"
      "a 2\n"
      "# TYPE a counter\n"  // a second TYPE line for a family: skipped, the first stands
      "a 3\n");
  ASSERT_EQ(parsed.samples.size(), 3u);
  EXPECT_EQ(parsed.samples[0].type, SeriesType::kUntyped);
  EXPECT_EQ(parsed.samples[1].type, SeriesType::kGauge);
  EXPECT_EQ(parsed.samples[2].type, SeriesType::kGauge);
  EXPECT_EQ(parsed.skippedLines, 1u);
  EXPECT_EQ(parsed.firstSkippedLine, 4u);
}

TEST(ExpositionTest, MalformedTypeLinesAreSkippedAndCounted) {
  for (const char* line : {"# TYPE", "# TYPE a", "# TYPE a countr", "# TYPE a counter extra",
                           "# TYPE 1a counter", "# TYPE a-b counter"}) {
    const Exposition parsed = parseOk(std::string(line) + "\na 1\n");
    EXPECT_EQ(parsed.skippedLines, 1u) << line;
    ASSERT_EQ(parsed.samples.size(), 1u) << line;
    EXPECT_EQ(parsed.samples[0].type, SeriesType::kUntyped) << line;
  }
  // Other comments, HELP and UNIT included, are not read.
  EXPECT_EQ(parseOk("# HELP\n# UNIT x\n#\n# anything \xe2\x9c\x93\na 1\n").skippedLines, 0u);
}

TEST(ExpositionTest, LabelSets) {
  struct Case {
    const char* line;
    Labels labels;
  };
  const Case cases[] = {
      {R"(x{} 1)", {}},
      {R"(x{a="1",} 1)", {{"a", "1"}}},
      {"x { b = \"2\" ,\ta=\"1\" , } 1", {{"a", "1"}, {"b", "2"}}},
      {R"(x{a="1"}1)", {{"a", "1"}}},
      {R"(x{a=""} 1)", {{"a", ""}}},
      {R"(x{_a_1="# } {,"} 1)", {{"_a_1", "# } {,"}}},
      {R"(x{a="\\n is \n"} 1)", {{"a", "\\n is \n"}}},
      {"x{a=\"\xe6\x97\xa5\xe6\x9c\xac\"} 1", {{"a", "\xe6\x97\xa5\xe6\x9c\xac"}}},
      {R"(x{z="1",y="2",a="3",m="4"} 1)", {{"a", "3"}, {"m", "4"}, {"y", "2"}, {"z", "1"}}},
  };
  for (const Case& c : cases) {
    const Exposition parsed = parseOk(c.line);
    ASSERT_EQ(parsed.samples.size(), 1u) << c.line;
    EXPECT_EQ(parsed.samples[0].labels, c.labels) << c.line;
    EXPECT_EQ(parsed.samples[0].value, 1) << c.line;
  }
}

TEST(ExpositionTest, MalformedSampleLinesAreSkippedAndCounted) {
  for (const char* line : {
           R"(x{a="1",a="2"} 1)",  // duplicate label name
           R"(x{a="1",b="2",a="1"} 1)",
           R"(x{a="\t"} 1)",  // not an escape of the formats
           R"(x{a="1} 1)",
           R"(x{a="1\"} 1)",
           R"(x{a=1} 1)",
           R"(x{a} 1)",
           R"(x{,} 1)",
           R"(x{a="1",,} 1)",
           R"(x{a="1" b="2"} 1)",
           R"(x{1a="1"} 1)",
           R"(x{a:b="1"} 1)",
           R"(x{a="1"} )",
           R"(x{a="1")",
           R"(x{a="1"}} 1)",
           "x",
           "x{} ",
           "1x 1",
           "x-y 1",
           "x.y 1",
           "{a=\"1\"} 1",
           "x 1 2 3",
           "x 1 two",
           "x one",
       }) {
    const auto parsed = parseExposition(std::string("ok 1\n") + line + "\nok 2\n");
    ASSERT_TRUE(parsed.ok()) << line;
    EXPECT_EQ(parsed->samples.size(), 2u) << line;
    EXPECT_EQ(parsed->skippedLines, 1u) << line;
    EXPECT_EQ(parsed->firstSkippedLine, 2u) << line;
  }
}

TEST(ExpositionTest, MetricNames) {
  for (const char* name : {"a", "_", ":", "a:b_c:9", "A_Z", "http_requests_total"}) {
    const Exposition parsed = parseOk(std::string(name) + " 1\n");
    ASSERT_EQ(parsed.samples.size(), 1u) << name;
    EXPECT_EQ(parsed.samples[0].name, name);
  }
}

TEST(ExpositionTest, ValuesAreReadLikeGoParseFloat) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    const char* text;
    double value;
  };
  const Case cases[] = {
      {"0", 0},
      {"-0", -0.0},
      {"42", 42},
      {"+2", 2},
      {"-1.5e3", -1500},
      {"1E+2", 100},
      {".5", 0.5},
      {"5.", 5},
      {"007", 7},
      {"0x1p-2", 0.25},
      {"0X1.8P1", 3},
      {"-0x.8p1", -1},
      {"Inf", inf},
      {"+Inf", inf},
      {"-Inf", -inf},
      {"inf", inf},
      {"+INF", inf},
      {"infinity", inf},
      {"-Infinity", -inf},
      {"1e-400", 0},
      {"1.7976931348623157e308", std::numeric_limits<double>::max()},
      {"4.9e-324", std::numeric_limits<double>::denorm_min()},
      {"0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "00000000000000000000000000000000000000000000000000000000000000000000000001",
       0},
  };
  for (const Case& c : cases) {
    const auto value = onlyValue(std::string("x ") + c.text);
    ASSERT_TRUE(value.has_value()) << c.text;
    EXPECT_EQ(*value, c.value) << c.text;
    EXPECT_EQ(std::signbit(*value), std::signbit(c.value)) << c.text;
  }
  for (const char* nan : {"NaN", "nan", "NAN"}) {
    const auto value = onlyValue(std::string("x ") + nan);
    ASSERT_TRUE(value.has_value()) << nan;
    EXPECT_TRUE(std::isnan(*value)) << nan;
  }
  const auto tiny = onlyValue("x -1e-99999999999999999999999");
  ASSERT_TRUE(tiny.has_value());
  EXPECT_TRUE(*tiny == 0 && std::signbit(*tiny)) << "too small: -0, as Go has it";

  for (const char* text : {"1e400",     "-1e400",      "0x1p99999", "1e99999999999999999999999",
                           "+NaN",      "-nan",        "nan(1)",    "infin",
                           "infinityy", "+-1",         "--1",       "-+1",
                           "1_000",     "0x_1p0",      "0x10",      "0x",
                           "0xp1",      "0x1p",        "1e",        "e5",
                           ".",         "-",           "+",         "1.2.3",
                           "1,5",       "1e5.5",       "0b101",     "true",
                           "1f",        "\xe2\x88\x9e"}) {
    EXPECT_FALSE(onlyValue(std::string("x ") + text).has_value()) << text;
  }
}

TEST(ExpositionTest, TimestampsAreCheckedAndDropped) {
  for (const char* ok :
       {"x 1 1395066363000", "x 1 -3982045", "x 1 +5", "x 1 0", "x 1 1520879607.789",
        "x 1 9223372036854775807", "x 1 1 # {a=\"b\"} 1 1", "x 1 1\t", "x 1\t1"}) {
    EXPECT_EQ(onlyValue(ok), 1) << ok;
  }
  for (const char* bad :
       {"x 1 a", "x 1 NaN", "x 1 Inf", "x 1 +-5", "x 1 1e400", "x 1 1 2", "x 1 1ms"}) {
    EXPECT_FALSE(onlyValue(bad).has_value()) << bad;
  }
}

TEST(ExpositionTest, LinesAndBlanks) {
  const Exposition parsed = parseOk("\r\n  a 1\r\n\t\tb{c=\"d\"} 2 \r\n\n \t \nc 3");
  ASSERT_EQ(parsed.samples.size(), 3u);
  EXPECT_EQ(parsed.skippedLines, 0u);
  EXPECT_EQ(parsed.samples[0].name, "a");
  EXPECT_EQ(parsed.samples[1].labels, (Labels{{"c", "d"}}));
  EXPECT_EQ(parsed.samples[2].value, 3) << "a last line without its newline";

  EXPECT_TRUE(parseOk("").samples.empty());
  EXPECT_TRUE(parseOk("# only comments\n\n# EOF\n").samples.empty());
  EXPECT_TRUE(parseOk("# EOF").samples.empty());
  EXPECT_EQ(parseOk("# EOF with words\na 1\n").samples.size(), 1u) << "a comment, not the end";
  EXPECT_FALSE(parseExposition("a 1\x0d\x0d\n").ok()) << "a stray \\r is part of the value";
}

TEST(ExpositionTest, MaxSamplesTruncatesAndStops) {
  const ExpositionLimits limits{.maxSamples = 2};
  const Exposition parsed = parseOk("a 1\nmalformed\nb 2\nc 3\nmalformed too\n", limits);
  ASSERT_EQ(parsed.samples.size(), 2u);
  EXPECT_EQ(parsed.samples[1].name, "b");
  EXPECT_TRUE(parsed.truncated);
  EXPECT_EQ(parsed.skippedLines, 1u) << "nothing after the limit is read";

  EXPECT_FALSE(parseOk("a 1\nb 2\n", limits).truncated) << "exactly the limit";
  EXPECT_FALSE(parseOk("a 1\nb 2\nc{ 3\n", limits).truncated) << "only a sample is one too many";
  const Exposition none = parseOk("a 1\n", {.maxSamples = 0});
  EXPECT_TRUE(none.samples.empty());
  EXPECT_TRUE(none.truncated);
}

TEST(ExpositionTest, MaxLabelsSkipsTheLine) {
  const ExpositionLimits limits{.maxLabels = 2};
  const Exposition parsed =
      parseOk("a{x=\"1\",y=\"2\"} 1\nb{x=\"1\",y=\"2\",z=\"3\"} 2\nc{} 3\n", limits);
  ASSERT_EQ(parsed.samples.size(), 2u);
  EXPECT_EQ(parsed.samples[1].name, "c");
  EXPECT_EQ(parsed.skippedLines, 1u);
  EXPECT_EQ(parsed.firstSkippedLine, 2u);
  EXPECT_FALSE(parsed.truncated);
}

TEST(ExpositionTest, MaxLineBytesSkipsTheLine) {
  const ExpositionLimits limits{.maxLineBytes = 10};
  const Exposition parsed =
      parseOk("a 12345678\r\n# TYPE long_name counter\nlong_name_total 1\nb 123456789\n", limits);
  ASSERT_EQ(parsed.samples.size(), 1u) << "10 bytes fit, without the \\r";
  EXPECT_EQ(parsed.samples[0].name, "a");
  EXPECT_EQ(parsed.skippedLines, 3u);
  EXPECT_EQ(parsed.firstSkippedLine, 2u);

  // Lines over a limit say nothing about the text: not an error, unlike malformed ones.
  const std::string huge(1 << 20, 'a');
  const auto onlyHuge = parseExposition(huge);
  ASSERT_TRUE(onlyHuge.ok());
  EXPECT_EQ(onlyHuge->skippedLines, 1u);
}

TEST(ExpositionTest, WantedIsAskedBeforeTheLabelsAreRead) {
  std::vector<std::string> asked;
  const auto wanted = [&](std::string_view name) {
    asked.emplace_back(name);
    return name.starts_with("keep");
  };
  const Exposition parsed = parseOk(
      "# TYPE keep_total counter\n"
      "keep_total{a=\"1\"} 1\n"
      "drop{a=\"1\",a=\"bad labels are not even read\"} 2\n"
      "drop{unterminated=\" 3\n"
      "keep_total{b=\"2\"} 4\n"
      "1bad 5\n",
      {.maxSamples = 1}, wanted);
  ASSERT_EQ(parsed.samples.size(), 1u);
  EXPECT_EQ(parsed.samples[0].labels, (Labels{{"a", "1"}}));
  EXPECT_EQ(parsed.samples[0].type, SeriesType::kCounter);
  EXPECT_TRUE(parsed.truncated) << "the second wanted sample";
  EXPECT_EQ(parsed.skippedLines, 0u);
  EXPECT_EQ(asked, (std::vector<std::string>{"keep_total", "drop", "drop", "keep_total"}));

  const auto noneWanted = parseExposition("a 1\nb 2\n", {}, [](std::string_view) { return false; });
  ASSERT_TRUE(noneWanted.ok());
  EXPECT_TRUE(noneWanted->samples.empty());
}

TEST(ExpositionTest, FailsOnlyWhenClearlyNotAnExposition) {
  for (const std::string_view text : {
           std::string_view("a 1\nb\0 2\n", 9),
           std::string_view("a 1\n\xc3\x28 1\n"),          // not UTF-8
           std::string_view("a{b=\"\xed\xa0\x80\"} 1\n"),  // a surrogate
           std::string_view("<html><body>Not Found</body></html>\n"),
           std::string_view("404 page not found\n"),
           std::string_view("{\"status\": \"error\"}"),
           std::string_view("# TYPE a counter\na_total one\na_total two\n"),
       }) {
    const auto parsed = parseExposition(text);
    EXPECT_FALSE(parsed.ok()) << text;
  }
  const auto html = parseExposition("<html>\n<body>\n");
  ASSERT_FALSE(html.ok());
  EXPECT_EQ(html.error().message,
            "not a metrics exposition: no sample line parses, the first reads '<html>'");
  const auto nul = parseExposition(std::string_view("a 1\nb\0", 6));
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().message, "not a metrics exposition: line 2 has a NUL byte");

  // One good line is enough.
  const Exposition mixed = parseOk("garbage\nmore garbage\na 1\n");
  EXPECT_EQ(mixed.samples.size(), 1u);
  EXPECT_EQ(mixed.skippedLines, 2u);
  EXPECT_EQ(mixed.firstSkippedLine, 1u);
}

}  // namespace
}  // namespace fleetscale::agent
