#pragma once
// A Subscriber that copies each message into a bounded queue and hands it to a handler on its
// own worker thread, so slow handling never runs on the reader thread. When the queue is full
// the policy decides: Block (default) makes onMessage wait, which stops the reader from issuing
// the next XREAD — Redis stays the buffer and nothing is lost; Drop counts and discards.
//
// Threads: onMessage from the router's thread; the handler on the worker; stats from any thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/Metrics.h"
#include "router/Router.h"

namespace nautilus::relay {

class QueuedSubscriber final : public Subscriber {
public:
    enum class FullPolicy { Block, Drop };
    using Handler = std::function<void(const Message&)>;

    struct Options {
        std::string name;                 ///< label in metrics: queue="<name>"
        std::size_t capacity = 10'000;    ///< messages waiting; the worker's current batch adds up to as many again
        FullPolicy policy = FullPolicy::Block;
    };

    QueuedSubscriber(Options options, Handler handler);
    ~QueuedSubscriber() override;  // stop(): drains what is queued, then joins

    void onMessage(const Message& msg) noexcept override;

    /// Stops accepting, lets the worker finish the queue, joins. Idempotent.
    void stop();

    /// Messages queued or taken by the worker but not yet handled (at most 2 × capacity).
    std::size_t depth() const
    {
        return _queued.load(std::memory_order_relaxed) + _inBatch.load(std::memory_order_relaxed);
    }
    std::uint64_t handled() const { return _handled.load(std::memory_order_relaxed); }
    std::uint64_t dropped() const { return _dropped.load(std::memory_order_relaxed); }
    std::uint64_t errors() const { return _errors.load(std::memory_order_relaxed); }
    /// Times onMessage had to wait for room (backpressure events).
    std::uint64_t blocked() const { return _blocked.load(std::memory_order_relaxed); }
    const std::string& name() const { return _options.name; }

private:
    void run();

    Options _options;
    Handler _handler;
    std::mutex _mutex;
    std::condition_variable _notEmpty;
    std::condition_variable _notFull;
    std::deque<OwnedMessage> _queue;
    bool _stopping = false;
    std::atomic<std::size_t> _queued{0};
    std::atomic<std::size_t> _inBatch{0};
    std::atomic<std::uint64_t> _handled{0};
    std::atomic<std::uint64_t> _dropped{0};
    std::atomic<std::uint64_t> _errors{0};
    std::atomic<std::uint64_t> _blocked{0};
    Gauge& _depthGauge;
    Counter& _droppedCounter;
    std::thread _worker;
};

}  // namespace nautilus::relay
