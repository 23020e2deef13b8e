#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "router/QueuedSubscriber.h"
#include "router/Router.h"

using namespace nautilus::relay;

namespace {

class Collector : public Subscriber {
public:
    void onMessage(const Message& msg) noexcept override { topics.emplace_back(msg.topic); }
    std::vector<std::string> topics;
};

Message make(std::string_view topic, std::string_view type = "", bool heartbeat = false)
{
    Message m;
    m.topic = topic;
    m.type = type;
    m.heartbeat = heartbeat;
    m.stream = "s";
    m.id = "1-0";
    return m;
}

}  // namespace

TEST(RouterTest, DeliversToEveryMatchingSubscriberOnly)
{
    Router router;
    Collector quotes, all, orders;
    router.subscribe("data.quotes.*", {}, &quotes);
    router.subscribe("*", {}, &all);
    router.subscribe("events.order.*", {}, &orders);

    EXPECT_EQ(router.route(make("data.quotes.BINANCE.BTCUSDT")), 2u);
    EXPECT_EQ(router.route(make("events.order.EMACross-000")), 2u);
    EXPECT_EQ(router.route(make("data.trades.BINANCE.BTCUSDT")), 1u);

    EXPECT_EQ(quotes.topics, std::vector<std::string>{"data.quotes.BINANCE.BTCUSDT"});
    EXPECT_EQ(orders.topics, std::vector<std::string>{"events.order.EMACross-000"});
    EXPECT_EQ(all.topics.size(), 3u);
}

namespace {
/// Counts messages and batch ends, and what it had received when each batch ended.
class BatchCollector : public Subscriber {
public:
    explicit BatchCollector(bool wants) : _wants(wants) {}
    void onMessage(const Message&) noexcept override { ++messages; }
    bool wantsBatchEnd() const noexcept override { return _wants; }
    void onBatchEnd() noexcept override { seenAtBatchEnd.push_back(messages); }
    int messages = 0;
    std::vector<int> seenAtBatchEnd;

private:
    bool _wants;
};
}  // namespace

TEST(RouterTest, EndBatchReachesEachSubscriberThatWantsItOnceAfterItsMessages)
{
    Router router;
    BatchCollector grouped(true), plain(false);
    const auto first = router.subscribe("data.*", {}, &grouped);
    router.subscribe("data.quotes.*", {}, &grouped);  // two subscriptions, still one batch end
    router.subscribe("*", {}, &plain);

    router.route(make("data.quotes.A"));
    router.route(make("data.trades.A"));
    router.endBatch();
    router.route(make("events.order.S"));  // matches only `plain`
    router.endBatch();
    EXPECT_EQ(grouped.messages, 3);  // once per matching subscription: the quote twice
    EXPECT_EQ(grouped.seenAtBatchEnd, (std::vector<int>{3, 3}));
    EXPECT_TRUE(plain.seenAtBatchEnd.empty());
    EXPECT_EQ(plain.messages, 3);

    // Still subscribed once: still told. Not subscribed at all: no longer told.
    router.unsubscribe(first);
    router.endBatch();
    EXPECT_EQ(grouped.seenAtBatchEnd.size(), 3u);
    router.unsubscribe(first + 1);
    router.endBatch();
    EXPECT_EQ(grouped.seenAtBatchEnd.size(), 3u);
}

namespace {
/// Stands for a subscriber whose queue is full: it is about to block the routing thread. With
/// `inner`, it first routes the message into a router of its own (as the WebSocket gateway does).
class AboutToBlock : public Subscriber {
public:
    Router* inner = nullptr;
    void onMessage(const Message& msg) noexcept override
    {
        if (inner != nullptr) {
            inner->route(msg);
        }
        Router::aboutToWait();
    }
};
}  // namespace

