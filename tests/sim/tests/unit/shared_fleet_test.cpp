#include "fleetscale/sim/shared_fleet.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace fleetscale::sim {
namespace {

const Identity kController{"system:serviceaccount:fleetscale:fleetscale-aggregator",
                           Role::kController};

TEST(TokenBookTest, AuthenticatesBearerTokensOnly) {
  TokenBook book;
  book.add("t1", kController);
  ASSERT_TRUE(book.authenticate("Bearer t1"));
  EXPECT_EQ(book.authenticate("bearer t1")->user, kController.user);  // the scheme's case
  EXPECT_FALSE(book.authenticate("Bearer T1"));                       // the token's case
  EXPECT_FALSE(book.authenticate("Basic t1"));
  EXPECT_FALSE(book.authenticate("Bearer "));
  EXPECT_FALSE(book.authenticate(""));
  EXPECT_EQ(book.tokenFor(Role::kController), "t1");
  EXPECT_EQ(book.tokenFor(Role::kAdmin), "");
  EXPECT_EQ(book.certificateIdentity(kController.user).role, Role::kController);
  EXPECT_EQ(book.certificateIdentity("stranger").role, Role::kNone);
}

TEST(TokenBookTest, ARotationAcceptsTheNewTokenAndRefusesTheOld) {
  TokenBook book;
  book.add("old", kController);
  book.add("new", kController);
  ASSERT_TRUE(book.revoke("old"));
  EXPECT_FALSE(book.authenticate("Bearer old"));
  ASSERT_TRUE(book.authenticate("Bearer new"));
  EXPECT_EQ(book.authenticate("Bearer new")->role, Role::kController);
  EXPECT_TRUE(book.wasRevoked("Bearer old"));
  EXPECT_FALSE(book.wasRevoked("Bearer new"));
  EXPECT_FALSE(book.wasRevoked("Bearer never-issued"));
  EXPECT_FALSE(book.revoke("old"));
  EXPECT_EQ(book.tokenFor(Role::kController), "new");
  // The identity stays reachable by client certificate after its tokens rotate.
  EXPECT_EQ(book.certificateIdentity(kController.user).role, Role::kController);
}

TEST(TokenBookTest, RemembersOnlyTheLatestRevocations) {
  TokenBook book;
  const std::size_t count = TokenBook::kRememberedRevocations + 3;
  for (std::size_t i = 0; i < count; ++i) book.add("t" + std::to_string(i), kController);
  for (std::size_t i = 0; i < count; ++i) ASSERT_TRUE(book.revoke("t" + std::to_string(i)));
  EXPECT_FALSE(book.wasRevoked("Bearer t0"));  // forgotten: its 401 counts as an unknown token
  EXPECT_TRUE(book.wasRevoked("Bearer t" + std::to_string(count - 1)));
}

// Requests authenticate on the I/O threads while the clock loop rotates: every request sees
// either token, never a torn book.
TEST(TokenBookTest, RotatesWhileOtherThreadsAuthenticate) {
  TokenBook book;
  book.add("token-0", kController);
  book.add("agent", {"system:serviceaccount:fleetscale:fleetscale-agent", Role::kAgent});
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        if (!book.authenticate("Bearer agent")) ++failures;
        (void)book.authenticate("Bearer token-0");
      }
    });
  }
  for (int i = 1; i <= 2000; ++i) {
    book.add("token-" + std::to_string(i), kController);
    ASSERT_TRUE(book.revoke("token-" + std::to_string(i - 1)));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(book.authenticate("Bearer token-2000"));
  EXPECT_FALSE(book.authenticate("Bearer token-1999"));
}

}  // namespace
}  // namespace fleetscale::sim
