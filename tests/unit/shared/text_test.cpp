#include "fleetscale/shared/text.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fleetscale