TEST(RouterTest, ASubscriberAboutToBlockLetsTheBatchSubscribersHandOnFirst)
{
    Router router, inner;
    BatchCollector grouped(true), innerGrouped(true);
    AboutToBlock blocker;
    router.subscribe("*", {}, &grouped);  // first in order: it holds the message when blocker waits
    router.subscribe("data.*", {}, &blocker);
    inner.subscribe("*", {}, &innerGrouped);

    router.route(make("data.quotes.A"));
    EXPECT_EQ(grouped.seenAtBatchEnd, std::vector<int>{1});
    router.route(make("events.order.S"));  // blocker not involved
    EXPECT_EQ(grouped.seenAtBatchEnd, std::vector<int>{1});

    // After a nested route() into another router, it is still the outer router's batch that is
    // handed on; outside route() nothing happens.
    blocker.inner = &inner;
    router.route(make("data.trades.A"));
    EXPECT_EQ(grouped.seenAtBatchEnd, (std::vector<int>{1, 3}));
    EXPECT_TRUE(innerGrouped.seenAtBatchEnd.empty());
    Router::aboutToWait();
    EXPECT_EQ(grouped.seenAtBatchEnd.size(), 2u);
}

TEST(RouterTest, TypeFilterMatchesRoutingType)
{
    Router router;
    Collector fills;
    router.subscribe("events.order.*", {"OrderFilled", "OrderCanceled"}, &fills);
    router.route(make("events.order.S", "OrderFilled"));
    router.route(make("events.order.S", "OrderAccepted"));
    router.route(make("events.order.S", "OrderCanceled"));
    EXPECT_EQ(fills.topics.size(), 2u);
}

TEST(RouterTest, HeartbeatsReachOnlyExactHeartbeatSubscriptions)
{
    Router router;
    Collector star, hb;
    router.subscribe("*", {}, &star);
    router.subscribe("health:*", {}, &star);
    router.subscribe("health:heartbeat", {}, &hb);
    EXPECT_EQ(router.route(make("health:heartbeat", "", true)), 1u);
    EXPECT_TRUE(star.topics.empty());
    EXPECT_EQ(hb.topics.size(), 1u);
}

TEST(RouterTest, SubscriptionChangesTakeEffectOnNextRoute)
{
    Router router;
    Collector a, b;
    router.subscribe("data.*", {}, &a);
    router.route(make("data.quotes.X.Y"));  // fills the per-topic cache
    const auto idB = router.subscribe("data.quotes.*", {}, &b);
    router.route(make("data.quotes.X.Y"));
    EXPECT_EQ(a.topics.size(), 2u);
    EXPECT_EQ(b.topics.size(), 1u);
    router.unsubscribe(idB);
    router.route(make("data.quotes.X.Y"));
    EXPECT_EQ(b.topics.size(), 1u);
    EXPECT_EQ(router.subscriptionCount(), 1u);
}

TEST(RouterTest, ConcurrentSubscribeWhileRouting)
{
    Router router;
    Collector base;
    router.subscribe("*", {}, &base);
    std::atomic<bool> done{false};
    std::thread writer([&] {
        std::vector<Collector> extra(50);
        for (auto& c : extra) {
            const auto id = router.subscribe("data.*", {}, &c);
            router.unsubscribeAndWait(id);  // `extra` is destroyed when this thread ends
        }
        done = true;
    });
    std::size_t routed = 0;
    while (!done) {
        router.route(make("data.quotes.X.Y"));
        ++routed;
    }
    writer.join();
    EXPECT_EQ(base.topics.size(), routed);
    EXPECT_EQ(router.subscriptionCount(), 1u);
}

TEST(QueuedSubscriberTest, HandlesInOrderOnItsOwnThread)
{
    std::vector<std::string> seen;
    std::thread::id worker;
    {
        QueuedSubscriber q({"t-order", 4, QueuedSubscriber::FullPolicy::Block}, [&](const Message& m) {
            seen.emplace_back(m.id);
            worker = std::this_thread::get_id();
        });
        std::vector<std::string> ids;
        for (int i = 0; i < 100; ++i) {
            ids.push_back(std::to_string(i) + "-0");
        }
        for (const auto& id : ids) {
            Message m = make("data.x");
            m.id = id;
            q.onMessage(m);
        }
        q.stop();
        EXPECT_EQ(q.handled(), 100u);
        EXPECT_EQ(q.dropped(), 0u);
    }
    ASSERT_EQ(seen.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(seen[static_cast<std::size_t>(i)], std::to_string(i) + "-0");
    }
    EXPECT_NE(worker, std::this_thread::get_id());
}

