#include "fleetscale/shared/framing.h"

#include <gtest/gtest.h>

namespace fleetscale {
namespace {

std::string header(std::uint32_t size) {
  return std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)};
}

TEST(FramingTest, EncodesBigEndianLengthPrefix) {
  const std::string frame = encodeFrame("abc");
  ASSERT_EQ(frame.size(), 7u);
  EXPECT_EQ(frame.substr(0, 4), header(3));
  EXPECT_EQ(frame.substr(4), "abc");
  EXPECT_EQ(encodeFrame(std::string(300, 'x')).substr(0, 4), std::string("\0\0\x01\x2c", 4));
}

TEST(FramingTest, DecodesOneFrame) {
  FrameDecoder decoder(1024);
  decoder.feed(encodeFrame("hello"));
  auto frame = decoder.next();
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ(**frame, "hello");
  EXPECT_FALSE(decoder.next()->has_value());
  EXPECT_EQ(decoder.bufferedBytes(), 0u);
}

TEST(FramingTest, WaitsForTruncatedHeaderAndPayload) {
  FrameDecoder decoder(1024);
  const std::string frame = encodeFrame("payload");
  decoder.feed(frame.substr(0, 2));
  EXPECT_FALSE(decoder.next()->has_value());
  decoder.feed(frame.substr(2, 5));
  EXPECT_FALSE(decoder.next()->has_value());
  decoder.feed(frame.substr(7));
  auto result = decoder.next();
  ASSERT_TRUE(result.ok() && result->has_value());
  EXPECT_EQ(**result, "payload");
}

TEST(FramingTest, ReassemblesFramesSplitAtEveryByte) {
  std::string stream = encodeFrame("first") + encodeFrame("") + encodeFrame(std::string(100, 'z'));
  FrameDecoder decoder(1024);
  std::vector<std::string> frames;
  for (char c : stream) {
    decoder.feed(std::string_view(&c, 1));
    while (true) {
      auto next = decoder.next();
      ASSERT_TRUE(next.ok());
      if (!next->has_value()) break;
      frames.push_back(**next);
    }
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], "first");
  EXPECT_EQ(frames[1], "");
  EXPECT_EQ(frames[2], std::string(100, 'z'));
}

TEST(FramingTest, SplitsCoalescedFrames) {
  FrameDecoder decoder(1024);
  decoder.feed(encodeFrame("a") + encodeFrame("bb") + encodeFrame("ccc").substr(0, 5));
  EXPECT_EQ(**decoder.next(), "a");
  EXPECT_EQ(**decoder.next(), "bb");
  EXPECT_FALSE(decoder.next()->has_value());
  EXPECT_EQ(decoder.bufferedBytes(), 5u);
}

TEST(FramingTest, RejectsOversizedFrameFromHeaderAlone) {
  FrameDecoder decoder(16);
  decoder.feed(header(17));  // no payload yet: must fail without waiting for 17 bytes
  auto result = decoder.next();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("17 bytes exceeds the maximum of 16"), std::string::npos);
  EXPECT_TRUE(decoder.failed());
  decoder.feed(encodeFrame("ok"));
  EXPECT_FALSE(decoder.next().ok()) << "a failed stream stays failed";
}

TEST(FramingTest, HugeLengthPrefixIsRejected) {
  FrameDecoder decoder;
  decoder.feed("\xff\xff\xff\xff garbage");
  EXPECT_FALSE(decoder.next().ok());
}

TEST(FramingTest, AcceptsFrameOfExactlyMaximumSize) {
  FrameDecoder decoder(8);
  decoder.feed(encodeFrame("12345678"));
  auto result = decoder.next();
  ASSERT_TRUE(result.ok() && result->has_value());
  EXPECT_EQ(**result, "12345678");
}

TEST(FramingTest, BufferDoesNotGrowAcrossManyFrames) {
  FrameDecoder decoder(1024);
  for (int i = 0; i < 10000; ++i) {
    decoder.feed(encodeFrame("0123456789"));
    ASSERT_TRUE(decoder.next()->has_value());
  }
  EXPECT_EQ(decoder.bufferedBytes(), 0u);
}

}  // namespace
}  // namespace fleetscale
