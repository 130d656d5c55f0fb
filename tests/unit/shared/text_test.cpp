#include "fleetscale/shared/text.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace fleetscale {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(TextTest, ParsesDurations) {
  EXPECT_EQ(*parseDuration("1s"), seconds(1));
  EXPECT_EQ(*parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*parseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*parseDuration("2m"), seconds(120));
  EXPECT_EQ(*parseDuration("250us"), nanoseconds(250'000));
  EXPECT_EQ(*parseDuration("3"), seconds(3));
  EXPECT_EQ(*parseDuration("1h"), seconds(3600));
  EXPECT_FALSE(parseDuration("").ok());
  EXPECT_FALSE(parseDuration("-1s").ok());
  EXPECT_FALSE(parseDuration("fast").ok());
  EXPECT_FALSE(parseDuration("1 parsec").ok());
}

// Issue 19: "3000000h" used to overflow into a negative duration (an --idle-timeout that cut every
// agent at once), and "2562048h" into one that made `since` match nothing.
TEST(TextTest, DurationsLongerThanTenYearsAreRefusedNotWrapped) {
  for (const char* text : {"3000000h", "2562048h", "1e300s", "87601h", "9223372036854775808ns"}) {
    auto parsed = parseDuration(text);
    ASSERT_FALSE(parsed.ok()) << text << " parsed as " << parsed->count() << " ns";
    EXPECT_NE(parsed.error().message.find("longer than the maximum duration 87600h"),
              std::string::npos)
        << parsed.error().message;
  }
  EXPECT_EQ(*parseDuration("87600h"), std::chrono::hours(87600));
  EXPECT_GT(parseDuration("87600h")->count(), 0);
}

TEST(TextTest, RangedDurationsNameTheirRange) {
  EXPECT_EQ(*parseDuration("5s", seconds(1), std::chrono::hours(24)), seconds(5));
  auto tooLong = parseDuration("25h", seconds(1), std::chrono::hours(24));
  ASSERT_FALSE(tooLong.ok());
  EXPECT_EQ(tooLong.error().message, "'25h' is out of range: must be from 1s to 24h");
  EXPECT_FALSE(parseDuration("500ms", seconds(1), std::chrono::hours(24)).ok());
  EXPECT_FALSE(parseDuration("soon", seconds(1), std::chrono::hours(24)).ok());
}

TEST(TextTest, FormatsDurationsInTheirLargestWholeUnit) {
  EXPECT_EQ(formatDuration(std::chrono::hours(24)), "24h");
  EXPECT_EQ(formatDuration(seconds(90)), "90s");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(formatDuration(nanoseconds(7)), "7ns");
  EXPECT_EQ(*parseDuration(formatDuration(std::chrono::minutes(3))), std::chrono::minutes(3));
}

TEST(TextTest, RepairsTextThatIsNotUtf8) {
  EXPECT_EQ(toValidUtf8("plain"), "plain");
  EXPECT_EQ(toValidUtf8("sh\xc3\xb6p"), "sh\xc3\xb6p") << "valid multi-byte text stays";
  EXPECT_EQ(toValidUtf8("a\xff"
                        "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(toValidUtf8("\xc3"), "\xef\xbf\xbd") << "truncated sequence";
  EXPECT_EQ(toValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")
      << "a surrogate, byte by byte";
}

TEST(TextTest, FindsControlCharacters) {
  EXPECT_FALSE(hasControlCharacters("aws-us-east-1 sh\xc3\xb6p"));
  EXPECT_TRUE(hasControlCharacters("evil\nline"));
  EXPECT_TRUE(hasControlCharacters("bell\x07"));
  EXPECT_TRUE(hasControlCharacters("del\x7f"));
  EXPECT_TRUE(hasControlCharacters("csi\xc2\x9b"));  // U+009B, a C1 control
  EXPECT_FALSE(hasControlCharacters("\xff")) << "not UTF-8, but not a control character";
}

TEST(TextTest, EscapesControlCharactersAndBadBytesForOneLine) {
  EXPECT_EQ(escapeControl("agent-1"), "agent-1");
  EXPECT_EQ(escapeControl("evil\n2026-01-01 INFO forged"), "evil\\n2026-01-01 INFO forged");
  EXPECT_EQ(escapeControl("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(escapeControl("/api/\xff"), "/api/\\xff");
  EXPECT_EQ(escapeControl("\xc2\x9b"), "\\u009b");
  EXPECT_EQ(escapeControl("tab\there\r"), "tab\\there\\r");
  EXPECT_EQ(escapeControl("sh\xc3\xb6p"), "sh\xc3\xb6p");
}

TEST(TextTest, ReadFileWithALimitRefusesLargerFiles) {
  char path[] = "/tmp/fleetscale-text-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string content(20000, 'x');
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  EXPECT_EQ(readFile(path, 20000)->size(), 20000u);
  auto refused = readFile(path, 19999);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("larger than the limit of 19999 bytes"),
            std::string::npos);
  ::unlink(path);
}

TEST(TextTest, ParsesWholeNumbersOnly) {
  EXPECT_EQ(parseUint64("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_FALSE(parseUint64("18446744073709551616"));
  EXPECT_FALSE(parseUint64("12a"));
  EXPECT_FALSE(parseUint64("-1"));
  EXPECT_FALSE(parseUint64(""));
  EXPECT_EQ(parseInt64("-1"), -1);
  EXPECT_EQ(parseDouble("0.25"), 0.25);
  EXPECT_FALSE(parseDouble("nan"));
}

TEST(TextTest, SplitsFieldsAndLines) {
  const auto fields = splitFields("  a \t bb  c ");
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[1], "bb");
  const auto lines = splitLines("one\ntwo\n\nthree");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3], "three");
  EXPECT_EQ(trim("\t x y \n"), "x y");
}

TEST(TextTest, ReadFileReportsErrno) {
  auto missing = readFile("/nonexistent/fleetscale");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  EXPECT_NE(missing.error().message.find("/nonexistent/fleetscale"), std::string::npos);
}

TEST(TextTest, LowerHex) {
  EXPECT_TRUE(isLowerHex("0123abcdef"));
  EXPECT_FALSE(isLowerHex("ABC"));
  EXPECT_FALSE(isLowerHex(""));
}

}  // namespace
}  // namespace fleetscale

namespace fleetscale {
namespace {

TEST(TextTest, Base64) {
  EXPECT_EQ(*decodeBase64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(*decodeBase64("aGVsbG8gd29ybGQ"), "hello world") << "without padding";
  EXPECT_EQ(*decodeBase64("aGVs\nbG8="), "hello");
  EXPECT_EQ(*decodeBase64(""), "");
  EXPECT_FALSE(decodeBase64("a$bc").ok());
  EXPECT_FALSE(decodeBase64("ab=c").ok());
  EXPECT_FALSE(decodeBase64("a").ok());
}

TEST(TextTest, Base64EncodeRoundTrips) {
  EXPECT_EQ(encodeBase64("/fleetscale/leader"), "L2ZsZWV0c2NhbGUvbGVhZGVy");  // as etcd shows it
  EXPECT_EQ(encodeBase64("agg-0"), "YWdnLTA=");
  EXPECT_EQ(encodeBase64(""), "");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= bytes.size(); n += 7) {
    EXPECT_EQ(*decodeBase64(encodeBase64(bytes.substr(0, n))), bytes.substr(0, n)) << n;
  }
}

}  // namespace
}  // namespace fleetscale

namespace fleetscale {
namespace {

TEST(TextTest, Rfc3339) {
  using std::chrono::seconds;
  const auto epoch = std::chrono::system_clock::time_point{};
  EXPECT_EQ(*parseRfc3339("1970-01-01T00:00:00Z"), epoch);
  EXPECT_EQ(*parseRfc3339("2026-11-27T12:00:00Z"), epoch + seconds(1'795'780'800));
  EXPECT_EQ(*parseRfc3339("2026-11-27T13:00:00+01:00"), epoch + seconds(1'795'780'800));
  EXPECT_EQ(*parseRfc3339("2026-11-27T12:00:00.5Z") - *parseRfc3339("2026-11-27T12:00:00Z"),
            std::chrono::milliseconds(500));
  EXPECT_EQ(*parseRfc3339("2000-02-29T23:59:59Z"), epoch + seconds(951'868'799));
  for (const char* bad :
       {"", "2026-11-27", "2026-13-01T00:00:00Z", "2026-11-27T12:00:00", "2026-11-27T12:00:00Zjunk",
        "2026-11-27T12:00:00.Z", "yyyy-11-27T12:00:00Z", "2026-11-27T12:00:00+0100",
        "4036-02-14T16:26:33Z", "1600-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parseRfc3339(bad).ok()) << bad;
  }
  EXPECT_EQ(formatRfc3339(epoch + seconds(1'795'780'800) + std::chrono::milliseconds(7)),
            "2026-11-27T12:00:00.007Z");
  EXPECT_EQ(formatRfc3339(epoch), "1970-01-01T00:00:00.000Z");
}

TEST(TextTest, PercentEncodeKeepsUnreservedCharactersOnly) {
  EXPECT_EQ(percentEncode("queue_messages-ready.v2~"), "queue_messages-ready.v2~");
  EXPECT_EQ(percentEncode("sum(x{a=\"b c\"}) / 2"), "sum%28x%7Ba%3D%22b%20c%22%7D%29%20%2F%202");
  EXPECT_EQ(percentEncode("\xff\n"), "%FF%0A");
  EXPECT_EQ(percentEncode(""), "");
}

}  // namespace
}  // namespace fleetscale