TEST(QueuedSubscriberTest, BlockPolicyWaitsInsteadOfDropping)
{
    std::atomic<bool> release{false};
    std::atomic<int> handled{0};
    QueuedSubscriber q({"t-block", 2, QueuedSubscriber::FullPolicy::Block}, [&](const Message&) {
        while (!release) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ++handled;
    });
    std::atomic<int> pushed{0};
    std::thread producer([&] {
        for (int i = 0; i < 10; ++i) {
            q.onMessage(make("data.x"));
            ++pushed;
        }
    });
    // The worker holds one batch, the queue holds capacity more: the producer must end up
    // waiting (however late its thread starts), and stay there while the handler is held.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (q.blocked() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(q.blocked(), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_LT(pushed.load(), 10);
    release = true;
    producer.join();
    q.stop();
    EXPECT_EQ(handled.load(), 10);
    EXPECT_EQ(q.dropped(), 0u);
}

TEST(QueuedSubscriberTest, DropPolicyCountsDrops)
{
    std::atomic<bool> release{false};
    QueuedSubscriber q({"t-drop", 2, QueuedSubscriber::FullPolicy::Drop}, [&](const Message&) {
        while (!release) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    for (int i = 0; i < 20; ++i) {
        q.onMessage(make("data.x"));
    }
    EXPECT_GT(q.dropped(), 0u);
    EXPECT_LE(q.depth(), 4u);
    release = true;
    q.stop();
    EXPECT_EQ(q.handled() + q.dropped(), 20u);
}

TEST(QueuedSubscriberTest, HandlerExceptionIsCountedAndWorkerGoesOn)
{
    QueuedSubscriber q({"t-throw", 8, QueuedSubscriber::FullPolicy::Block}, [&](const Message& m) {
        if (m.topic == "bad") {
            throw std::runtime_error("boom");
        }
    });
    q.onMessage(make("bad"));
    q.onMessage(make("good"));
    q.stop();
    EXPECT_EQ(q.errors(), 1u);
    EXPECT_EQ(q.handled(), 2u);
}

TEST(RouterTest, UnsubscribeWaitsForARouteInProgress)
{
    class Slow : public Subscriber {
    public:
        void onMessage(const Message&) noexcept override
        {
            entered = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            finished = true;
        }
        std::atomic<bool> entered{false};
        std::atomic<bool> finished{false};
    };
    Router router;
    Slow slow;
    const auto id = router.subscribe("*", {}, &slow);
    std::thread routing([&] { router.route(make("data.x")); });
    while (!slow.entered) {
        std::this_thread::yield();
    }
    router.unsubscribeAndWait(id);
    // Once unsubscribeAndWait returns the subscriber may be destroyed: no call may still be running.
    EXPECT_TRUE(slow.finished.load());
    routing.join();
}

TEST(RouterTest, HandlerMayUnsubscribeItselfWithoutDeadlock)
{
    class SelfRemoving : public Subscriber {
    public:
        void onMessage(const Message&) noexcept override
        {
            ++calls;
            router->unsubscribeAndWait(id);
        }
        Router* router = nullptr;
        Router::SubscriptionId id = 0;
        int calls = 0;
    };
    Router router;
    SelfRemoving s;
    s.router = &router;
    s.id = router.subscribe("*", {}, &s);
    router.route(make("data.x"));
    router.route(make("data.x"));
    EXPECT_EQ(s.calls, 1);
    EXPECT_EQ(router.subscriptionCount(), 0u);
}
