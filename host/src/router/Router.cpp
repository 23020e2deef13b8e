#include "router/Router.h"

#include <algorithm>
#include <thread>

#include "router/TopicPattern.h"

namespace nautilus::relay {

namespace {
// Bounds the per-topic cache so a producer inventing topics cannot grow memory without limit.
constexpr std::size_t kMaxCachedTopics = 100'000;
thread_local bool tlInRoute = false;
thread_local Router* tlRouting = nullptr;  // the router inside route() on this thread
}  // namespace

Router::Router() : _published(std::make_shared<const Table>()) {}

Router::~Router() = default;

void Router::Table::collectBatchListeners()
{
    batchListeners.clear();
    for (const auto& sub : subs) {
        if (sub.batchEnd &&
            std::find(batchListeners.begin(), batchListeners.end(), sub.subscriber) == batchListeners.end()) {
            batchListeners.push_back(sub.subscriber);
        }
    }
}

Router::SubscriptionId Router::subscribe(std::string pattern, std::vector<std::string> types, Subscriber* subscriber)
{
    std::lock_guard lock(_writeMutex);
    auto next = std::make_shared<Table>(*std::atomic_load(&_published));
    const SubscriptionId id = _nextId.fetch_add(1, std::memory_order_relaxed);
    const bool heartbeatOnly = pattern == kHeartbeatTopic;
    const bool batchEnd = subscriber->wantsBatchEnd();
    next->subs.push_back(Subscription{id, std::move(pattern), std::move(types), subscriber, heartbeatOnly, batchEnd});
    next->collectBatchListeners();
    std::atomic_store(&_published, std::shared_ptr<const Table>(std::move(next)));
    _generation.fetch_add(1, std::memory_order_release);
    return id;
}

void Router::unsubscribe(SubscriptionId id)
{
    std::lock_guard lock(_writeMutex);
    auto next = std::make_shared<Table>(*std::atomic_load(&_published));
    std::erase_if(next->subs, [id](const Subscription& s) { return s.id == id; });
    next->collectBatchListeners();
    std::atomic_store(&_published, std::shared_ptr<const Table>(std::move(next)));
    _generation.fetch_add(1, std::memory_order_seq_cst);
}

void Router::unsubscribeAndWait(SubscriptionId id)
{
    unsubscribe(id);
    const std::uint64_t gen = _generation.load(std::memory_order_seq_cst);
    if (tlInRoute) {
        return;  // a handler unsubscribing itself: the current route() is this very call
    }
    // Wait until the routing thread is idle or has picked up a table without this subscription,
    // so the caller may destroy the subscriber right away. route() is short: spin, then yield.
    for (int spins = 0;; ++spins) {
        const std::uint64_t active = _active.load(std::memory_order_seq_cst);
        if (active == kIdle || (active != kEntering && active >= gen)) {
            return;
        }
        if (spins > 64) {
            std::this_thread::yield();
        }
    }
}

std::size_t Router::subscriptionCount() const
{
    return std::atomic_load(&_published)->subs.size();
}

const Router::Matches& Router::matchesFor(std::string_view topic, bool heartbeat)
{
    auto it = _cache.find(topic);
    if (it != _cache.end()) {
        return it->second;
    }
    if (_cache.size() >= kMaxCachedTopics) {
        _cache.clear();
    }
    Matches matches;
    for (const auto& sub : _current->subs) {
        // Heartbeats are health signals: only an exact "health:heartbeat" subscription gets them.
        const bool ok = heartbeat ? sub.heartbeatOnly : topicMatches(sub.pattern, topic);
        if (ok) {
            matches.push_back(&sub);
        }
    }
    return _cache.emplace(std::string(topic), std::move(matches)).first->second;
}

void Router::enter()
{
    _active.store(kEntering, std::memory_order_seq_cst);
    const std::uint64_t gen = _generation.load(std::memory_order_seq_cst);
    if (gen != _cachedGeneration) {
        // The cache holds pointers into the table it was built from, so both change together.
        _current = std::atomic_load(&_published);
        _cache.clear();
        _cachedGeneration = gen;
    }
    _active.store(gen, std::memory_order_seq_cst);
}

namespace {
/// Leaves route()/endBatch(); restores the thread's state of an enclosing route() (a subscriber
/// that routes into a router of its own, like the WebSocket gateway).
struct Leave {
    std::atomic<std::uint64_t>& active;
    std::uint64_t idle;  ///< Router::kIdle (private there)
    bool wasInRoute = tlInRoute;
    Router* wasRouting = tlRouting;
    ~Leave()
    {
        tlInRoute = wasInRoute;
        tlRouting = wasRouting;
        active.store(idle, std::memory_order_release);
    }
};
}  // namespace

std::size_t Router::route(const Message& msg)
{
    enter();
    Leave leave{_active, kIdle};
    tlInRoute = true;
    tlRouting = this;
    std::size_t delivered = 0;
    for (const Subscription* sub : matchesFor(msg.topic, msg.heartbeat)) {
        if (!sub->types.empty() &&
            std::find(sub->types.begin(), sub->types.end(), msg.type) == sub->types.end()) {
            continue;
        }
        sub->subscriber->onMessage(msg);
        ++delivered;
    }
    return delivered;
}

void Router::aboutToWait() noexcept
{
    // Inside route(): _current is the table in use and _active protects its subscribers.
    if (Router* r = tlRouting) {
        for (Subscriber* s : r->_current->batchListeners) {
            s->onBatchEnd();
        }
    }
}

void Router::endBatch()
{
    enter();
    Leave leave{_active, kIdle};
    tlInRoute = true;
    tlRouting = nullptr;  // not inside route(): aboutToWait() has nothing to do
    for (Subscriber* s : _current->batchListeners) {
        s->onBatchEnd();
    }
}

}  // namespace nautilus::relay
