#pragma once
// Topic-pattern + type subscriptions with NautilusTrader wildcard semantics (SPEC §7.4), and
// fan-out of each decoded Message to every matching subscriber.
//
// Threads: route() and endBatch() are called by one thread at a time (the bus reader, or the
// plugin host's publisher under its lock). subscribe()/unsubscribe()
// may be called from any thread; they publish a new immutable table that route() picks up on its
// next call, so route() never waits on a lock held by a subscriber or the HTTP threads.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/Message.h"

namespace nautilus::relay {

/// Receives routed messages. onMessage runs on the router's calling thread and must be quick:
/// a subscriber that does real work queues the message (see QueuedSubscriber) and returns.
class Subscriber {
public:
    virtual ~Subscriber() = default;
    virtual void onMessage(const Message& msg) noexcept = 0;
    /// True: onBatchEnd() is called after each group of route() calls (Router::endBatch), so
    /// the subscriber may hand what it received on once per group instead of once per message.
    virtual bool wantsBatchEnd() const noexcept { return false; }
    virtual void onBatchEnd() noexcept {}
};

class Router {
public:
    using SubscriptionId = std::uint64_t;

    Router();
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    /// types: routing types to accept (empty = any). Heartbeats reach only subscriptions whose
    /// pattern is exactly "health:heartbeat". The subscriber must outlive its subscription.
    SubscriptionId subscribe(std::string pattern, std::vector<std::string> types, Subscriber* subscriber);
    /// Removes the subscription. A route() already in progress may still call the subscriber
    /// once: callers that destroy the subscriber right away use unsubscribeAndWait().
    void unsubscribe(SubscriptionId id);
    /// unsubscribe(), then wait until no route() still uses the old table, so the subscriber
    /// may be destroyed on return. Never call it while route() may be blocked inside this very
    /// subscriber (e.g. waiting for room in its queue): that would wait forever. From inside a
    /// handler it does not wait.
    void unsubscribeAndWait(SubscriptionId id);
    std::size_t subscriptionCount() const;

    /// Dispatches msg to every matching subscriber, in subscription order. Returns how many.
    std::size_t route(const Message& msg);
    /// Called by the routing thread after a group of route() calls (one XREAD reply, one batch
    /// of plugin publications): every subscriber that wantsBatchEnd() gets onBatchEnd() once.
    /// A subscriber removed before it misses that call.
    void endBatch();
    /// A subscriber about to block inside route() (its queue is full) calls this first: the
    /// batch-end subscribers of the router routing on this thread hand on what they hold, so
    /// they are not held up by the wait. Does nothing outside route().
    static void aboutToWait() noexcept;

private:
    struct Subscription {
        SubscriptionId id;
        std::string pattern;
        std::vector<std::string> types;
        Subscriber* subscriber;
        bool heartbeatOnly;
        bool batchEnd;  ///< subscriber->wantsBatchEnd(), asked once
    };
    struct Table {
        std::vector<Subscription> subs;
        std::vector<Subscriber*> batchListeners;  ///< distinct subscribers that wantsBatchEnd()
        void collectBatchListeners();
    };
    using Matches = std::vector<const Subscription*>;

    const Matches& matchesFor(std::string_view topic, bool heartbeat);
    /// Marks the routing thread active on the newest table (see _active); undone by Leave.
    void enter();

    mutable std::mutex _writeMutex;           // serialises subscribe/unsubscribe
    std::shared_ptr<const Table> _published;  // guarded by _writeMutex; read via atomic load
    std::atomic<std::uint64_t> _generation{0};
    std::atomic<std::uint64_t> _nextId{1};
    // Generation of the table the routing thread is using; kIdle outside route(), kEntering
    // while it picks the table up. unsubscribe() waits on it (Dekker-style, seq_cst).
    static constexpr std::uint64_t kIdle = ~0ull;
    static constexpr std::uint64_t kEntering = ~0ull - 1;
    std::atomic<std::uint64_t> _active{kIdle};

    // Owned by the routing thread only.
    std::shared_ptr<const Table> _current;
    std::uint64_t _cachedGeneration = ~0ull;
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, Matches, StringHash, std::equal_to<>> _cache;
};

}  // namespace nautilus::relay
