#include "router/QueuedSubscriber.h"

#include "common/Logging.h"
#include "common/ThreadName.h"

namespace nautilus::relay {

namespace {
std::string queueLabel(const std::string& name)
{
    return "queue=\"" + PromWriter::escapeLabel(name) + "\"";
}
}  // namespace

QueuedSubscriber::QueuedSubscriber(Options options, Handler handler)
    : _options(std::move(options)),
      _handler(std::move(handler)),
      _depthGauge(MetricsRegistry::global().gauge("nautilus_relay_queue_depth",
                                                  "Messages waiting in a downstream queue", queueLabel(_options.name))),
      _droppedCounter(MetricsRegistry::global().counter("nautilus_relay_queue_dropped_total",
                                                        "Messages dropped because a queue was full",
                                                        queueLabel(_options.name)))
{
    if (_options.capacity == 0) {
        _options.capacity = 1;
    }
    _worker = std::thread([this] {
        nameThisThread("queue-" + _options.name);
        run();
    });
}

QueuedSubscriber::~QueuedSubscriber()
{
    stop();
}

void QueuedSubscriber::stop()
{
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _notEmpty.notify_all();
    _notFull.notify_all();
    if (_worker.joinable()) {
        _worker.join();
    }
}

void QueuedSubscriber::onMessage(const Message& msg) noexcept
{
    try {
        OwnedMessage copy(msg);  // copy outside the lock
        std::unique_lock lock(_mutex);
        if (_queue.size() >= _options.capacity && !_stopping) {
            if (_options.policy == FullPolicy::Drop) {
                _dropped.fetch_add(1, std::memory_order_relaxed);
                _droppedCounter.inc();
                return;
            }
            // Others' batched messages go out before the routing thread waits here.
            lock.unlock();
            Router::aboutToWait();
            lock.lock();
            if (_queue.size() >= _options.capacity && !_stopping) {
                _blocked.fetch_add(1, std::memory_order_relaxed);
                _notFull.wait(lock, [this] { return _queue.size() < _options.capacity || _stopping; });
            }
        }
        if (_stopping) {
            _dropped.fetch_add(1, std::memory_order_relaxed);
            _droppedCounter.inc();
            return;
        }
        _queue.push_back(std::move(copy));
        _queued.store(_queue.size(), std::memory_order_relaxed);
        _depthGauge.set(static_cast<double>(depth()));
        lock.unlock();
        _notEmpty.notify_one();
    } catch (const std::exception& e) {
        _errors.fetch_add(1, std::memory_order_relaxed);
        Logging::get("relay.router")->error("queue {}: cannot enqueue message {}: {}", _options.name, msg.id, e.what());
    }
}

void QueuedSubscriber::run()
{
    std::deque<OwnedMessage> batch;
    for (;;) {
        {
            std::unique_lock lock(_mutex);
            _notEmpty.wait(lock, [this] { return !_queue.empty() || _stopping; });
            if (_queue.empty() && _stopping) {
                return;
            }
            // Take everything queued at once: one lock round trip per batch, not per message.
            batch.swap(_queue);
            _inBatch.store(batch.size(), std::memory_order_relaxed);
            _queued.store(0, std::memory_order_relaxed);
        }
        _notFull.notify_all();
        for (const auto& m : batch) {
            try {
                _handler(m.view());
            } catch (const std::exception& e) {
                _errors.fetch_add(1, std::memory_order_relaxed);
                Logging::get("relay.router")->warn("queue {}: handler failed on {} {}: {}", _options.name,
                                                   m.view().stream, m.view().id, e.what());
            } catch (...) {
                _errors.fetch_add(1, std::memory_order_relaxed);
                Logging::get("relay.router")->warn("queue {}: handler failed on {} {}", _options.name,
                                                   m.view().stream, m.view().id);
            }
            _handled.fetch_add(1, std::memory_order_relaxed);
            _inBatch.fetch_sub(1, std::memory_order_relaxed);
        }
        _depthGauge.set(static_cast<double>(depth()));
        batch.clear();
    }
}

}  // namespace nautilus::relay
