#include "bus/Backoff.h"

#include <gtest/gtest.h>

namespace nautilus::relay {
namespace {

TEST(BackoffTest, FirstRetryIsImmediate)
{
    Backoff b(BackoffPolicy{}, [] { return 0.0; });
    EXPECT_EQ(b.ceilingMs(1), 0);
    EXPECT_EQ(b.nextDelayMs(), 0);
    EXPECT_EQ(b.attempts(), 1);
}

TEST(BackoffTest, CeilingDoublesFromInitialUpToTheCap)
{
    Backoff b(BackoffPolicy{100, 2000, 2.0});
    const int expected[] = {0, 100, 200, 400, 800, 1600, 2000, 2000, 2000};
    for (int attempt = 1; attempt <= 9; ++attempt) {
        EXPECT_EQ(b.ceilingMs(attempt), expected[attempt - 1]) << attempt;
    }
    EXPECT_EQ(b.ceilingMs(1000000), 2000);
}

TEST(BackoffTest, DelaysAreFullJitterUpToTheCeiling)
{
    // u = 0 gives the ceiling itself, u close to 1 the smallest non-zero delay.
    Backoff high(BackoffPolicy{100, 2000, 2.0}, [] { return 0.0; });
    const int ceilings[] = {0, 100, 200, 400, 800, 1600, 2000, 2000};
    for (int c : ceilings) {
        EXPECT_EQ(high.nextDelayMs(), c);
    }
    Backoff low(BackoffPolicy{100, 2000, 2.0}, [] { return 0.999999; });
    EXPECT_EQ(low.nextDelayMs(), 0);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(low.nextDelayMs(), 1);
    }
    Backoff mid(BackoffPolicy{100, 2000, 2.0}, [] { return 0.5; });
    EXPECT_EQ(mid.nextDelayMs(), 0);
    EXPECT_EQ(mid.nextDelayMs(), 50);
    EXPECT_EQ(mid.nextDelayMs(), 100);
    EXPECT_EQ(mid.nextDelayMs(), 200);
}

TEST(BackoffTest, RandomDelaysStayWithinTheSchedule)
{
    Backoff b(BackoffPolicy{50, 700, 3.0});
    for (int round = 0; round < 200; ++round) {
        b.reset();
        for (int attempt = 1; attempt <= 8; ++attempt) {
            const int d = b.nextDelayMs();
            if (attempt == 1) {
                EXPECT_EQ(d, 0);
            } else {
                EXPECT_GE(d, 1);
                EXPECT_LE(d, b.ceilingMs(attempt));
            }
        }
    }
    EXPECT_EQ(b.ceilingMs(2), 50);
    EXPECT_EQ(b.ceilingMs(3), 150);
    EXPECT_EQ(b.ceilingMs(4), 450);
    EXPECT_EQ(b.ceilingMs(5), 700);
}

TEST(BackoffTest, ResetStartsOverWithAnImmediateRetry)
{
    Backoff b(BackoffPolicy{100, 2000, 2.0}, [] { return 0.0; });
    b.nextDelayMs();
    b.nextDelayMs();
    EXPECT_EQ(b.nextDelayMs(), 200);
    b.reset();
    EXPECT_EQ(b.attempts(), 0);
    EXPECT_EQ(b.nextDelayMs(), 0);
    EXPECT_EQ(b.nextDelayMs(), 100);
}

TEST(BackoffTest, DegenerateSettingsNeverGoNegative)
{
    Backoff zero(BackoffPolicy{0, 0, 2.0}, [] { return 0.0; });
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(zero.nextDelayMs(), 0);
    }
    Backoff flat(BackoffPolicy{300, 1000, 0.5}, [] { return 0.0; });  // multiplier < 1 acts as 1
    EXPECT_EQ(flat.nextDelayMs(), 0);
    EXPECT_EQ(flat.nextDelayMs(), 300);
    EXPECT_EQ(flat.nextDelayMs(), 300);
    Backoff capped(BackoffPolicy{5000, 1000, 2.0}, [] { return 0.0; });  // initial above the cap
    EXPECT_EQ(capped.nextDelayMs(), 0);
    EXPECT_EQ(capped.nextDelayMs(), 1000);
}

}  // namespace
}  // namespace nautilus::relay
