#include "fleetscale/shared/token.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale {
namespace {

TEST(TokenTest, ComparesInFull) {
  EXPECT_TRUE(tokensEqual("s3cret", "s3cret"));
  EXPECT_FALSE(tokensEqual("s3cret", "s3cre"));
  EXPECT_FALSE(tokensEqual("s3cret", "s3cret!"));
  EXPECT_FALSE(tokensEqual("s3cret", ""));
}

TEST(TokenTest, ReadsTheTokenWithoutSurroundingWhitespace) {
  testing::TempDir dir;
  testing::writeFile(dir.file("token"), "  s3cret\n");
  auto token = readTokenFile(dir.file("token"));
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_EQ(*token, "s3cret");
}

// The rules for a token given directly (fleetscalectl's --token), the same as for a token file.
TEST(TokenTest, CheckTokenSaysWhichRuleATokenBreaks) {
  EXPECT_TRUE(checkToken("s3cret-Token_1").ok());
  EXPECT_TRUE(checkToken(std::string(kMaxTokenBytes, 'x')).ok());
  EXPECT_EQ(checkToken("").message(), "the token is empty");
  EXPECT_NE(checkToken(std::string(kMaxTokenBytes + 1, 'x')).message().find("longer than"),
            std::string::npos);
  EXPECT_EQ(checkToken("two words").message(),
            "the token holds a character that is not printable ASCII");
  EXPECT_FALSE(checkToken("line\nbreak").ok()) << "would split the Authorization header";
}

// Issue 19: an empty --token-file turned authentication off. A token file that was named never
// reads as "no token".
TEST(TokenTest, FailsClosedOnEveryFileThatHoldsNoUsableToken) {
  testing::TempDir dir;
  struct Case {
    const char* name;
    std::string content;
    const char* error;
  };
  for (const Case& c : {Case{"empty", "", "is empty"}, Case{"blank", " \n\t\n", "is empty"},
                        Case{"too long", std::string(kMaxTokenBytes + 1, 'x'), "longer than"},
                        Case{"inner space", "two words", "not printable ASCII"},
                        Case{"control", "tok\x01en", "not printable ASCII"},
                        Case{"not ASCII", "t\xc3\xb6ken", "not printable ASCII"}}) {
    testing::writeFile(dir.file("token"), c.content);
    auto token = readTokenFile(dir.file("token"));
    ASSERT_FALSE(token.ok()) << c.name << " read as '" << *token << "'";
    EXPECT_NE(token.error().message.find(c.error), std::string::npos)
        << c.name << ": " << token.error().message;
    EXPECT_NE(token.error().message.find(dir.file("token")), std::string::npos)
        << c.name << ": the error names the file";
  }
  EXPECT_FALSE(readTokenFile(dir.file("missing")).ok());
  EXPECT_FALSE(readTokenFile("").ok());
  testing::writeFile(dir.file("token"), std::string(kMaxTokenBytes, 'x'));
  EXPECT_TRUE(readTokenFile(dir.file("token")).ok()) << "exactly the limit is fine";
}

}  // namespace
}  // namespace fleetscale
