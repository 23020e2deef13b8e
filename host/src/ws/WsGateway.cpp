#include "ws/WsGateway.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <liburing.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>

#include "bus/StreamEntry.h"
#include "common/Logging.h"
#include "common/Metrics.h"
#include "common/ThreadName.h"
#include "common/Time.h"
#include "decoder/EntryDecoder.h"
#include "http/JsonWriter.h"
#include "router/TopicPattern.h"
#include "ws/WsAuth.h"
#include "ws/WsFrame.h"
#include "ws/WsProtocol.h"

namespace nautilus::relay {

using namespace ws;

namespace {

constexpr std::int64_t kMsNs = 1'000'000;
constexpr std::int64_t kCloseGraceNs = 1'000 * kMsNs;  // wait this long for the peer's close reply
// A close frame that cannot even be written (the peer reads nothing) waits this long, so a
// client that wakes up still learns why, then the socket is closed.
constexpr std::int64_t kStuckCloseNs = 5'000 * kMsNs;
constexpr std::size_t kMaxIov = 64;
constexpr std::size_t kMaxWriteBytes = 256 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;
/// Read per wake-up from one client: a client that sends without pause waits for the next
/// round (epoll is level-triggered) instead of holding its loop's other clients.
constexpr int kReadChunksPerWake = 8;
/// Replies, errors and pongs a client does not read may pile up to this much, on top of
/// ws.queue_bytes of messages (a queue full of market data still gets its reply); a client
/// that lets more pile up is closed.
constexpr std::size_t kControlMargin = 1024 * 1024;
/// Subscribe and unsubscribe requests that may wait for a client's replays to end.
constexpr std::size_t kMaxDeferredRequests = 64;
/// Watermarks kept per stream per client (the oldest goes first).
constexpr std::size_t kMaxMarks = 16;
// Clients the routing thread queued messages for are handed to their loops at the end of each
// bus batch, or after this many routed messages within a long one (bounds the added latency).
constexpr unsigned kHandOffEvery = 64;
// A hand-off that reaches at most this many idle clients writes to them from the routing
// thread (nonblocking) instead of waking their loops: one thread hop less on the way to a
// client (a vCPU wake-up costs 50-100 us here); larger fan-outs go to the loops in parallel.
constexpr std::size_t kDirectWriteClients = 4;
// A loop writes to at most this many clients per batch of sends: one io_uring_enter (instead
// of a sendmsg each: a syscall costs ~1 us on this VM) and one ring of this size per loop.
constexpr unsigned kBatchSends = 256;

std::string statusJson(const BusSnapshot& s)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject().field("op", "status").key("bus").beginObject();
    w.field("state", toString(s.state)).key("since").timestamp(s.sinceNs).field("redis", s.redis);
    w.field("reconnects", s.reconnects).key("last_error").stringOrNull(s.lastError);
    w.endObject().endObject();
    return out;
}

bool sameStringSet(std::vector<std::string> a, std::vector<std::string> b)
{
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    return a == b;
}

/// A size written only under a lock and read without it (the /status figures): plain loads
/// and stores, no locked read-modify-write on the hot path.
class GuardedSize {
public:
    operator std::size_t() const noexcept { return _v.load(std::memory_order_relaxed); }
    GuardedSize& operator=(std::size_t v) noexcept
    {
        _v.store(v, std::memory_order_relaxed);
        return *this;
    }
    GuardedSize& operator+=(std::size_t d) noexcept { return *this = *this + d; }
    GuardedSize& operator-=(std::size_t d) noexcept { return *this = *this - d; }

private:
    std::atomic<std::size_t> _v{0};
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Loop;
struct ReplayJob;

/// One topic pattern with its type filter (empty: any type).
struct Filter {
    std::string pattern;
    std::vector<std::string> types;

    bool matches(std::string_view topic, std::string_view type, bool heartbeat) const
    {
        if (!types.empty() && std::find(types.begin(), types.end(), type) == types.end()) {
            return false;
        }
        return heartbeat ? pattern == kHeartbeatTopic : topicMatches(pattern, topic);
    }
};

/// "topics": [...], "types": [...] of a subscribed reply.
void writeTopicsAndTypes(JsonWriter& w, const std::vector<std::string>& topics, const std::vector<std::string>& types)
{
    w.key("topics").beginArray();
    for (const auto& t : topics) {
        w.value(t);
    }
    w.endArray().key("types").beginArray();
    for (const auto& t : types) {
        w.value(t);
    }
    w.endArray();
}

/// One of `filters` has this pattern (a subscription is one filter per pattern).
bool hasPattern(const std::vector<Filter>& filters, std::string_view pattern)
{
    return std::any_of(filters.begin(), filters.end(), [&](const Filter& f) { return f.pattern == pattern; });
}

/// `filters` less those with a pattern of `drop`.
std::vector<Filter> withoutPatterns(std::vector<Filter> filters, const std::vector<Filter>& drop)
{
    std::erase_if(filters, [&](const Filter& g) { return hasPattern(drop, g.pattern); });
    return filters;
}

bool anyMatches(const std::vector<Filter>& filters, std::string_view topic, std::string_view type, bool heartbeat)
{
    for (const Filter& f : filters) {
        if (f.matches(topic, type, heartbeat)) {
            return true;
        }
    }
    return false;
}

/// What a replay sends of a stream: entries matching `filters`, and after `wideFrom` (the last
/// one its client had from the live flow) those matching its other subscriptions too, so that
/// their messages held meanwhile need not follow replayed ones with higher ids.
struct Coverage {
    std::vector<Filter> filters;
    std::optional<StreamId> wideFrom;
    std::vector<Filter> wideFilters;
    /// `filters` only after this id (the replay's "from", when it reads from wideFrom before it).
    std::optional<StreamId> ownFrom;

    bool empty() const { return filters.empty() && wideFilters.empty(); }
    bool covers(StreamId id, std::string_view topic, std::string_view type, bool heartbeat) const
    {
        return ((!ownFrom || id > *ownFrom) && anyMatches(filters, topic, type, heartbeat)) ||
               (wideFrom && id > *wideFrom && anyMatches(wideFilters, topic, type, heartbeat));
    }
};

bool anyCovers(const std::vector<Coverage>& all, StreamId id, std::string_view topic, std::string_view type, bool heartbeat)
{
    return std::any_of(all.begin(), all.end(), [&](const Coverage& c) { return c.covers(id, topic, type, heartbeat); });
}

/// Transparent hashing: look a std::string key up by string_view.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view v) const noexcept { return std::hash<std::string_view>{}(v); }
};

/// One sendmsg: what a writer hands the kernel for one client (iov points into queued frames).
struct PendingSend {
    iovec iov[kMaxIov];
    std::size_t count = 0;
    std::size_t bytes = 0;
    msghdr mh{};
    /// Set here, not when prepared: the send may have moved since (a batch's slots are compacted).
    msghdr& header()
    {
        mh = msghdr{};
        mh.msg_iov = iov;
        mh.msg_iovlen = count;
        return mh;
    }
};

/// One connected client. The loop thread owns the socket and reads; the routing thread and the
/// replay workers append to the send queue under `m`; the loop thread writes it out.
struct Client final : Subscriber, std::enable_shared_from_this<Client> {
    struct Sub {
        std::vector<std::string> types;
        Router::SubscriptionId routerId = 0;
    };
    /// After a replay: live messages it covered with an id at or below the last replayed one
    /// were sent already.
    struct Watermark {
        StreamId id;
        std::vector<Coverage> covered;
        /// A stream's watermark: the client's subscriptions when it was set. A message below it
        /// that matches none of them is for a subscription answered later: it came before that
        /// reply (the replay read the stream past the bus), so it is not sent after newer ones.
        std::vector<Filter> subscribedAtMark;
        /// The floor: other subscriptions (replaced by pattern, gone with their unsubscribe),
        /// one filter each, whose messages are not skipped: after their own single "from"
        /// (ownFrom) if they had one, else all.
        std::vector<Coverage> owedElsewhere;
        /// The floor: streams the replay read from another id (listed in "from", or reset).
        std::set<std::string, std::less<>> exempt;
        /// The floor: the patterns of the subscription it holds for.
        const std::vector<Filter>& floorFilters() const { return covered.front().filters; }
    };

    Client(WsGateway::Impl& gateway, Loop& loop, Poco::Net::WebSocket socket, std::uint64_t id, std::string peer,
           AuthResult auth);
    ~Client() override;

    void onMessage(const Message& msg) noexcept override;

    // --- under m
    /// A live message from the routing thread (via handOff): held during a replay, recorded
    /// for the catch-up while lagging, skipped below a watermark, else queued.
    void acceptLocked(FramePtr frame);
    bool enqueueLocked(FramePtr frame);  ///< false when the client was closed for it
    void overflowLocked(FramePtr frame);
    void evictLocked(std::size_t index);
    void buildIndexLocked();
    /// latest[topic] = index, keyed by a view into *this* frame: an old key would point into a
    /// frame that may be freed first (insert_or_assign keeps the old key).
    void indexLocked(const OutFrame& f, std::uint64_t index)
    {
        latest.erase(f.topic());
        latest.emplace(f.topic(), index);
    }
    /// Drops what waits (except frames a write points into), queues a close frame with code
    /// and reason, counts the client as dropped (`counterReason`).
    void closeForOverflowLocked(std::uint16_t code, const std::string& reason, const char* counterReason);
    void closeForOverflowLocked();  ///< 1013: too slow for events that are never dropped
    /// Queue entries before this one are in a write under way: never replaced or dropped.
    std::size_t firstFreeLocked() const { return std::max<std::size_t>(pinned, headOffset > 0 ? 1 : 0); }
    void recordLagLocked(const OutFrame& f) { lagFrom.try_emplace(std::string(f.stream()), f.id); }
    void startCatchUpLocked(const FramePtr& dropped);
    /// One replay fewer; after the last, the live messages held meanwhile go out, in order,
    /// less those a replay sent already.
    void endReplayLocked();
    void updateFiltersLocked();
    void scheduleLocked();
    bool watermarkSkipsLocked(const OutFrame& f);
    /// Queues a control frame (reply, error, status, pong): never conflated. A client that
    /// asks for more answers than it reads is closed (1008) once its queue passes
    /// ws.queue_bytes + kControlMargin. Of pongs, only the latest waits (RFC 6455 5.5.3).
    enum class ControlKind {
        Answer,  ///< a reply, error or result the client asked for: bounded as above
        Pong,    ///< only the latest waits
        Relay,   ///< the relay's own (keepalive ping, status): never refused
    };
    void sendControl(FramePtr frame, ControlKind kind = ControlKind::Answer);
    /// Replay: queues the frame if the queue has room for it. A replay that finds no room is
    /// parked (`parked`) instead of holding its thread, and resumed when the client has read.
    enum class Push { Pushed, NoRoom, Gone };
    Push tryPushReplay(FramePtr& frame);
    /// Room enough to resume a parked replay: for the frame it could not queue, and half the
    /// queue (it resumes for many frames, not one at a time).
    bool replayMayResumeLocked() const;
    /// Hands the parked replay back to the replay threads once there is room or the client is
    /// closing (the job then ends); nothing when no replay is parked.
    void wakeReplayLocked();

    enum class Drain {
        Empty,         ///< all written; no longer scheduled
        Full,          ///< the socket takes no more (or took part): wait for EPOLLOUT
        Failed,        ///< the send failed with `error`
        CloseWritten,  ///< our close frame is out; nothing more is written
        Busy,          ///< another thread is writing the queue and goes on until it is done
        AtClose,       ///< direct: the next frame is a close frame, left for the loop
        More,          ///< direct: what was queued at the start is written; the rest is the loop's
    };
    /// Writes the queue out, on whichever thread has it scheduled: the client's loop, or the
    /// routing thread for a batch that reaches few clients (no loop wake-up on that path).
    /// One writer at a time (`writing`); frames written are moved to `written` so the caller
    /// frees them outside the lock. direct (the routing thread): stops before a close frame and
    /// after the bytes queued when it started, so a queue refilled meanwhile (a replay) never
    /// holds the bus reader. error: the first send error this client had.
    Drain drain(std::vector<FramePtr>& written, bool direct, int& error);
    // drain()'s steps, also used by the loop's batched sends (Loop::flushBatch). The caller
    // holds m and has set `writing`.
    /// Points `send` at the frames to write next and pins them; an outcome instead when there
    /// is nothing to send.
    std::optional<Drain> prepareSendLocked(PendingSend& send, bool direct, std::size_t budget);
    /// Takes the result of sending `send` (n bytes or -1 with err): frames written move to
    /// `written`. An outcome, or nullopt when all of it went out and the next round may follow.
    std::optional<Drain> finishSendLocked(const PendingSend& send, ssize_t n, int err, std::vector<FramePtr>& written,
                                          std::size_t& budget, int& error);
    Drain closedMeanwhileLocked();

    WsGateway::Impl& gw;
    Loop& loop;
    Poco::Net::WebSocket socket;
    const int fd;
    const std::uint64_t id;
    const std::string peer;
    const AuthResult auth;

    // Loop thread only.
    std::string rbuf;
    std::string fragments;
    bool inFragmented = false;
    Opcode fragmentOp = Opcode::Text;
    std::int64_t lastReceivedMono = 0;
    bool pingOutstanding = false;
    std::int64_t rateWindowStart = 0;
    int rateCount = 0;
    std::map<std::string, Sub, std::less<>> subs;
    bool wantWrite = false;  ///< EPOLLOUT registered
    bool closeSent = false;
    std::int64_t closeDeadline = 0;
    bool dead = false;

    // Routing thread only.
    std::uint64_t lastRouteSeq = 0;
    std::vector<FramePtr> routedFrames;  ///< routed since the last handOff()

    // Shared, under m.
    std::mutex m;
    std::deque<FramePtr> queue;    ///< entries may be null (evicted)
    GuardedSize queuedBytes;       ///< written under m; /status reads it without
    std::size_t headOffset = 0;    ///< bytes of queue.front() already written
    std::size_t pinned = 0;        ///< entries at the front that a write in flight points into
    std::uint64_t popped = 0;      ///< absolute index of queue.front()
    bool scheduled = false;        ///< in the loop's ready list, or waiting for EPOLLOUT
    bool writing = false;          ///< a thread is in drain() (it unlocks m around each send)
    int sendError = 0;             ///< the first failed send's errno
    bool closing = false;          ///< a close frame is queued: nothing else is added
    std::int64_t closingSinceMono = 0;
    bool closed = false;
    std::uint64_t conflatedPending = 0;
    std::optional<std::uint64_t> pongAt;  ///< absolute index of the pong still waiting, if any
    /// Bytes of control frames queued (replies, errors, pongs, status; not messages nor the
    /// close): what a client asks for is refused past kControlMargin of them (sendControl).
    std::size_t controlBytes = 0;
    // Conflation index, built the first time the queue overflows: topic -> absolute index of
    // the latest queued frame of that topic. Keys point into the frames they index.
    bool indexed = false;
    std::unordered_map<std::string_view, std::uint64_t> latest;
    std::uint64_t evictScan = 0;
    int replaying = 0;               ///< replays running: live messages wait in liveBuffer
    std::deque<FramePtr> liveBuffer;
    std::size_t liveBytes = 0;
    bool liveDropping = false;       ///< liveBuffer overflowed: live messages are dropped and read again
    bool lagging = false;            ///< the queue overflowed with events: catching up from Redis
    bool catchUpPosted = false;
    /// A replay runs, or a catch-up waits to start: a subscribe without "from" waits for them.
    /// (A catch-up takes the client's patterns as it starts: one added just before it could
    /// miss the messages recorded for it meanwhile.)
    bool replayAheadLocked() const { return replaying > 0 || catchUpPosted; }
    /// First live message dropped per stream since the last catch-up pass: where to read again.
    std::map<std::string, StreamId, std::less<>> lagFrom;
    /// Per stream, one per replay that read it (an earlier one's marks stand beside a later
    /// one's), until the live flow passes them; at most kMaxMarks, the oldest dropped first.
    std::map<std::string, std::vector<Watermark>, std::less<>> watermarks;
    /// One per subscription replayed with a single "from" (it applies to streams the replay
    /// did not read too, e.g. found by the bus only later): live messages at or below it were
    /// asked not to be sent. Gone with the subscription (unsubscribed or asked again): at most
    /// one per subscription.
    std::vector<Watermark> floors;
    /// Per stream, the last live message the client got outside a replay (or a replay sent
    /// for all its subscriptions): where a new replay takes over the others' messages.
    std::unordered_map<std::string, StreamId, StringHash, std::equal_to<>> liveUpTo;
    void noteLiveLocked(const OutFrame& f)
    {
        auto it = liveUpTo.find(f.stream());
        if (it == liveUpTo.end()) {
            liveUpTo.emplace(std::string(f.stream()), f.id);
        } else if (it->second < f.id) {
            it->second = f.id;
        }
    }
    std::vector<Filter> filters;     ///< copy of subs for the replay workers (set by the loop)
    /// The client's replay or catch-up, waiting for room in its queue (no thread held).
    std::unique_ptr<ReplayJob> parked;
    /// Requests that wait for the client's replays to end (Loop::deferRequest), in the order
    /// sent; the loop handles them once `replaying` is 0 (Loop::handleDeferred).
    std::deque<ClientRequest> deferred;
    std::size_t parkedNeed = 0;          ///< the size of the frame it could not queue
    std::uint64_t parkedPopped = 0;      ///< `popped` when it was parked or the client last read
    std::int64_t parkedSinceMono = 0;    ///< ws.stall_timeout_ms without a frame read: closed
};

/// One epoll loop serving a share of the clients.
struct Loop {
    Loop(WsGateway::Impl& gateway, int index);
    ~Loop();
    void run();
    void wake();
    void add(std::shared_ptr<Client> c);
    void ready(std::shared_ptr<Client> c);
    /// Many clients at once: one lock, one wake-up.
    void ready(std::vector<std::shared_ptr<Client>>& batch);
    void onReadable(Client& c);
    void flush(Client& c);
    /// flush() for many clients: each round prepares one send per client, hands them to the
    /// kernel together (sendBatch), then takes the results, until every client is done.
    void flushBatch(const std::vector<std::shared_ptr<Client>>& work);
    struct BatchSlot;
    /// One step of a client's batched write, under its lock: takes the result of the send
    /// made (sent), then prepares the next. An outcome ends the write (`writing` cleared).
    std::optional<Client::Drain> advance(BatchSlot& slot, bool sent, int& error);
    /// What a writer that stopped on `result` leaves to the loop (EPOLLOUT, close, ...).
    void afterDrain(Client& c, Client::Drain result, int error);
    void setUpRing();
    /// Sends every slot: one io_uring submission, or a sendmsg each without a ring.
    void sendBatch();
    void dropRing(const char* why, int err);
    void handleFrame(Client& c, const ClientFrame& frame);
    void handleText(Client& c, std::string_view text);
    void handleSubscribe(Client& c, struct ws::ClientRequest& req);
    void handleUnsubscribe(Client& c, const ws::ClientRequest& req);
    /// True when the request must wait for the client's replays (and is queued, or refused).
    bool deferRequest(Client& c, ws::ClientRequest& req);
    /// The client's replays ended: its waiting requests, in order (loop thread).
    void handleDeferred(Client& c);
    /// From any thread, under the client's m: the loop is to call handleDeferred for it.
    void deferredReady(std::shared_ptr<Client> c);
    void protocolClose(Client& c, std::uint16_t code, std::string_view reason, const char* counterReason);
    void closeNow(Client& c);
    /// A close frame written at once (shutdown, keepalive timeout), then the client is closed.
    void sayGoodbye(Client& c, std::string_view reason);
    void housekeeping(std::int64_t now);
    void updateInterest(Client& c, bool wantWrite);

    WsGateway::Impl& gw;
    const int index;
    int epfd = -1;
    int evfd = -1;
    std::thread thread;
    std::atomic<bool> wakePending{false};
    std::mutex readyMutex;
    std::vector<std::shared_ptr<Client>> readyList;
    std::vector<std::shared_ptr<Client>> deferredList;  ///< under readyMutex: handleDeferred due
    std::vector<std::shared_ptr<Client>> incoming;
    std::unordered_map<int, std::shared_ptr<Client>> clients;  // loop thread only
    std::vector<FramePtr> written;  // loop thread only: frames flush() frees outside the lock
    struct BatchSlot {
        Client* client = nullptr;
        PendingSend send;
        ssize_t result = 0;
        int error = 0;
        bool done = false;
    };
    std::vector<BatchSlot> slots;  // loop thread only: flushBatch()'s sends in flight
    io_uring ring{};
    bool hasRing = false;
    std::int64_t lastHousekeeping = 0;
    // Queue depths of this loop's clients at its last housekeeping (every 100 ms, 250 ms when
    // idle). /status reads these, not every client's: those cache lines the loops keep
    // writing, ~0.3 ms per request with 5 000 clients.
    std::atomic<std::uint64_t> queuedBytes{0};
    std::atomic<std::uint64_t> maxClientQueueBytes{0};
};

/// Per stream of a replay: where the next read starts, what it sends, and what it skips as
/// sent already.
struct StreamRead {
    StreamId pos;                      ///< the last entry handled (sent or passed over)
    std::optional<StreamId> from;      ///< the replayed subscription's from here (not a catch-up)
    Coverage send;
    StreamId sentUpTo;                 ///< entries up to here covered by `sent` went out
    std::vector<Coverage> sent;        ///< empty: nothing to skip
    std::optional<StreamId> mustFind;  ///< a dropped live message: the read must come to it
    /// Events must not be missed here: each read checks, in one MULTI, that Redis still has
    /// `guard` (nothing after it was trimmed meanwhile), once there is one.
    bool checkTrim = false;
    std::optional<StreamId> guard;
    /// Read to its end in this pass: not read again (its newer entries come live) unless live
    /// messages of it were dropped (readAgain). A parked job resumes at the first one not done.
    bool done = false;
    bool read = false;  ///< Redis answered a read of it: what it covers up to pos is known
};

struct ReplayJob {
    std::shared_ptr<Client> client;
    std::vector<Filter> filters;                   ///< what to replay (subscribe: the new patterns)
    std::optional<StreamId> fromAll;
    std::map<std::string, StreamId> fromByStream;
    std::string idJson;
    bool catchUp = false;                          ///< a slow client's catch-up, not a subscribe
    // Progress, kept while the job is parked (its client had no room) and resumed from.
    bool started = false;                          ///< the reads are set up (and "subscribed" sent)
    std::vector<std::string> busStreams;           ///< the streams the bus read when it started
    std::map<std::string, StreamRead, std::less<>> reads;
    std::uint64_t count = 0;                       ///< entries sent
    std::size_t needBytes = 0;                     ///< parked: the frame that did not fit
    std::set<std::string, std::less<>> notBus;     ///< keys the bus did not read when last asked
    std::map<std::string, StreamId, std::less<>> busAtHold;  ///< per stream, as the live flow began to wait
    /// Live messages dropped meanwhile are being read again (readAgain): if the job fails now,
    /// they are lost, and the client is closed rather than left without them.
    bool rereading = false;
    std::set<std::string, std::less<>> ownFromStreams;  ///< given or planned from another id than fromAll (listed, reset)
};

struct WsGateway::Impl {
    Impl(WsOptions o, WsSources s);

    void broadcast(const FramePtr& frame);
    void replayWorker();
    /// Sets a job's reads up: a catch-up's from what its client missed, a subscribe's from
    /// "from" (and sends "subscribed"). False when the client is gone.
    bool startReplay(RedisLink& link, ReplayJob& job);
    /// Every subscription of a client (under its m) but those whose own replay is still to
    /// come: that replay sends their messages, after its "subscribed".
    std::vector<Filter> filtersNotWaitingLocked(const Client& c)
    {
        std::vector<Filter> all = c.filters;
        std::lock_guard waiting(replayMutex);
        if (auto it = replayWaiting.find(&c); it != replayWaiting.end()) {
            for (const ReplayJob& later : it->second) {
                all = withoutPatterns(std::move(all), later.filters);
            }
        }
        return all;
    }
    /// A stream where a replay must find every event the client missed (trimming is checked).
    bool eventsMustBeFound(ReplayJob& job, std::string_view key) const;
    /// Under the client's m, as a replay ends (or fails): the watermarks of what it sent, so
    /// held live copies are not sent again, and the floor of a single "from".
    void markReplayedLocked(ReplayJob& job);
    /// Runs a job until it is done (true) or its client has no room (false: park it).
    bool runReplay(RedisLink& link, EntryDecoder& decoder, ReplayJob& job);
    /// A job whose client had no room: kept by the client until it reads (no thread held).
    void parkReplay(ReplayJob job);
    /// A parked job back to the replay threads (its client has room or is closing).
    void resumeReplay(ReplayJob job)
    {
        {
            std::lock_guard lock(replayMutex);
            if (replayStop) {
                return;
            }
            replayJobs.push_back(std::move(job));
        }
        replayWake.notify_one();
    }
    void removeClient(std::uint64_t id);
    void countDropped(const char* reason);
    /// One replay or catch-up at a time per client, in the order asked: its next job waits
    /// until the current one ends (a client holds at most one replay thread, and two jobs never
    /// set its watermarks at once).
    void postReplay(ReplayJob job)
    {
        {
            std::lock_guard lock(replayMutex);
            const Client* client = job.client.get();
            if (!replayClients.insert(client).second) {
                replayWaiting[client].push_back(std::move(job));
                return;
            }
            replayJobs.push_back(std::move(job));
        }
        replayWake.notify_one();
    }
    /// After a job of `client` ended: its next one, if any, is queued. Under replayMutex.
    void replayEndedLocked(const Client* client)
    {
        auto it = replayWaiting.find(client);
        if (it == replayWaiting.end()) {
            replayClients.erase(client);
            return;
        }
        replayJobs.push_back(std::move(it->second.front()));
        it->second.pop_front();
        if (it->second.empty()) {
            replayWaiting.erase(it);
        }
        replayWake.notify_one();
    }

    const WsOptions options;
    const WsSources sources;
    const WsAuth auth;
    std::shared_ptr<spdlog::logger> log = Logging::get("relay.ws");

    std::atomic<bool> running{false};
    Router* busRouter = nullptr;
    std::vector<Router::SubscriptionId> busSubs;
    Router clientRouter;  // each client's topic patterns, with the client as subscriber

    // Routing thread only: the message being routed and its frame, built on first use.
    std::uint64_t routeSeq = 0;
    const Message* current = nullptr;
    FramePtr currentFrame;
    // Routing thread only: clients with routedFrames, moved into their queues by handOff()
    // at the end of a bus batch, one lock per client and one wake-up per loop, instead of a
    // lock and a wake-up per message. The clients it schedules collect in `routed`
    // (routingThread is set meanwhile) and are handed to their loops together.
    std::vector<std::shared_ptr<Client>> routedClients;
    std::atomic<std::thread::id> routingThread{};
    std::vector<std::shared_ptr<Client>> routed;
    std::vector<std::vector<std::shared_ptr<Client>>> routedByLoop;
    unsigned routedSinceHandOff = 0;
    void handOff() noexcept;
    void dispatchRouted() noexcept;  ///< `routed` to the loops, one lock and wake-up per loop
    /// `routed` written from the routing thread itself (few clients): no loop wake-up.
    void writeRouted() noexcept;
    /// A scheduled client that could not be listed anywhere (out of memory): not left marked.
    static void unscheduleListedNowhere(const std::shared_ptr<Client>& c) noexcept;
    std::vector<FramePtr> directWritten;  // routing thread only: frames writeRouted() frees

    FramePtr frameForCurrent()
    {
        if (!currentFrame) {
            currentFrame = messageFrame(*current, options.conflateMarketData && isMarketDataTopic(current->topic));
        }
        return currentFrame;
    }

    std::vector<std::unique_ptr<Loop>> loops;
    std::atomic<std::size_t> nextLoop{0};
    std::atomic<std::uint64_t> nextClientId{1};

    mutable std::mutex clientsMutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<Client>> clients;
    std::atomic<std::size_t> clientCount{0};
    /// Clients plus upgrades under way: ws.max_clients is checked and taken in one step, so
    /// upgrades on several HTTP threads at once cannot pass it together.
    std::atomic<std::size_t> admitted{0};
    bool admit()
    {
        std::size_t n = admitted.load();
        do {
            if (n >= options.maxClients) {
                return false;
            }
        } while (!admitted.compare_exchange_weak(n, n + 1));
        return true;
    }

    std::mutex replayMutex;
    std::condition_variable replayWake;
    std::deque<ReplayJob> replayJobs;
    std::unordered_set<const Client*> replayClients;  ///< a job queued or running
    std::unordered_map<const Client*, std::deque<ReplayJob>> replayWaiting;
    bool replayStop = false;
    std::vector<std::thread> replayThreads;

    // Figures.
    std::atomic<std::uint64_t> sent{0}, sentBytes{0}, dropped{0}, conflated{0}, rejected{0}, clientErrors{0},
        replays{0}, replaying{0}, replayed{0}, subscriptions{0}, catchUps{0};
    Counter& mSent;
    Counter& mSentBytes;
    Counter& mConflated;
    Counter& mReplays;
    Counter& mReplayed;
    Counter& mClientErrors;
    int collectorId = -1;
};

// ---------------------------------------------------------------------------------------------
// Client

Client::Client(WsGateway::Impl& gateway, Loop& l, Poco::Net::WebSocket s, std::uint64_t i, std::string p, AuthResult a)
    : gw(gateway), loop(l), socket(std::move(s)), fd(socket.impl()->sockfd()), id(i), peer(std::move(p)), auth(std::move(a))
{
    lastReceivedMono = monoNowNs();
}

Client::~Client()
{
    try {
        socket.close();
    } catch (...) {
    }
}

void Client::onMessage(const Message& msg) noexcept
{
    // A message matching several of this client's patterns is delivered once.
    if (lastRouteSeq == gw.routeSeq) {
        return;
    }
    lastRouteSeq = gw.routeSeq;
    if (auth.restricted && !topicAllowed(auth.allowedTopics, msg.topic)) {
        return;
    }
    try {
        // No lock per message: the frames wait here until WsGateway::Impl::handOff().
        if (routedFrames.empty()) {
            gw.routedClients.push_back(shared_from_this());
        }
        routedFrames.push_back(gw.frameForCurrent());
    } catch (const std::exception& e) {
        gw.log->error("ws client {} ({}): cannot queue message {} {}: {}", id, peer, msg.stream, msg.id, e.what());
    }
}

void Client::acceptLocked(FramePtr frame)
{
    if (closed || closing) {
        return;
    }
    if (replaying == 0) {
        noteLiveLocked(*frame);  // sent, or read again by a catch-up before any later replay
    }
    // Sent by a replay already (the bus reader can be behind Redis): neither held nor read again.
    if ((!watermarks.empty() || !floors.empty()) && watermarkSkipsLocked(*frame)) {
        return;
    }
    if (replaying > 0) {
        // Held until the replay reaches the live flow; if too much arrives meanwhile it is
        // dropped and the replay reads it again from Redis (everything is still there).
        if (!liveDropping && liveBytes + frame->wireLength <= gw.options.queueBytes) {
            liveBytes += frame->wireLength;
            liveBuffer.push_back(std::move(frame));
            return;
        }
        if (!liveDropping) {
            for (const auto& f : liveBuffer) {
                recordLagLocked(*f);
            }
            liveBuffer.clear();
            liveBytes = 0;
            liveDropping = true;
        }
        recordLagLocked(*frame);
        return;
    }
    if (lagging) {
        recordLagLocked(*frame);  // the catch-up reads it from Redis, in order
        return;
    }
    enqueueLocked(std::move(frame));
}

bool Client::watermarkSkipsLocked(const OutFrame& f)
{
    const bool heartbeat = f.topic() == kHeartbeatTopic;
    if (auto it = watermarks.find(f.stream()); it != watermarks.end()) {
        std::vector<Watermark>& marks = it->second;
        std::erase_if(marks, [&](const Watermark& w) { return f.id > w.id; });  // the live flow is past them
        if (std::any_of(marks.begin(), marks.end(), [&](const Watermark& w) {
                return anyCovers(w.covered, f.id, f.topic(), f.type(), heartbeat) ||
                       !anyMatches(w.subscribedAtMark, f.topic(), f.type(), heartbeat);
            })) {
            return true;
        }
        if (marks.empty()) {
            watermarks.erase(it);
        }
    }
    // A single "from" holds on every stream: those the replay did not read, and past where it
    // stopped on the others (a from ahead of the relay's reader).
    return std::any_of(floors.begin(), floors.end(), [&](const Watermark& w) {
        return f.id <= w.id && !w.exempt.contains(f.stream()) && anyCovers(w.covered, f.id, f.topic(), f.type(), heartbeat) &&
               !anyCovers(w.owedElsewhere, f.id, f.topic(), f.type(), heartbeat);
    });
}

bool Client::enqueueLocked(FramePtr frame)
{
    const std::size_t size = frame->wireLength;
    if (!queue.empty() && queuedBytes + size > gw.options.queueBytes) {
        overflowLocked(std::move(frame));
        return !closing;
    }
    // A single frame larger than the limit still goes out, alone.
    if (indexed && frame->conflatable) {
        indexLocked(*frame, popped + queue.size());
    }
    queuedBytes += size;
    queue.push_back(std::move(frame));
    scheduleLocked();
    return true;
}

void Client::evictLocked(std::size_t index)
{
    FramePtr& slot = queue[index];
    if (indexed) {
        auto it = latest.find(slot->topic());
        if (it != latest.end() && it->second == popped + index) {
            latest.erase(it);
        }
    }
    queuedBytes -= slot->wireLength;
    conflatedPending += slot->conflatedTold;  // the count it carried goes on the next one
    slot.reset();
}

void Client::buildIndexLocked()
{
    latest.clear();
    for (std::size_t i = 0; i < queue.size(); ++i) {
        if (queue[i] && queue[i]->conflatable) {
            indexLocked(*queue[i], popped + i);
        }
    }
    indexed = true;
    evictScan = popped;
}

void Client::overflowLocked(FramePtr frame)
{
    const std::size_t limit = gw.options.queueBytes;
    const std::size_t size = frame->wireLength;
    const std::size_t firstFree = firstFreeLocked();
    if (!indexed) {
        buildIndexLocked();
    }
    auto conflate = [&](std::uint64_t n) {
        conflatedPending += n;
        gw.conflated.fetch_add(n, std::memory_order_relaxed);
        gw.mConflated.inc(n);
    };
    bool replacedOlder = false;  // the older value of this topic was dropped for this one
    if (frame->conflatable) {
        // The newest value of a topic replaces the one still waiting.
        auto it = latest.find(frame->topic());
        if (it != latest.end() && it->second >= popped + firstFree) {
            const std::size_t index = static_cast<std::size_t>(it->second - popped);
            if (gw.sources.perTopicPrefix.empty()) {
                // A stream may carry several topics: in the older one's place the newest would
                // pass messages of its stream queued after that place. It goes to the end instead.
                evictLocked(index);
                conflate(1);
                replacedOlder = true;
            } else {
                FramePtr& slot = queue[index];
                queuedBytes = queuedBytes - slot->wireLength + size;
                conflatedPending += slot->conflatedTold;
                latest.erase(it);
                slot = std::move(frame);
                latest.emplace(slot->topic(), popped + index);
                conflate(1);
                return;
            }
        }
    }
    // Make room by dropping the oldest market data still waiting.
    std::size_t i = static_cast<std::size_t>(std::max<std::uint64_t>(evictScan, popped + firstFree) - popped);
    for (; i < queue.size() && queuedBytes + size > limit; ++i) {
        if (queue[i] && queue[i]->conflatable) {
            evictLocked(i);
            conflate(1);
        }
    }
    evictScan = popped + i;
    if (queuedBytes + size <= limit || replacedOlder) {  // the newest value always stays
        if (frame->conflatable) {
            indexLocked(*frame, popped + queue.size());
        }
        queuedBytes += size;
        queue.push_back(std::move(frame));
        scheduleLocked();
        return;
    }
    if (frame->conflatable) {
        conflate(1);  // the queue holds only events that cannot be dropped; this quote can
        return;
    }
    startCatchUpLocked(frame);
}

void Client::startCatchUpLocked(const FramePtr& dropped)
{
    // A burst bigger than the queue: rather than hold it in memory or drop events, stop queuing
    // live messages for this client and read them again from Redis at the client's pace. A
    // client that makes no progress at all is closed by the catch-up (ws.stall_timeout_ms).
    lagging = true;
    recordLagLocked(*dropped);
    if (catchUpPosted) {
        return;
    }
    catchUpPosted = true;
    gw.catchUps.fetch_add(1, std::memory_order_relaxed);
    gw.postReplay(ReplayJob{shared_from_this(), {}, std::nullopt, {}, {}, true});
}

void Client::endReplayLocked()
{
    replaying -= 1;
    if (replaying > 0) {
        // The client's next replay starts now: what this one sent leaves the held live flow
        // while its watermarks still stand (a live message past them would lift them).
        std::deque<FramePtr> keep;
        std::size_t keepBytes = 0;
        for (auto& f : liveBuffer) {
            if (!watermarkSkipsLocked(*f)) {
                keepBytes += f->wireLength;
                keep.push_back(std::move(f));
            }
        }
        liveBuffer.swap(keep);
        liveBytes = keepBytes;
        return;
    }
    std::deque<FramePtr> held;
    held.swap(liveBuffer);
    liveBytes = 0;
    for (auto& f : held) {
        if (watermarkSkipsLocked(*f)) {
            continue;  // the replay sent it
        }
        noteLiveLocked(*f);
        if (lagging) {
            recordLagLocked(*f);  // fell behind again while draining: the next catch-up reads it
        } else {
            enqueueLocked(std::move(f));
        }
    }
    if (!deferred.empty()) {
        loop.deferredReady(shared_from_this());
    }
}

void Client::updateFiltersLocked()
{
    filters.clear();
    for (const auto& [pattern, sub] : subs) {
        filters.push_back(Filter{pattern, sub.types});
    }
}

void Client::closeForOverflowLocked()
{
    // Order, position and account events are never dropped silently: the client is closed and
    // resumes with "from".
    closeForOverflowLocked(close_code::kTryAgainLater,
                           "send queue over ws.queue_bytes (" + std::to_string(gw.options.queueBytes) +
                               "): too slow for events that are never dropped; resume with from",
                           "slow");
}

void Client::closeForOverflowLocked(std::uint16_t code, const std::string& reason, const char* counterReason)
{
    const std::size_t keep = firstFreeLocked();
    while (queue.size() > keep) {
        queue.pop_back();
    }
    queuedBytes = 0;
    controlBytes = 0;
    for (const auto& f : queue) {
        if (f) {
            queuedBytes += f->wireLength;
            controlBytes += f->isMessage || f->isClose ? 0 : f->wireLength;
        }
    }
    latest.clear();
    indexed = false;
    pongAt.reset();
    FramePtr close = closeFrame(code, reason);
    queuedBytes += close->wireLength;
    queue.push_back(std::move(close));
    closing = true;
    closingSinceMono = monoNowNs();
    gw.countDropped(counterReason);
    gw.log->warn("ws client {} ({}) closed: {}", id, peer, reason);
    scheduleLocked();
    wakeReplayLocked();
}

void Client::scheduleLocked()
{
    if (scheduled) {
        return;
    }
    // Marked only once it is listed: if listing throws, the next message tries again.
    if (gw.routingThread == std::this_thread::get_id()) {
        gw.routed.push_back(shared_from_this());  // handed to the loop once per batch
    } else {
        loop.ready(shared_from_this());
    }
    scheduled = true;
}

void Client::sendControl(FramePtr frame, ControlKind kind)
{
    const bool pong = kind == ControlKind::Pong;
    std::lock_guard lock(m);
    if (closed || closing) {
        return;
    }
    const std::size_t firstFree = firstFreeLocked();
    if (pong && pongAt && *pongAt >= popped + firstFree && *pongAt < popped + queue.size()) {
        // The earlier pong was not written yet: this one answers both.
        FramePtr& slot = queue[static_cast<std::size_t>(*pongAt - popped)];
        queuedBytes = queuedBytes - slot->wireLength + frame->wireLength;
        controlBytes = controlBytes - slot->wireLength + frame->wireLength;
        slot = std::move(frame);
        return;
    }
    // Counted apart from the messages: one message larger than the queue (sent alone, by
    // design) does not make the client's replies look unread.
    if (kind != ControlKind::Relay && controlBytes > 0 && controlBytes + frame->wireLength > kControlMargin) {
        closeForOverflowLocked(close_code::kPolicyViolation,
                               "more than " + std::to_string(kControlMargin) +
                                   " bytes of replies and pongs the client does not read",
                               "unread_replies");
        return;
    }
    if (pong) {
        pongAt = popped + queue.size();
    }
    queuedBytes += frame->wireLength;
    controlBytes += frame->wireLength;
    queue.push_back(std::move(frame));
    scheduleLocked();
}

bool Client::replayMayResumeLocked() const
{
    return queue.empty() || queuedBytes + std::max(parkedNeed, gw.options.queueBytes / 2) <= gw.options.queueBytes;
}

void Client::wakeReplayLocked()
{
    if (!parked || !(closed || closing || replayMayResumeLocked())) {
        return;
    }
    const std::unique_ptr<ReplayJob> job = std::move(parked);
    gw.resumeReplay(std::move(*job));
}

Client::Push Client::tryPushReplay(FramePtr& frame)
{
    std::lock_guard lock(m);
    if (closed || closing) {
        return Push::Gone;
    }
    if (!queue.empty() && queuedBytes + frame->wireLength > gw.options.queueBytes) {
        return Push::NoRoom;
    }
    queuedBytes += frame->wireLength;
    queue.push_back(std::move(frame));
    scheduleLocked();
    return Push::Pushed;
}

// ---------------------------------------------------------------------------------------------
// Loop

Loop::Loop(WsGateway::Impl& gateway, int i) : gw(gateway), index(i)
{
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    evfd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || evfd < 0) {
        const int err = errno;
        for (const int fd : {epfd, evfd}) {
            if (fd >= 0) {
                ::close(fd);  // the destructor does not run for a constructor that throws
            }
        }
        throw std::runtime_error(std::string("ws: cannot create the event loop: ") + std::strerror(err));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = evfd;
    ::epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev);
    slots.reserve(kBatchSends);  // a round holds at most kBatchSends: flushBatch never allocates
}

Loop::~Loop()
{
    if (thread.joinable()) {
        thread.join();
    }
    if (hasRing) {
        io_uring_queue_exit(&ring);
    }
    ::close(epfd);
    ::close(evfd);
}

void Loop::setUpRing()
{
    if (!gw.options.ioUring) {
        if (index == 0) {
            gw.log->info("ws: the event loops send with one sendmsg per client (ws.io_uring=false)");
        }
        return;
    }
    // SUBMIT_ALL: one bad entry does not leave the rest unsubmitted. SINGLE_ISSUER and
    // COOP_TASKRUN: only this thread submits, so the kernel needs no interrupt to complete.
    io_uring_params params{};
    params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
    int r = io_uring_queue_init_params(kBatchSends, &ring, &params);
    if (r == -EINVAL) {
        params = io_uring_params{};
        params.flags = IORING_SETUP_SUBMIT_ALL;  // a kernel before 6.0
        r = io_uring_queue_init_params(kBatchSends, &ring, &params);
    }
    if (r < 0) {
        // Seccomp (a container's or the service's filter) or an old kernel: sendmsg works too.
        gw.log->warn("ws: event loop {}: io_uring unavailable ({}): it sends with one sendmsg per client",
                     index, std::strerror(-r));
        return;
    }
    hasRing = true;
    gw.log->info("ws: event loop {} sends with io_uring", index);
}

void Loop::dropRing(const char* why, int err)
{
    gw.log->error("ws: event loop {}: {} ({}); sending with sendmsg from now on", index, why, std::strerror(err));
    io_uring_queue_exit(&ring);
    hasRing = false;
}

void Loop::sendBatch()
{
    for (auto& slot : slots) {
        slot.done = false;
    }
    if (hasRing) {
        unsigned queued = 0;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            if (sqe == nullptr) {
                break;  // not with at most kBatchSends slots and every completion taken
            }
            // MSG_DONTWAIT: a full socket completes at once with EAGAIN (no poll armed in the
            // kernel), so every send is done when the submission returns, as with sendmsg.
            io_uring_prep_sendmsg(sqe, slots[i].client->fd, &slots[i].send.header(), MSG_NOSIGNAL | MSG_DONTWAIT);
            io_uring_sqe_set_data64(sqe, i);
            ++queued;
        }
        int r = io_uring_submit_and_wait(&ring, queued);
        while (r == -EINTR) {
            r = io_uring_submit_and_wait(&ring, 0);
        }
        // The kernel takes entries in order: slots [0, taken) were sent (inline, see above);
        // wait for their completions.
        const unsigned taken = queued - io_uring_sq_ready(&ring);
        unsigned seen = 0;
        while (seen < taken) {
            io_uring_cqe* cqe = nullptr;
            const int w = io_uring_wait_cqe(&ring, &cqe);
            if (w == -EINTR) {
                continue;
            }
            if (w < 0) {
                break;
            }
            BatchSlot& slot = slots[static_cast<std::size_t>(io_uring_cqe_get_data64(cqe))];
            slot.result = cqe->res < 0 ? -1 : cqe->res;
            slot.error = cqe->res < 0 ? -cqe->res : 0;
            slot.done = true;
            io_uring_cqe_seen(&ring, cqe);
            ++seen;
        }
        if (r < 0 || seen < queued) {
            // Entries left in the ring would be submitted later, pointing at sends done below:
            // this ring is not used again.
            dropRing("io_uring submission failed", r < 0 ? -r : EIO);
        }
        for (unsigned i = 0; i < taken; ++i) {
            if (!slots[i].done) {
                // Sent, or not, with no way to learn how much: sending again could repeat
                // bytes mid-frame, so this client's stream cannot continue.
                slots[i].result = -1;
                slots[i].error = EIO;
                slots[i].done = true;
            }
        }
    }
    for (auto& slot : slots) {
        if (!slot.done) {
            slot.result = ::sendmsg(slot.client->fd, &slot.send.header(), MSG_NOSIGNAL | MSG_DONTWAIT);
            slot.error = slot.result < 0 ? errno : 0;
            slot.done = true;
        }
    }
}

std::optional<Client::Drain> Loop::advance(BatchSlot& slot, bool sent, int& error)
{
    Client& c = *slot.client;
    try {
        std::lock_guard lock(c.m);
        std::optional<Client::Drain> done;
        if (sent) {
            std::size_t budget = SIZE_MAX;
            done = c.finishSendLocked(slot.send, slot.result, slot.error, written, budget, error);
        }
        if (!done) {
            done = c.prepareSendLocked(slot.send, false, SIZE_MAX);
        }
        if (done) {
            c.writing = false;
        }
        return done;
    } catch (const std::exception& e) {
        // Out of memory telling it about conflations: the client cannot be served.
        gw.log->error("ws client {} ({}): cannot write to it: {}", c.id, c.peer, e.what());
        std::lock_guard lock(c.m);
        c.writing = false;
        error = ENOMEM;
        return Client::Drain::Failed;
    }
}

void Loop::flushBatch(const std::vector<std::shared_ptr<Client>>& work)
{
    for (std::size_t from = 0; from < work.size(); from += kBatchSends) {
        const std::size_t to = std::min(work.size(), from + kBatchSends);
        slots.clear();
        for (std::size_t i = from; i < to; ++i) {
            Client& c = *work[i];
            if (c.dead) {
                continue;
            }
            slots.push_back(BatchSlot{&c});  // within the reserved capacity
            {
                std::lock_guard lock(c.m);
                if (c.writing) {
                    slots.pop_back();
                    continue;  // the routing thread is writing; it hands the client back if needed
                }
                c.writing = true;
            }
            int error = 0;
            if (const auto done = advance(slots.back(), false, error)) {
                slots.pop_back();
                afterDrain(c, *done, error);
            }
        }
        while (!slots.empty()) {
            written.clear();  // the previous round's frames, freed outside the clients' locks
            sendBatch();
            std::size_t kept = 0;
            for (std::size_t i = 0; i < slots.size(); ++i) {
                int error = 0;
                if (const auto done = advance(slots[i], true, error)) {
                    afterDrain(*slots[i].client, *done, error);
                } else {
                    if (kept != i) {
                        slots[kept] = slots[i];
                    }
                    ++kept;
                }
            }
            slots.resize(kept);
        }
        written.clear();
    }
}

void Loop::wake()
{
    if (!wakePending.exchange(true, std::memory_order_acq_rel)) {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(evfd, &one, sizeof one);
    }
}

void Loop::add(std::shared_ptr<Client> c)
{
    {
        std::lock_guard lock(readyMutex);
        incoming.push_back(std::move(c));
    }
    wake();
}

void Loop::ready(std::shared_ptr<Client> c)
{
    {
        std::lock_guard lock(readyMutex);
        readyList.push_back(std::move(c));
    }
    wake();
}

void Loop::deferredReady(std::shared_ptr<Client> c)
{
    {
        std::lock_guard lock(readyMutex);
        deferredList.push_back(std::move(c));
    }
    wake();
}

void Loop::ready(std::vector<std::shared_ptr<Client>>& batch)
{
    {
        std::lock_guard lock(readyMutex);
        for (auto& c : batch) {
            readyList.push_back(std::move(c));
        }
    }
    batch.clear();
    wake();
}

void Loop::updateInterest(Client& c, bool write)
{
    if (c.wantWrite == write) {
        return;
    }
    c.wantWrite = write;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (write ? static_cast<std::uint32_t>(EPOLLOUT) : 0u);
    ev.data.fd = c.fd;
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
}

void Loop::run()
{
    setUpRing();
    std::vector<epoll_event> events(256);
    std::vector<std::shared_ptr<Client>> work;
    std::vector<std::shared_ptr<Client>> deferredDue;
    std::vector<std::shared_ptr<Client>> arrived;
    while (gw.running.load(std::memory_order_acquire)) {
        const int n = ::epoll_wait(epfd, events.data(), static_cast<int>(events.size()), 250);
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
            if (fd == evfd) {
                std::uint64_t v = 0;
                [[maybe_unused]] const auto r = ::read(evfd, &v, sizeof v);
                wakePending.store(false, std::memory_order_release);
                continue;
            }
            auto it = clients.find(fd);
            if (it == clients.end()) {
                continue;
            }
            std::shared_ptr<Client> c = it->second;
            if ((what & EPOLLOUT) != 0 && !c->dead) {
                flush(*c);
            }
            if ((what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && !c->dead) {
                onReadable(*c);
            }
        }
        {
            std::lock_guard lock(readyMutex);
            arrived.swap(incoming);
            work.swap(readyList);
            deferredDue.swap(deferredList);
        }
        // Outside readyMutex, which is taken under a client's m (scheduleLocked): under it,
        // removeClient's clientsMutex (held by stop() while it takes each client's m) closed a cycle.
        for (auto& c : arrived) {
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.fd = c->fd;
            if (::epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) == 0) {
                clients.emplace(c->fd, c);
            } else {
                gw.log->error("ws client {} ({}): cannot watch its socket: {}", c->id, c->peer, std::strerror(errno));
                c->dead = true;
                {
                    std::lock_guard lock(c->m);
                    c->closed = true;  // nothing is queued for it any more
                }
                gw.removeClient(c->id);
            }
        }
        arrived.clear();
        for (auto& c : deferredDue) {
            if (!c->dead) {
                handleDeferred(*c);
            }
        }
        deferredDue.clear();
        flushBatch(work);
        work.clear();
        const std::int64_t now = monoNowNs();
        if (now - lastHousekeeping >= 100 * kMsNs) {
            lastHousekeeping = now;
            housekeeping(now);
        }
    }
    // Stopping: tell every client, best effort, and close.
    for (auto& [fd, c] : clients) {
        if (!c->dead) {
            sayGoodbye(*c, "server shutting down");
            closeNow(*c);
        }
    }
    clients.clear();
    queuedBytes.store(0, std::memory_order_relaxed);
    maxClientQueueBytes.store(0, std::memory_order_relaxed);
}

Client::Drain Client::drain(std::vector<FramePtr>& written, bool direct, int& error)
{
    std::unique_lock lock(m);
    if (writing) {
        return Drain::Busy;  // the other writer goes on until the queue is empty or the socket full
    }
    writing = true;
    // Every return (and a throw) ends the write while m is still held: the guard is declared
    // after the lock, so it is destroyed first.
    struct EndWrite {
        bool& writing;
        ~EndWrite() { writing = false; }
    } endWrite{writing};
    std::size_t budget = direct ? static_cast<std::size_t>(queuedBytes) : SIZE_MAX;
    PendingSend send;
    for (;;) {
        if (const auto done = prepareSendLocked(send, direct, budget)) {
            return *done;
        }
        lock.unlock();
        written.clear();  // the previous round's frames; iov points into the queue's, not these
        const ssize_t n = ::sendmsg(fd, &send.header(), MSG_NOSIGNAL | MSG_DONTWAIT);
        const int err = errno;
        lock.lock();
        if (const auto done = finishSendLocked(send, n, err, written, budget, error)) {
            return *done;
        }
    }
}

std::optional<Client::Drain> Client::prepareSendLocked(PendingSend& send, bool direct, std::size_t budget)
{
    if (closed) {
        return closedMeanwhileLocked();
    }
    while (!queue.empty() && !queue.front()) {
        queue.pop_front();
        ++popped;
    }
    if (queue.empty()) {
        scheduled = false;
        return Drain::Empty;
    }
    if (budget == 0) {
        return Drain::More;
    }
    if (conflatedPending > 0) {
        // The client is told how many market-data messages it missed, on the next message
        // frame not yet started (the front may be half written).
        for (std::size_t k = headOffset > 0 ? 1 : 0; k < queue.size(); ++k) {
            const FramePtr& f = queue[k];
            if (!f || !f->isMessage) {
                continue;
            }
            FramePtr told = withConflated(*f, conflatedPending);
            queuedBytes = queuedBytes - f->wireLength + told->wireLength;
            if (indexed) {
                auto it = latest.find(f->topic());
                if (it != latest.end() && it->second == popped + k) {
                    latest.erase(it);
                }
            }
            queue[k] = std::move(told);
            conflatedPending = 0;
            break;
        }
    }
    send.count = 0;
    send.bytes = 0;
    std::size_t entries = 0;
    for (std::size_t i = 0; i < queue.size() && send.count < kMaxIov && send.bytes < kMaxWriteBytes; ++i) {
        const FramePtr& f = queue[i];
        if (f && f->isClose && direct) {
            break;
        }
        ++entries;
        if (!f) {
            continue;
        }
        const std::string_view wire = f->wire();
        const std::size_t skip = i == 0 ? headOffset : 0;
        send.iov[send.count].iov_base = const_cast<char*>(wire.data() + skip);
        send.iov[send.count].iov_len = wire.size() - skip;
        send.bytes += send.iov[send.count].iov_len;
        ++send.count;
        if (f->isClose) {
            break;  // nothing after a close frame
        }
    }
    if (send.count == 0) {
        return Drain::AtClose;
    }
    pinned = entries;
    return std::nullopt;
}

Client::Drain Client::closedMeanwhileLocked()
{
    queue.clear();  // what closeNow() left for the write in flight, now done
    queuedBytes = 0;
    controlBytes = 0;
    scheduled = false;
    return Drain::Empty;
}

std::optional<Client::Drain> Client::finishSendLocked(const PendingSend& send, ssize_t n, int err,
                                                      std::vector<FramePtr>& written, std::size_t& budget, int& error)
{
    pinned = 0;
    if (closed) {
        return closedMeanwhileLocked();
    }
    if (n < 0) {
        if (err == EAGAIN || err == EWOULDBLOCK) {
            return Drain::Full;
        }
        if (sendError == 0) {
            sendError = err;  // the loop's retry would only see EPIPE
        }
        error = sendError;
        return Drain::Failed;
    }
    gw.sentBytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    gw.mSentBytes.inc(static_cast<std::uint64_t>(n));
    budget -= std::min(budget, static_cast<std::size_t>(n));
    std::size_t left = static_cast<std::size_t>(n);
    bool closeWritten = false;
    std::uint64_t frames = 0;
    while (!queue.empty()) {
        const FramePtr& f = queue.front();
        if (!f) {
            queue.pop_front();
            ++popped;
            continue;
        }
        const std::size_t remaining = f->wireLength - headOffset;
        if (left < remaining) {
            headOffset += left;
            break;
        }
        left -= remaining;
        headOffset = 0;
        queuedBytes -= f->wireLength;
        controlBytes -= f->isMessage || f->isClose ? 0 : f->wireLength;
        closeWritten = closeWritten || f->isClose;
        if (indexed && f->conflatable) {
            auto it = latest.find(f->topic());
            if (it != latest.end() && it->second == popped) {
                latest.erase(it);
            }
        }
        written.push_back(std::move(queue.front()));
        queue.pop_front();
        ++popped;
        ++frames;
        if (closeWritten) {
            break;
        }
    }
    if (queue.empty() && indexed) {
        latest.clear();
        indexed = false;
    }
    gw.sent.fetch_add(frames, std::memory_order_relaxed);
    gw.mSent.inc(frames);
    wakeReplayLocked();  // a parked replay, once there is room
    if (closeWritten) {
        queue.clear();
        queuedBytes = 0;
        controlBytes = 0;
        scheduled = false;
        return Drain::CloseWritten;
    }
    if (static_cast<std::size_t>(n) < send.bytes) {
        return Drain::Full;
    }
    return std::nullopt;  // all of it went out: the next round sends what is queued now
}

void Loop::flush(Client& c)
{
    int error = 0;
    const Client::Drain result = c.drain(written, false, error);
    written.clear();  // the frames written, freed outside the client's lock
    afterDrain(c, result, error);
}

void Loop::afterDrain(Client& c, Client::Drain result, int error)
{
    switch (result) {
    case Client::Drain::Empty:
        updateInterest(c, false);
        break;
    case Client::Drain::Full:
        updateInterest(c, true);  // the socket is full: continue on EPOLLOUT
        break;
    case Client::Drain::Failed:
        gw.log->info("ws client {} ({}) gone: {}", c.id, c.peer, std::strerror(error));
        closeNow(c);
        break;
    case Client::Drain::CloseWritten:
        // Our close frame is out: stop writing and wait (briefly) for the peer's.
        ::shutdown(c.fd, SHUT_WR);
        c.closeSent = true;
        c.closeDeadline = monoNowNs() + kCloseGraceNs;
        updateInterest(c, false);
        break;
    case Client::Drain::Busy:     // the routing thread is writing; it hands the client back if needed
    case Client::Drain::AtClose:  // not asked of the loop
    case Client::Drain::More:
        break;
    }
}

void Loop::onReadable(Client& c)
{
    for (int chunk = 0; chunk < kReadChunksPerWake; ++chunk) {
        const std::size_t old = c.rbuf.size();
        c.rbuf.resize(old + kReadChunk);
        const ssize_t n = ::recv(c.fd, c.rbuf.data() + old, kReadChunk, MSG_DONTWAIT);
        const int err = errno;
        c.rbuf.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        if (n == 0) {
            if (!c.closeSent) {
                gw.log->info("ws client {} ({}) disconnected", c.id, c.peer);
            }
            closeNow(c);
            return;
        }
        if (n < 0) {
            if (err == EAGAIN || err == EWOULDBLOCK) {
                break;
            }
            if (err == EINTR) {
                continue;
            }
            gw.log->info("ws client {} ({}) gone: {}", c.id, c.peer, std::strerror(err));
            closeNow(c);
            return;
        }
        c.lastReceivedMono = monoNowNs();
        c.pingOutstanding = false;
        if (c.closeSent) {
            c.rbuf.clear();  // after our close frame, only the peer's close matters: EOF follows
            continue;
        }
        std::size_t pos = 0;
        while (!c.dead && !c.closeSent && pos < c.rbuf.size()) {
            ClientFrame frame;
            const ParseResult r = parseFrame(c.rbuf.data() + pos, c.rbuf.size() - pos, gw.options.maxFrameBytes, frame);
            if (r.status == ParseResult::Incomplete) {
                break;
            }
            if (r.status == ParseResult::Error) {
                protocolClose(c, r.closeCode, r.error, r.closeCode == close_code::kTooBig ? "too_big" : "protocol");
                return;
            }
            pos += r.consumed;
            handleFrame(c, frame);
        }
        if (c.dead) {
            return;
        }
        c.rbuf.erase(0, pos);
        if (c.rbuf.size() > gw.options.maxFrameBytes + 2 * kReadChunk) {
            protocolClose(c, close_code::kTooBig, "frame larger than ws.max_frame_bytes", "too_big");
            return;
        }
    }
}

void Loop::handleFrame(Client& c, const ClientFrame& frame)
{
    const std::string_view payload = frame.payload;
    switch (frame.op) {
    case Opcode::Ping:
        c.sendControl(pongFrame(payload), Client::ControlKind::Pong);
        return;
    case Opcode::Pong:
        return;  // lastReceivedMono was updated by the read
    case Opcode::Close: {
        std::uint16_t code = close_code::kNormal;  // the answer to a close without a code
        if (payload.size() == 1) {
            protocolClose(c, close_code::kProtocolError, "close frame with a 1-byte payload", "protocol");
            return;
        }
        if (payload.size() >= 2) {
            code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]));
            // RFC 6455 7.4 and IANA's registry: what a peer may put in a close frame.
            const bool sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                                  (code >= 3000 && code <= 4999);
            if (!sendable) {
                protocolClose(c, close_code::kProtocolError, "close code " + std::to_string(code) + " may not be sent",
                              "protocol");
                return;
            }
            if (!isValidUtf8(payload.substr(2))) {
                protocolClose(c, close_code::kInvalidData, "close reason is not valid UTF-8", "protocol");
                return;
            }
        }
        gw.log->info("ws client {} ({}) closed the connection ({})", c.id, c.peer, code);
        std::lock_guard lock(c.m);
        if (!c.closing && !c.closed) {
            FramePtr reply = closeFrame(code, "");
            c.queuedBytes += reply->wireLength;
            c.queue.push_back(std::move(reply));
            c.closing = true;
            c.closingSinceMono = monoNowNs();
            c.scheduleLocked();
            c.wakeReplayLocked();  // a parked replay ends
        }
        return;
    }
    default:
        break;
    }
    // Data frames, possibly fragmented: a message is one text frame, or a first frame and
    // continuations up to one with fin, bounded by ws.max_frame_bytes in total.
    Opcode op = frame.op;
    std::string_view whole = payload;
    if (op == Opcode::Continuation) {
        if (!c.inFragmented) {
            protocolClose(c, close_code::kProtocolError, "continuation frame without a message to continue", "protocol");
            return;
        }
        if (c.fragments.size() + payload.size() > gw.options.maxFrameBytes) {
            protocolClose(c, close_code::kTooBig, "message larger than ws.max_frame_bytes", "too_big");
            return;
        }
        c.fragments.append(payload);
        if (!frame.fin) {
            return;
        }
        c.inFragmented = false;
        op = c.fragmentOp;
        whole = c.fragments;
    } else {
        if (c.inFragmented) {
            protocolClose(c, close_code::kProtocolError, "new message before the fragmented one ended", "protocol");
            return;
        }
        // Rate limit per client, counted per message.
        const std::int64_t now = monoNowNs();
        if (now - c.rateWindowStart >= 1000 * kMsNs) {
            c.rateWindowStart = now;
            c.rateCount = 0;
        }
        ++c.rateCount;
        const int limit = gw.options.maxMessagesPerSecond;
        if (limit > 0 && c.rateCount > 2 * limit) {
            protocolClose(c, close_code::kPolicyViolation,
                          "incoming message rate over ws.max_messages_per_second (" + std::to_string(limit) + ")",
                          "rate");
            return;
        }
        if (!frame.fin) {
            c.inFragmented = true;
            c.fragmentOp = op;
            c.fragments.assign(payload);
            return;
        }
    }
    const int limit = gw.options.maxMessagesPerSecond;
    if (limit > 0 && c.rateCount > limit) {
        gw.clientErrors.fetch_add(1, std::memory_order_relaxed);
        gw.mClientErrors.inc();
        c.sendControl(textFrame(errorJson("rate_limited", "more than " + std::to_string(limit) +
                                                              " messages per second (ws.max_messages_per_second); "
                                                              "this one was ignored")));
        return;
    }
    if (op == Opcode::Binary) {
        gw.clientErrors.fetch_add(1, std::memory_order_relaxed);
        gw.mClientErrors.inc();
        c.sendControl(textFrame(errorJson("bad_request", "binary frames are not supported: send JSON text frames")));
        return;
    }
    const std::string text(whole);  // fragments may be reused by the next frame
    c.fragments.clear();
    handleText(c, text);
}

void Loop::handleText(Client& c, std::string_view text)
{
    if (!isValidUtf8(text)) {
        protocolClose(c, close_code::kInvalidData, "text frame is not valid UTF-8", "protocol");
        return;
    }
    ClientRequest req;
    std::string code;
    std::string message;
    if (!parseRequest(text, req, code, message)) {
        gw.clientErrors.fetch_add(1, std::memory_order_relaxed);
        gw.mClientErrors.inc();
        c.sendControl(textFrame(errorJson(code, message)));
        return;
    }
    switch (req.op) {
    case ClientRequest::Op::Ping:
        c.sendControl(textFrame(withId(R"({"op":"pong"})", req.idJson)));
        return;
    case ClientRequest::Op::Subscribe:
        if (!deferRequest(c, req)) {
            handleSubscribe(c, req);
        }
        return;
    case ClientRequest::Op::Unsubscribe:
        if (!deferRequest(c, req)) {
            handleUnsubscribe(c, req);
        }
        return;
    }
}

namespace {

/// A subscribe without "from": it takes effect with its reply, so it waits for replays to end.
bool waitsForReplays(const ClientRequest& req)
{
    return req.op == ClientRequest::Op::Subscribe && !req.hasFrom;
}

/// The request's topic patterns with its types.
std::vector<Filter> requestedFilters(const ClientRequest& req)
{
    std::vector<Filter> filters;
    for (const std::string& t : req.topics) {
        filters.push_back(Filter{t, req.types});
    }
    return filters;
}

}  // namespace

bool Loop::deferRequest(Client& c, ClientRequest& req)
{
    std::unique_lock lock(c.m);
    // A subscribe without "from" takes effect with its reply. While a replay of the client
    // runs, that would hold its messages behind the replay's: on a stream both read, older
    // entries would follow newer ones. So it waits for the replays to end, and so does every
    // request after it (they are handled in the order sent).
    if (c.deferred.empty() && !(waitsForReplays(req) && c.replayAheadLocked())) {
        return false;
    }
    if (c.deferred.size() >= kMaxDeferredRequests) {
        lock.unlock();
        gw.clientErrors.fetch_add(1, std::memory_order_relaxed);
        gw.mClientErrors.inc();
        c.sendControl(textFrame(withId(errorJson("limit", "more than " + std::to_string(kMaxDeferredRequests) +
                                                              " subscribe and unsubscribe requests waiting for a replay to end"),
                                       req.idJson)));
        return true;
    }
    c.deferred.push_back(std::move(req));
    return true;
}

void Loop::handleDeferred(Client& c)
{
    for (;;) {
        ClientRequest req;
        {
            std::lock_guard lock(c.m);
            if (c.closed || c.closing) {
                c.deferred.clear();
                return;
            }
            if (c.deferred.empty()) {
                return;
            }
            if (c.replayAheadLocked() && waitsForReplays(c.deferred.front())) {
                return;  // a replay it asked for before this one: handled when that ends
            }
            req = std::move(c.deferred.front());
            c.deferred.pop_front();
        }
        if (req.op == ClientRequest::Op::Subscribe) {
            handleSubscribe(c, req);
        } else {
            handleUnsubscribe(c, req);
        }
    }
}

void Loop::handleSubscribe(Client& c, ClientRequest& req)
{
    auto error = [&](std::string_view code, const std::string& message) {
        gw.clientErrors.fetch_add(1, std::memory_order_relaxed);
        gw.mClientErrors.inc();
        c.sendControl(textFrame(withId(errorJson(code, message), req.idJson)));
    };
    if (c.auth.restricted) {
        for (const std::string& t : req.topics) {
            if (!patternAllowed(c.auth.allowedTopics, t)) {
                error("forbidden", "topic pattern \"" + t + "\" is not allowed for this token");
                return;
            }
        }
    }
    std::size_t added = 0;
    for (const std::string& t : req.topics) {
        added += c.subs.contains(t) ? 0 : 1;
    }
    if (c.subs.size() + added > gw.options.maxSubscriptions) {
        error("limit", "more than " + std::to_string(gw.options.maxSubscriptions) +
                           " topic patterns per client (ws.max_subscriptions)");
        return;
    }
    // Where the bus is as the live flow starts to wait: the client's other subscriptions got
    // whatever they had up to here (messages held from now on come after it).
    std::map<std::string, StreamId, std::less<>> busAtHold;
    if (req.hasFrom) {
        for (const StreamStatus& st : gw.sources.bus().streams) {
            busAtHold.emplace(st.key, st.lastId);
        }
        std::lock_guard lock(c.m);
        ++c.replaying;  // live messages wait for the replay from now on
    } else {
        // Before the routing thread can see the new patterns: messages follow the reply.
        std::string out;
        JsonWriter w(out);
        w.beginObject().field("op", "subscribed");
        writeTopicsAndTypes(w, req.topics, req.types);
        w.endObject();
        c.sendControl(textFrame(withId(std::move(out), req.idJson)));
        // Below a stream's watermark, the new patterns' messages came before this reply (see
        // Watermark).
    }
    {
        std::lock_guard lock(c.m);
        const std::vector<Filter> requested = requestedFilters(req);
        // A floor goes with the subscription it was for: asked again, that one is replaced.
        std::erase_if(c.floors, [&](const Client::Watermark& floor) {
            return withoutPatterns(floor.floorFilters(), requested).empty();
        });
        for (const Filter& f : requested) {
            if (!req.hasFrom) {
                // In the filters before the router routes the pattern: a catch-up starting
                // meanwhile reads its messages too. (A replayed pattern joins them just before
                // its job is posted: other replays must not take it for a live one before.)
                std::erase_if(c.filters, [&](const Filter& g) { return g.pattern == f.pattern; });
                c.filters.push_back(f);
            }
            // On streams a single-"from" floor holds, everything after the reply is theirs (a
            // replayed one's own floor narrows that as its replay ends).
            for (Client::Watermark& floor : c.floors) {
                std::erase_if(floor.owedElsewhere, [&](const Coverage& g) { return g.filters.front().pattern == f.pattern; });
                floor.owedElsewhere.push_back(Coverage{{f}, {}, {}});
            }
        }
    }
    for (const std::string& t : req.topics) {
        auto it = c.subs.find(t);
        if (it != c.subs.end() && sameStringSet(it->second.types, req.types)) {
            continue;
        }
        // Other types for a pattern: the new subscription is in place before the old one goes,
        // so nothing routed in between is missed (a message both match is delivered once).
        Client::Sub sub;
        sub.types = req.types;
        sub.routerId = gw.clientRouter.subscribe(t, req.types, &c);
        gw.subscriptions.fetch_add(1, std::memory_order_relaxed);
        if (it != c.subs.end()) {
            gw.clientRouter.unsubscribe(it->second.routerId);
            gw.subscriptions.fetch_sub(1, std::memory_order_relaxed);
            it->second = std::move(sub);
        } else {
            c.subs.emplace(t, std::move(sub));
        }
    }
    {
        std::lock_guard lock(c.m);
        c.updateFiltersLocked();
    }
    if (!req.hasFrom) {
        return;
    }
    ReplayJob job;
    job.client = c.shared_from_this();
    job.filters = requestedFilters(req);
    job.fromAll = req.fromAll;
    job.fromByStream = std::move(req.fromByStream);
    job.idJson = req.idJson;
    job.busAtHold = std::move(busAtHold);
    gw.replays.fetch_add(1, std::memory_order_relaxed);
    gw.replaying.fetch_add(1, std::memory_order_relaxed);
    gw.mReplays.inc();
    gw.postReplay(std::move(job));
}

void Loop::handleUnsubscribe(Client& c, const ClientRequest& req)
{
    std::string out;
    JsonWriter w(out);
    w.beginObject().field("op", "unsubscribed").key("topics").beginArray();
    for (const std::string& t : req.topics) {
        auto it = c.subs.find(t);
        if (it == c.subs.end()) {
            continue;
        }
        gw.clientRouter.unsubscribe(it->second.routerId);
        gw.subscriptions.fetch_sub(1, std::memory_order_relaxed);
        c.subs.erase(it);
        w.value(t);
    }
    w.endArray().endObject();
    {
        std::lock_guard lock(c.m);
        c.updateFiltersLocked();
        // Owed nothing more: the floors' lists stay within the client's subscriptions, and a
        // floor goes with the last of its own patterns.
        const auto gone = [&](const Filter& g) {
            return std::find(req.topics.begin(), req.topics.end(), g.pattern) != req.topics.end();
        };
        for (Client::Watermark& floor : c.floors) {
            std::erase_if(floor.owedElsewhere, [&](const Coverage& g) { return gone(g.filters.front()); });
        }
        std::erase_if(c.floors, [&](const Client::Watermark& floor) {
            return withoutPatterns(floor.floorFilters(), c.filters).size() == floor.floorFilters().size();
        });
    }
    c.sendControl(textFrame(withId(std::move(out), req.idJson)));
}

void Loop::protocolClose(Client& c, std::uint16_t code, std::string_view reason, const char* counterReason)
{
    gw.log->warn("ws client {} ({}) closed: {} ({})", c.id, c.peer, reason, code);
    gw.countDropped(counterReason);
    {
        std::lock_guard lock(c.m);
        if (c.closing || c.closed) {
            return;
        }
        // What is queued (replies to the frames before this one) goes out first.
        FramePtr close = closeFrame(code, reason);
        c.queuedBytes += close->wireLength;
        c.queue.push_back(std::move(close));
        c.closing = true;
        c.closingSinceMono = monoNowNs();
        c.scheduleLocked();
        c.wakeReplayLocked();  // a parked replay ends
    }
    c.rbuf.clear();
}

void Loop::sayGoodbye(Client& c, std::string_view reason)
{
    // Straight to the socket, best effort, and only between two frames: never into a frame half
    // written, nor while the routing thread writes (held under m, so none starts meanwhile; the
    // client is closed before m is released, so none starts after).
    std::lock_guard lock(c.m);
    if (!c.closed && !c.writing && c.headOffset == 0) {
        const std::string bye = makeCloseFrame(close_code::kGoingAway, reason);
        [[maybe_unused]] const auto w = ::send(c.fd, bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    c.closed = true;
}

void Loop::closeNow(Client& c)
{
    if (c.dead) {
        return;
    }
    c.dead = true;
    {
        std::lock_guard lock(c.m);
        c.closed = true;
        if (c.writing) {
            // The routing thread is sending from the frames at the front: they stay until it
            // is back (it then finds the client closed and drops the rest).
            c.queue.erase(c.queue.begin() + static_cast<std::ptrdiff_t>(std::min(c.pinned, c.queue.size())), c.queue.end());
        } else {
            c.queue.clear();
        }
        c.queuedBytes = 0;
        c.controlBytes = 0;
        c.liveBuffer.clear();
        c.latest.clear();
        c.wakeReplayLocked();  // a parked replay ends
    }
    // After this, the routing thread routes nothing more to the client (a hand-off may still
    // hold its last frames; it finds the client closed).
    for (auto& [pattern, sub] : c.subs) {
        gw.clientRouter.unsubscribeAndWait(sub.routerId);
        gw.subscriptions.fetch_sub(1, std::memory_order_relaxed);
    }
    c.subs.clear();
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::shutdown(c.fd, SHUT_RDWR);
    gw.removeClient(c.id);
    // The loop's map entry goes at the end of the iteration (housekeeping), not while an
    // iterator of it may be in use.
}

void Loop::housekeeping(std::int64_t now)
{
    const std::int64_t interval = static_cast<std::int64_t>(gw.options.pingIntervalMs) * kMsNs;
    std::uint64_t total = 0;
    std::uint64_t largest = 0;
    for (auto it = clients.begin(); it != clients.end();) {
        Client& c = *it->second;
        if (!c.dead && c.closeSent && now >= c.closeDeadline) {
            closeNow(c);
        }
        if (!c.dead && !c.closeSent) {
            bool stuck = false;
            {
                std::lock_guard lock(c.m);
                stuck = c.closing && now - c.closingSinceMono > kStuckCloseNs;
                if (c.parked && !c.closing) {
                    // A replay waits for this client to read: it is closed after
                    // ws.stall_timeout_ms without one frame read (its events cannot be dropped).
                    if (c.popped != c.parkedPopped) {
                        c.parkedPopped = c.popped;
                        c.parkedSinceMono = now;
                    } else if (now - c.parkedSinceMono >= static_cast<std::int64_t>(gw.options.stallTimeoutMs) * kMsNs) {
                        c.closeForOverflowLocked();
                    }
                }
            }
            if (stuck) {
                closeNow(c);  // its close frame cannot even be written: the peer reads nothing
            }
        }
        if (!c.dead && !c.closeSent && interval > 0) {
            const std::int64_t quiet = now - c.lastReceivedMono;
            if (quiet > 2 * interval) {
                gw.log->warn("ws client {} ({}) closed: nothing received for {} ms (keepalive)", c.id, c.peer,
                             quiet / kMsNs);
                gw.countDropped("keepalive");
                // Best effort: a dead peer will not read it, a live but mute one learns why.
                sayGoodbye(c, "keepalive timeout: no pong");
                closeNow(c);
            } else if (quiet > interval && !c.pingOutstanding) {
                c.pingOutstanding = true;
                c.sendControl(pingFrame(), Client::ControlKind::Relay);
            }
        }
        if (c.dead) {
            it = clients.erase(it);
        } else {
            const std::uint64_t queued = c.queuedBytes;
            total += queued;
            largest = std::max(largest, queued);
            ++it;
        }
    }
    // Release after the total: a reader that acquires this fullest queue sees a total with it.
    queuedBytes.store(total, std::memory_order_relaxed);
    maxClientQueueBytes.store(largest, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// Gateway

WsGateway::Impl::Impl(WsOptions o, WsSources s)
    : options(std::move(o)),
      sources(std::move(s)),
      auth(options),
      mSent(MetricsRegistry::global().counter("nautilus_relay_ws_sent_frames_total", "Frames written to WebSocket clients")),
      mSentBytes(MetricsRegistry::global().counter("nautilus_relay_ws_sent_bytes_total", "Bytes written to WebSocket clients")),
      mConflated(MetricsRegistry::global().counter("nautilus_relay_ws_conflated_total",
                                                   "Market-data messages a slow client got a newer value instead of")),
      mReplays(MetricsRegistry::global().counter("nautilus_relay_ws_replays_total", "Subscriptions with \"from\" (replays)")),
      mReplayed(MetricsRegistry::global().counter("nautilus_relay_ws_replayed_total", "Entries sent from Redis history")),
      mClientErrors(MetricsRegistry::global().counter("nautilus_relay_ws_client_errors_total",
                                                      "Error frames sent for bad client frames"))
{
}

void WsGateway::Impl::countDropped(const char* reason)
{
    dropped.fetch_add(1, std::memory_order_relaxed);
    MetricsRegistry::global()
        .counter("nautilus_relay_ws_dropped_clients_total", "WebSocket clients closed by the relay",
                 std::string("reason=\"") + reason + "\"")
        .inc();
}

void WsGateway::Impl::removeClient(std::uint64_t clientId)
{
    std::lock_guard lock(clientsMutex);
    if (clients.erase(clientId) != 0) {
        clientCount.fetch_sub(1, std::memory_order_relaxed);
        admitted.fetch_sub(1);
    }
}

void WsGateway::Impl::broadcast(const FramePtr& frame)
{
    std::vector<std::shared_ptr<Client>> all;
    {
        std::lock_guard lock(clientsMutex);
        all.reserve(clients.size());
        for (auto& [cid, c] : clients) {
            all.push_back(c);
        }
    }
    for (auto& c : all) {
        c->sendControl(frame, Client::ControlKind::Relay);
    }
}

// ---------------------------------------------------------------------------------------------
// Replay

namespace {

struct StreamPlan {
    std::string key;
    StreamId from;
    /// The client gave this id for this stream (or the relay reads one stream): an id after the
    /// stream's last one means the stream was reset. A "*" or single id with one stream per
    /// topic is a point in time instead: a quiet stream simply has nothing after it.
    bool ownId = false;
    bool recovered = true;
    std::string reason;
    std::optional<StreamId> firstEntry;  ///< when checked
};

// XINFO STREAM key: is everything after `from` still there?
void checkHistory(RedisLink& link, StreamPlan& plan)
{
    RespReader r = link.command({"XINFO", "STREAM", plan.key});
    RespValue top = r.next();
    if (top.type == RespType::Error) {
        if (top.str.find("no such key") != std::string_view::npos) {
            plan.recovered = false;
            plan.reason = "stream does not exist";
            return;
        }
        throw RedisLinkError("XINFO STREAM " + plan.key + ": " + std::string(top.str));
    }
    if (!top.isArray()) {
        throw RedisLinkError("unexpected XINFO STREAM reply");
    }
    std::optional<StreamId> lastGenerated;
    std::optional<StreamId> maxDeleted;
    std::optional<StreamId> firstEntry;
    std::optional<std::int64_t> entriesAdded;
    std::int64_t length = 0;
    const std::size_t n = top.size();
    for (std::size_t i = 0; i + 1 < n; i += 2) {
        const RespValue name = r.next();
        r.skipChildren(name);
        const std::string_view field = name.str;
        const RespValue value = r.next();
        if (field == "last-generated-id" && value.isString()) {
            lastGenerated = StreamId::parse(value.str);
        } else if (field == "length" && value.type == RespType::Integer) {
            length = value.integer;
        } else if (field == "entries-added" && value.type == RespType::Integer) {
            entriesAdded = value.integer;
        } else if (field == "max-deleted-entry-id" && value.isString()) {
            maxDeleted = StreamId::parse(value.str);
        } else if (field == "first-entry" && value.isArray() && value.size() >= 1) {
            const RespValue fid = r.next();
            if (fid.isString()) {
                firstEntry = StreamId::parse(fid.str);
            }
            r.skipChildren(fid);
            for (std::size_t k = 1; k < value.size(); ++k) {
                r.skipValue();
            }
            continue;
        }
        r.skipChildren(value);
    }
    plan.firstEntry = firstEntry;
    if (lastGenerated && plan.from > *lastGenerated && plan.ownId) {
        plan.recovered = false;
        plan.reason = "stream was reset: its last id " + lastGenerated->toString() + " is before from; replaying all of it";
        plan.from = StreamId{};
        return;
    }
    // Trimming (XTRIM, MAXLEN) does not move max-deleted-entry-id, only XDEL does; so an id older
    // than the first entry left, on a stream that lost entries, cannot be proven complete.
    const bool lostSome = entriesAdded ? *entriesAdded > length : !plan.from.isZero();
    if (maxDeleted && *maxDeleted > plan.from) {
        plan.recovered = false;
        plan.reason = "entries after from were deleted; oldest available is " +
                      (firstEntry ? firstEntry->toString() : std::string("none"));
    } else if (lostSome && (firstEntry ? *firstEntry > plan.from : lastGenerated && plan.from < *lastGenerated)) {
        plan.recovered = false;
        plan.reason = "from is older than the stream's first entry " +
                      (firstEntry ? firstEntry->toString() : std::string("(none left)")) + ": entries were trimmed";
    }
}

}  // namespace

void WsGateway::Impl::replayWorker()
{
    RedisLinkOptions o = sources.redis;
    o.clientName = "nautilus-relay-ws-replay";
    RedisLink link(o);
    EntryDecoder decoder;
    std::unique_lock lock(replayMutex);
    for (;;) {
        replayWake.wait(lock, [this] { return replayStop || !replayJobs.empty(); });
        if (replayStop) {
            return;
        }
        ReplayJob job = std::move(replayJobs.front());
        replayJobs.pop_front();
        lock.unlock();
        if (job.catchUp && !job.started) {
            replaying.fetch_add(1, std::memory_order_relaxed);  // a subscribe's counts when asked
        }
        bool done = true;
        try {
            done = runReplay(link, decoder, job);
        } catch (const std::exception& e) {
            // Redis failed under the replay: the client is told, and closed when it was catching
            // up (it must resume with from; its events cannot be dropped silently).
            log->error("ws client {} ({}): {} failed: {}", job.client->id, job.client->peer,
                       job.catchUp ? "catch-up" : "replay", e.what());
            link.close();
            Client& c = *job.client;
            c.sendControl(textFrame(
                withId(errorJson("replay_failed", std::string("reading Redis history failed: ") + e.what()), job.idJson)));
            std::lock_guard cl(c.m);
            if (!c.closed && !c.closing) {
                if (job.catchUp || job.rereading || !c.lagFrom.empty() || c.lagging) {
                    c.closeForOverflowLocked();
                } else {
                    markReplayedLocked(job);  // the held copies of what it did send are not sent again
                    c.endReplayLocked();
                }
            }
        }
        if (!done) {
            parkReplay(std::move(job));  // still this client's job: its next one waits
            lock.lock();
            continue;
        }
        replaying.fetch_sub(1, std::memory_order_relaxed);
        const Client* client = job.client.get();
        job.client.reset();
        lock.lock();
        replayEndedLocked(client);
    }
}

void WsGateway::Impl::parkReplay(ReplayJob job)
{
    const std::shared_ptr<Client> client = job.client;
    Client& c = *client;
    std::lock_guard lock(c.m);
    c.parkedNeed = job.needBytes;
    if (c.closed || c.closing || c.replayMayResumeLocked()) {
        resumeReplay(std::move(job));  // the client read (or went) meanwhile
        return;
    }
    c.parked = std::make_unique<ReplayJob>(std::move(job));
    c.parkedPopped = c.popped;
    c.parkedSinceMono = monoNowNs();
}

namespace {

// The id just before `id`, so that XRANGE "(" + before(id) starts at id itself.
StreamId before(StreamId id)
{
    if (id.seq > 0) {
        return StreamId{id.ms, id.seq - 1};
    }
    return id.ms > 0 ? StreamId{id.ms - 1, ~std::uint64_t{0}} : StreamId{};
}

}  // namespace

bool WsGateway::Impl::startReplay(RedisLink& link, ReplayJob& job)
{
    Client& c = *job.client;
    // The streams this relay reads: a replay reads no other keys, and only these must still
    // hold a live message the client missed.
    const BusSnapshot bus = sources.bus();
    for (const StreamStatus& st : bus.streams) {
        job.busStreams.push_back(st.key);
    }
    if (job.catchUp) {
        // Everything this client did not get since it fell behind, from the first dropped
        // message of each stream on; live messages wait in its liveBuffer meanwhile.
        std::lock_guard lock(c.m);
        if (c.closed || c.closing) {
            return false;
        }
        c.replaying += 1;
        c.lagging = false;
        c.catchUpPosted = false;
        c.liveDropping = false;
        // Every subscription, those whose replay waits too: that replay may start after what
        // this reads again (a later from); sent twice rather than not at all.
        job.filters = c.filters;
        for (const auto& [key, first] : c.lagFrom) {
            StreamRead& rd = job.reads[key];
            rd.pos = before(first);
            rd.send = Coverage{job.filters, {}, {}};
            if (eventsMustBeFound(job, key)) {
                rd.mustFind = first;
                rd.checkTrim = true;
            }
        }
        log->info("ws client {} ({}) fell behind on {} stream(s); catching up from Redis", c.id, c.peer,
                  c.lagFrom.size());
        c.lagFrom.clear();
        return true;
    }
    // Which streams: the ones this relay reads (never arbitrary keys), narrowed by "from".
    const std::vector<std::string>& known = job.busStreams;
    std::vector<StreamPlan> plans;
    std::vector<std::string> unknown;
    for (const auto& [key, from] : job.fromByStream) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            unknown.push_back(key);
            continue;
        }
        plans.push_back(StreamPlan{key, from, true});
    }
    if (job.fromAll) {
        for (const std::string& key : known) {
            if (job.fromByStream.contains(key)) {
                continue;
            }
            // With one stream per topic the key names its topic: skip streams no pattern matches.
            if (!sources.perTopicPrefix.empty() && key.starts_with(sources.perTopicPrefix)) {
                const std::string_view topic = std::string_view(key).substr(sources.perTopicPrefix.size());
                bool any = false;
                for (const Filter& f : job.filters) {
                    any = any || (topic == kHeartbeatTopic ? f.pattern == kHeartbeatTopic : topicMatches(f.pattern, topic));
                }
                if (!any) {
                    continue;
                }
            }
            plans.push_back(StreamPlan{key, *job.fromAll, sources.perTopicPrefix.empty()});
        }
    }
    // The client's other subscriptions on these streams: after the last message of each stream
    // it got live (or the bus's position when its live flow began to wait: it was owed nothing
    // before), the replay sends theirs too, in stream order with its own, and the copies held
    // meanwhile are skipped.
    std::vector<Filter> others;
    std::map<std::string, StreamId, std::less<>> liveFrom = job.busAtHold;
    {
        std::lock_guard lock(c.m);
        others = withoutPatterns(filtersNotWaitingLocked(c), job.filters);
        for (const StreamPlan& plan : plans) {
            if (auto it = c.liveUpTo.find(plan.key); it != c.liveUpTo.end()) {
                const auto at = liveFrom.try_emplace(plan.key, it->second).first;
                at->second = std::max(at->second, it->second);
            }
        }
    }
    bool recovered = unknown.empty();
    for (StreamPlan& plan : plans) {
        checkHistory(link, plan);
        recovered = recovered && plan.recovered;
        StreamRead& rd = job.reads[plan.key];
        rd.pos = plan.from;
        rd.from = plan.from;
        if (job.fromAll && plan.from != *job.fromAll) {
            job.ownFromStreams.insert(plan.key);
        }
        rd.send = Coverage{job.filters, {}, {}};
        if (auto it = liveFrom.find(plan.key); !others.empty() && it != liveFrom.end()) {
            // Not what Redis no longer had when checked: those held messages go out after.
            const StreamId wide = plan.firstEntry && *plan.firstEntry > it->second ? before(*plan.firstEntry) : it->second;
            rd.send.wideFrom = wide;
            rd.send.wideFilters = others;
            if (wide < plan.from) {
                // The others' messages between the two are owed too: read from there, and the
                // replayed subscription's only after from.
                rd.pos = wide;
                rd.send.ownFrom = plan.from;
            }
        }
        rd.checkTrim = eventsMustBeFound(job, plan.key);
        if (plan.recovered && plan.firstEntry) {
            // Complete now, and still complete while the stream's first entry is not after
            // where the read starts (or, when nothing was ever lost, after the first entry
            // seen now). An empty
            // stream is left unguarded until its first entry: one added meanwhile is not a trim.
            rd.guard = std::max(*plan.firstEntry, rd.pos);
        }
    }
    std::string out;
    JsonWriter w(out);
    w.beginObject().field("op", "subscribed");
    std::vector<std::string> topics;
    for (const Filter& f : job.filters) {
        topics.push_back(f.pattern);
    }
    writeTopicsAndTypes(w, topics, job.filters.empty() ? std::vector<std::string>{} : job.filters.front().types);
    w.field("recovered", recovered);
    if (!recovered) {
        std::string reason;
        for (const StreamPlan& p : plans) {
            if (!p.recovered && reason.empty()) {
                reason = p.key + ": " + p.reason;
            }
        }
        if (reason.empty() && !unknown.empty()) {
            reason = unknown.front() + ": not a stream this relay reads";
        }
        w.field("reason", reason);
    }
    w.key("streams").beginArray();
    for (const StreamPlan& p : plans) {
        w.beginObject().field("stream", p.key).field("from", p.from.toString()).field("recovered", p.recovered);
        if (!p.recovered) {
            w.field("reason", p.reason);
        }
        w.endObject();
    }
    for (const std::string& k : unknown) {
        w.beginObject().field("stream", k).field("recovered", false).field("reason", "not a stream this relay reads").endObject();
    }
    w.endArray().endObject();
    c.sendControl(textFrame(withId(std::move(out), job.idJson)));
    return true;
}

bool WsGateway::Impl::eventsMustBeFound(ReplayJob& job, std::string_view key) const
{
    // Streams the bus reads (not what plugins publish, which lives on the bus only), except
    // market data the client could have been conflated on anyway.
    const auto known = [&] {
        return std::find(job.busStreams.begin(), job.busStreams.end(), key) != job.busStreams.end();
    };
    if (!known()) {
        // Perhaps found by the bus since the job started (a stream created meanwhile); asked
        // once per key (what plugins publish is never a bus stream).
        if (!job.notBus.insert(std::string(key)).second) {
            return false;
        }
        job.busStreams.clear();
        for (const StreamStatus& st : sources.bus().streams) {
            job.busStreams.push_back(st.key);
        }
        if (!known()) {
            return false;
        }
    }
    const std::string_view prefix = sources.perTopicPrefix;
    return !(options.conflateMarketData && !prefix.empty() && key.starts_with(prefix) &&
             key.substr(prefix.size()).starts_with("data."));
}

namespace {

/// What the client has once a read went out: its own subscription's messages up to "from"
/// too (it said so), not only those sent from there on. A held or re-read copy of one of them
/// is not sent, behind newer entries.
Coverage heldAfter(Coverage sent)
{
    sent.ownFrom.reset();
    return sent;
}

}  // namespace

void WsGateway::Impl::markReplayedLocked(ReplayJob& job)
{
    Client& c = *job.client;
    const std::vector<Filter> notWaiting = filtersNotWaitingLocked(c);
    for (auto& [key, rd] : job.reads) {
        if (!rd.read) {
            continue;  // a replay that failed before reading it: it covers nothing there
        }
        // It sent what all the client's subscriptions have up to here (but those whose
        // replay is still to come): a later replay takes the live flow over from here.
        const auto live = c.liveUpTo.try_emplace(key, rd.pos).first;
        live->second = std::max(live->second, rd.pos);
        std::vector<Coverage> covered = std::move(rd.sent);
        covered.push_back(heldAfter(std::move(rd.send)));
        std::vector<Client::Watermark>& marks = c.watermarks[key];
        if (marks.size() >= kMaxMarks) {
            marks.erase(marks.begin());
        }
        // Subscriptions whose replay is still to come are not in it: that replay sends theirs,
        // and on streams it does not read they start after the entries this one read.
        marks.push_back(Client::Watermark{.id = rd.pos, .covered = std::move(covered), .subscribedAtMark = notWaiting});
    }
    if (job.fromAll && !job.filters.empty()) {
        std::set<std::string, std::less<>> exempt = job.ownFromStreams;
        for (const auto& [key, id] : job.fromByStream) {
            exempt.insert(key);  // listed: its own id holds there, even for a stream not read yet
        }
        // Asked not to be sent by this subscription; another one of the client may want them.
        // It replaces the floor of the same patterns asked again.
        std::erase_if(c.floors, [&](const Client::Watermark& floor) {
            return withoutPatterns(floor.floorFilters(), job.filters).empty();
        });
        // The others are owed their messages: after their own floor's from where that holds on
        // every stream, else all. And this one is owed the others' only after its from.
        std::vector<Coverage> owed;
        for (const Filter& f : withoutPatterns(c.filters, job.filters)) {
            std::optional<StreamId> after;
            for (const Client::Watermark& floor : c.floors) {
                if (floor.exempt.empty() && hasPattern(floor.floorFilters(), f.pattern)) {
                    after = floor.id;
                }
            }
            owed.push_back(Coverage{{f}, {}, {}, after});
        }
        if (exempt.empty()) {
            for (Client::Watermark& floor : c.floors) {
                for (Coverage& other : floor.owedElsewhere) {
                    if (hasPattern(job.filters, other.filters.front().pattern)) {
                        other.ownFrom = *job.fromAll;
                    }
                }
            }
        }
        c.floors.push_back(Client::Watermark{.id = *job.fromAll,
                                             .covered = {Coverage{job.filters, {}, {}}},
                                             .owedElsewhere = std::move(owed),
                                             .exempt = std::move(exempt)});
    }
}

bool WsGateway::Impl::runReplay(RedisLink& link, EntryDecoder& decoder, ReplayJob& job)
{
    Client& c = *job.client;
    if (!link.isOpen()) {
        link.connect();
    }
    if (!job.started) {
        if (!startReplay(link, job)) {
            return true;
        }
        job.started = true;
    }
    auto& reads = job.reads;
    // Live messages dropped from `first` on (the client's queue or the held live flow was full):
    // read that stream again from there, for every subscription of the client, not only the one
    // replayed; what this replay sent already is skipped.
    const auto readAgain = [&](const std::string& key, StreamId first, const std::vector<Filter>& all) {
        auto [it, fresh] = reads.try_emplace(key);
        StreamRead& r = it->second;
        if (fresh) {
            r.pos = before(first);
        } else {
            if (!r.send.empty()) {
                r.sentUpTo = std::max(r.sentUpTo, r.pos);
                r.sent.push_back(heldAfter(std::move(r.send)));
            }
            r.pos = std::min(r.pos, before(first));
        }
        job.rereading = true;
        // The replayed subscription's messages up to its from are the client's already.
        std::optional<StreamId> from = r.from;
        if (fresh) {
            const auto listed = job.fromByStream.find(key);
            from = listed != job.fromByStream.end() ? std::optional<StreamId>(listed->second) : job.fromAll;
        }
        if (from && !from->isZero()) {
            r.send = Coverage{job.filters, StreamId{}, withoutPatterns(all, job.filters), from};
        } else {
            r.send = Coverage{all, {}, {}};
        }
        r.done = false;
        if (eventsMustBeFound(job, key)) {
            r.checkTrim = true;
            if (!r.mustFind || first < *r.mustFind) {
                r.mustFind = first;
            }
            r.guard.reset();  // from before(first) on, mustFind checks the first read
        }
    };
    std::vector<FieldView> fields;
    const std::string batch = std::to_string(options.replayBatch);
    std::string lost;  // a stream trimmed past what the client still needs
    // One XRANGE batch after rd.pos. Where trimming is checked, it runs in a MULTI after a look
    // at the stream's first entry: past `guard`, entries after guard may be gone.
    const auto readBatch = [&](const std::string& key, StreamRead& rd) {
        const bool guarded = rd.checkTrim && rd.guard.has_value();
        char buf[48];
        const std::string start = "(" + std::string(rd.pos.format(buf));
        if (guarded) {
            link.begin(1).arg("MULTI");
            link.begin(6).arg("XRANGE").arg(key).arg("-").arg("+").arg("COUNT").arg("1");
        }
        link.begin(6).arg("XRANGE").arg(key).arg(start).arg("+").arg("COUNT").arg(batch);
        if (guarded) {
            link.begin(1).arg("EXEC");
        }
        link.send();
        if (!guarded) {
            return link.readReply();
        }
        for (int i = 0; i < 3; ++i) {  // +OK, +QUEUED, +QUEUED
            RespReader ack = link.readReply();
            const RespValue v = ack.next();
            if (v.type == RespType::Error) {
                throw RedisLinkError("MULTI reading " + key + ": " + std::string(v.str));
            }
        }
        RespReader r = link.readReply();
        const RespValue exec = r.next();
        if (!exec.isArray() || exec.size() != 2) {
            throw RedisLinkError("unexpected EXEC reply reading " + key + ": " +
                                 (exec.type == RespType::Error ? std::string(exec.str) : std::string("not two replies")));
        }
        const RespValue head = r.next();
        if (head.isArray() && head.size() >= 1) {
            const RespValue entry = r.next();
            std::optional<StreamId> first;
            if (entry.isArray() && entry.size() >= 1) {
                const RespValue idV = r.next();
                first = idV.isString() ? StreamId::parse(idV.str) : std::nullopt;
                for (std::size_t k = 1; k < entry.size(); ++k) {
                    r.skipValue();
                }
            } else {
                r.skipChildren(entry);
            }
            for (std::size_t k = 1; k < head.size(); ++k) {
                r.skipValue();
            }
            if (first && *first > *rd.guard) {
                lost = key + " after " + rd.guard->toString();
            }
        } else {
            r.skipChildren(head);
        }
        return r;  // at the XRANGE reply
    };
    for (;;) {
        for (auto& [key, rd] : reads) {
            if (rd.done) {
                continue;
            }
            for (;;) {
                {
                    std::lock_guard lock(c.m);
                    if (c.closed || c.closing) {
                        return true;  // e.g. resumed to end: nothing more to read
                    }
                }
                RespReader r = readBatch(key, rd);
                if (!lost.empty()) {
                    break;  // nothing after the gap goes out: the client is closed below
                }
                const RespValue top = r.next();
                if (top.type == RespType::Error) {
                    throw RedisLinkError("XRANGE " + key + ": " + std::string(top.str));
                }
                rd.read = true;
                if (!top.isArray() || top.size() == 0) {
                    break;
                }
                const std::size_t n = top.size();
                for (std::size_t i = 0; i < n; ++i) {
                    const RespValue entry = r.next();
                    if (!entry.isArray() || entry.size() < 2) {
                        r.skipChildren(entry);
                        continue;
                    }
                    const RespValue idV = r.next();
                    const auto entryId = StreamId::parse(idV.str);
                    readEntryFields(r, entry, fields);
                    if (!entryId) {
                        continue;
                    }
                    if (rd.mustFind && *entryId > *rd.mustFind) {
                        lost = key + " from " + rd.mustFind->toString();
                        break;
                    }
                    Message msg;
                    bool send = decoder.decode(std::span<const FieldView>(fields.data(), fields.size()), msg);
                    // (the live reader logs and counts rejected entries)
                    if (send && *entryId <= rd.sentUpTo && anyCovers(rd.sent, *entryId, msg.topic, msg.type, msg.heartbeat)) {
                        send = false;  // this replay sent it before live messages were dropped
                    }
                    if (send) {
                        msg.stream = key;
                        msg.id = idV.str;
                        msg.streamId = *entryId;
                        msg.receivedNs = wallNowNs();
                        send = rd.send.covers(*entryId, msg.topic, msg.type, msg.heartbeat) &&
                               !(c.auth.restricted && !topicAllowed(c.auth.allowedTopics, msg.topic));
                    }
                    if (send) {
                        FramePtr frame = messageFrame(msg, false);
                        const std::size_t size = frame->wireLength;
                        switch (c.tryPushReplay(frame)) {
                        case Client::Push::Pushed:
                            break;
                        case Client::Push::NoRoom:
                            job.needBytes = size;
                            if (rd.checkTrim && !rd.mustFind) {
                                rd.mustFind = *entryId;  // gone when it resumes (trimmed, deleted): lost
                            }
                            return false;  // parked; resumes at this entry
                        case Client::Push::Gone:
                            return true;
                        }
                        ++job.count;
                        replayed.fetch_add(1, std::memory_order_relaxed);
                        mReplayed.inc();
                    }
                    // Handled (sent or passed over): the read goes on after it.
                    rd.pos = *entryId;
                    if (rd.mustFind && *entryId == *rd.mustFind) {
                        rd.mustFind.reset();
                    }
                    if (rd.checkTrim) {
                        rd.guard = *entryId;
                    }
                }
                if (!lost.empty() || n < static_cast<std::size_t>(options.replayBatch)) {
                    break;
                }
            }
            if (rd.mustFind && lost.empty()) {
                lost = key + " from " + rd.mustFind->toString();  // nothing left at or after it
            }
            rd.mustFind.reset();
            if (!lost.empty()) {
                break;
            }
            // Its newer entries come live: a later pass or a resume does not read it again, so
            // its guard no longer matters (Redis may trim what was sent).
            rd.done = true;
            rd.guard.reset();
        }
        // The seam. Live messages routed meanwhile wait in liveBuffer; those already sent are
        // skipped by id. Live messages dropped meanwhile (too many) are read in another pass.
        std::lock_guard lock(c.m);
        if (c.closed || c.closing) {
            return true;
        }
        if (!lost.empty()) {
            // Events are never dropped silently: the client resumes with "from" and is told
            // there that the history is incomplete.
            c.closeForOverflowLocked(close_code::kTryAgainLater,
                                     (job.catchUp ? "fell behind, and Redis no longer has "
                                                  : "Redis trimmed what the replay was sending: it no longer has ") +
                                         lost + " (trimmed): resume with from",
                                     "trimmed");
            return true;
        }
        if (!c.lagFrom.empty()) {
            const std::vector<Filter> all = filtersNotWaitingLocked(c);
            for (const auto& [key, first] : c.lagFrom) {
                readAgain(key, first, all);
            }
            c.lagFrom.clear();
            c.liveDropping = false;
            continue;
        }
        markReplayedLocked(job);
        if (!job.catchUp) {
            FramePtr marker =
                textFrame(withId(R"({"op":"replayed","count":)" + std::to_string(job.count) + "}", job.idJson));
            c.queuedBytes += marker->wireLength;
            c.controlBytes += marker->wireLength;
            c.queue.push_back(std::move(marker));
            c.scheduleLocked();
        }
        c.endReplayLocked();
        return true;
    }
}

// ---------------------------------------------------------------------------------------------
// The upgrade (HTTP worker thread)

namespace {

class UpgradeHandler final : public Poco::Net::HTTPRequestHandler {
public:
    explicit UpgradeHandler(WsGateway::Impl& gw, std::function<void(Poco::Net::WebSocket, std::string, AuthResult)> adopt)
        : _gw(gw), _adopt(std::move(adopt))
    {
    }

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override
    {
        auto refuse = [&](Poco::Net::HTTPResponse::HTTPStatus status, std::string_view code, const std::string& message) {
            _gw.rejected.fetch_add(1, std::memory_order_relaxed);
            MetricsRegistry::global()
                .counter("nautilus_relay_ws_rejected_upgrades_total", "WebSocket upgrades refused",
                         "status=\"" + std::to_string(static_cast<int>(status)) + "\"")
                .inc();
            _gw.log->info("ws upgrade from {} refused ({}): {}", request.clientAddress().toString(), static_cast<int>(status),
                          message);
            std::string body;
            JsonWriter w(body);
            w.beginObject().field("error", code).field("message", message).endObject();
            response.setStatusAndReason(status);
            response.setKeepAlive(false);  // a refused client must not hold an HTTP worker
            response.setContentType("application/json");
            if (status == Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED) {
                response.set("WWW-Authenticate", "Bearer realm=\"nautilus-relay\"");
            }
            response.setContentLength(static_cast<std::streamsize>(body.size()));
            response.send() << body;
        };
        if (!_gw.running.load()) {
            refuse(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "unavailable", "the relay is stopping");
            return;
        }
        const std::string upgrade = request.get("Upgrade", "");
        if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_GET || Poco::icompare(upgrade, "websocket") != 0) {
            refuse(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "bad_request",
                   "GET /ws expects a WebSocket upgrade (Upgrade: websocket); see docs/websocket.md");
            return;
        }
        const std::string origin = request.get("Origin", "");
        if (!_gw.auth.originAllowed(origin)) {
            refuse(Poco::Net::HTTPResponse::HTTP_FORBIDDEN, "forbidden",
                   "origin " + origin + " is not allowed (ws.allowed_origins)");
            return;
        }
        std::string queryToken;
        try {
            const Poco::URI uri(request.getURI());
            for (const auto& [k, v] : uri.getQueryParameters()) {
                if (k == "token") {
                    queryToken = v;
                }
            }
        } catch (const Poco::Exception&) {
            refuse(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "bad_request", "malformed request URI");
            return;
        }
        AuthResult auth = _gw.auth.check(request.get("Authorization", ""), queryToken);
        if (auth.status != 200) {
            refuse(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED, "unauthorized", auth.reason);
            return;
        }
        if (!_gw.admit()) {
            response.set("Retry-After", "5");
            refuse(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "too_many_clients",
                   "too many WebSocket clients (ws.max_clients = " + std::to_string(_gw.options.maxClients) + ")");
            return;
        }
        bool upgraded = false;  // from then on _adopt gives the slot back, or removeClient() does
        try {
            Poco::Net::WebSocket socket(request, response);  // answers 101 and detaches the socket
            upgraded = true;
            _adopt(std::move(socket), request.clientAddress().toString(), std::move(auth));
        } catch (const Poco::Net::WebSocketException& e) {
            if (!response.sent()) {
                refuse(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "bad_request", "WebSocket handshake: " + e.message());
            }
        } catch (const std::exception& e) {
            _gw.log->error("ws upgrade from {} failed: {}", request.clientAddress().toString(), e.what());
        }
        if (!upgraded) {
            _gw.admitted.fetch_sub(1);
        }
    }

private:
    WsGateway::Impl& _gw;
    std::function<void(Poco::Net::WebSocket, std::string, AuthResult)> _adopt;
};

}  // namespace

WsGateway::WsGateway(WsOptions options, WsSources sources)
    : _impl(std::make_unique<Impl>(std::move(options), std::move(sources)))
{
}

WsGateway::~WsGateway()
{
    stop();
}

const WsOptions& WsGateway::options() const
{
    return _impl->options;
}

void WsGateway::start(Router& busRouter)
{
    Impl& gw = *_impl;
    gw.running.store(true);
    const int threads = std::max(1, gw.options.threads);
    for (int i = 0; i < threads; ++i) {
        gw.loops.push_back(std::make_unique<Loop>(gw, i));
    }
    for (auto& loop : gw.loops) {
        Loop* l = loop.get();
        l->thread = std::thread([l] {
            nameThisThread("ws-loop-" + std::to_string(l->index));
            l->run();
        });
    }
    for (int i = 0; i < std::max(1, gw.options.replayThreads); ++i) {
        gw.replayThreads.emplace_back([this] {
            nameThisThread("ws-replay");
            _impl->replayWorker();
        });
    }
    gw.busRouter = &busRouter;
    gw.busSubs.push_back(busRouter.subscribe("*", {}, this));
    gw.busSubs.push_back(busRouter.subscribe(std::string(kHeartbeatTopic), {}, this));
    gw.collectorId = MetricsRegistry::global().addCollector([this](PromWriter& w) {
        const WsSnapshot s = snapshot();
        w.family("nautilus_relay_ws_clients", "gauge", "Connected WebSocket clients");
        w.sample("nautilus_relay_ws_clients", "", static_cast<double>(s.clients));
        w.family("nautilus_relay_ws_subscriptions", "gauge", "Topic patterns subscribed over all WebSocket clients");
        w.sample("nautilus_relay_ws_subscriptions", "", static_cast<double>(s.subscriptions));
        w.family("nautilus_relay_ws_queue_bytes", "gauge", "Bytes waiting in all WebSocket send queues");
        w.sample("nautilus_relay_ws_queue_bytes", "", static_cast<double>(s.queueBytes));
        w.family("nautilus_relay_ws_max_client_queue_bytes", "gauge", "Bytes waiting for the slowest WebSocket client");
        w.sample("nautilus_relay_ws_max_client_queue_bytes", "", static_cast<double>(s.maxClientQueueBytes));
        w.family("nautilus_relay_ws_replays_running", "gauge", "Replays in progress");
        w.sample("nautilus_relay_ws_replays_running", "", static_cast<double>(s.replaying));
    });
    gw.log->info("WebSocket gateway on /ws: {} loop threads, send queue {} bytes per client, max {} clients{}",
                 threads, gw.options.queueBytes, gw.options.maxClients,
                 gw.options.authRequired() ? ", token required" : "");
}

void WsGateway::stop()
{
    Impl& gw = *_impl;
    if (!gw.running.exchange(false)) {
        return;
    }
    if (gw.busRouter != nullptr) {
        for (auto id : gw.busSubs) {
            gw.busRouter->unsubscribe(id);  // not ...AndWait: the reader may be held by a plugin
        }
    }
    if (gw.collectorId >= 0) {
        MetricsRegistry::global().removeCollector(gw.collectorId);
        gw.collectorId = -1;
    }
    // Parked replays end once their client is closed by its loop.
    for (auto& l : gw.loops) {
        l->wake();
    }
    for (auto& l : gw.loops) {
        if (l->thread.joinable()) {
            l->thread.join();
        }
    }
    {
        std::lock_guard lock(gw.replayMutex);
        gw.replayStop = true;
        gw.replayJobs.clear();
        gw.replayWaiting.clear();
        gw.replayClients.clear();
    }
    gw.replayWake.notify_all();
    {
        std::lock_guard lock(gw.clientsMutex);
        for (auto& [id, c] : gw.clients) {
            std::lock_guard cl(c->m);
            c->closed = true;
        }
    }
    for (auto& t : gw.replayThreads) {
        if (t.joinable()) {
            t.join();
        }
    }
    {
        // A parked job holds its client: let go of both.
        std::vector<std::unique_ptr<ReplayJob>> parked;
        std::lock_guard lock(gw.clientsMutex);
        for (auto& [id, c] : gw.clients) {
            std::lock_guard cl(c->m);
            if (c->parked) {
                parked.push_back(std::move(c->parked));
            }
        }
    }
    {
        std::lock_guard lock(gw.clientsMutex);
        gw.admitted.fetch_sub(gw.clients.size());  // upgrades under way give theirs back themselves
        gw.clients.clear();
        gw.clientCount.store(0);
    }
    // The loops themselves stay until the gateway is destroyed: a hand-off still running on the
    // routing thread (unsubscribed without waiting) may list clients with them.
}

Poco::Net::HTTPRequestHandler* WsGateway::createHandler(const Poco::Net::HTTPServerRequest&)
{
    Impl& gw = *_impl;
    return new UpgradeHandler(gw, [&gw](Poco::Net::WebSocket socket, std::string peer, AuthResult auth) {
        // Holds the ws.max_clients slot the handler took: given back here if the client never
        // gets listed, else by removeClient().
        std::shared_ptr<Client> client;
        const std::uint64_t id = gw.nextClientId.fetch_add(1);
        Loop& loop = *gw.loops[gw.nextLoop.fetch_add(1) % gw.loops.size()];
        try {
            socket.setBlocking(false);
            socket.setNoDelay(true);
            client = std::make_shared<Client>(gw, loop, std::move(socket), id, std::move(peer), std::move(auth));
            std::lock_guard lock(gw.clientsMutex);
            gw.clients.emplace(id, client);
            gw.clientCount.fetch_add(1);
        } catch (...) {
            gw.admitted.fetch_sub(1);
            throw;
        }
        gw.log->info("ws client {} connected from {}{}", id, client->peer,
                     client->auth.subject.empty() ? "" : " (" + client->auth.subject + ")");
        try {
            loop.add(client);
        } catch (...) {
            gw.removeClient(id);
            throw;
        }
    });
}

WsSnapshot WsGateway::snapshot() const
{
    const Impl& gw = *_impl;
    WsSnapshot s;
    s.sent = gw.sent.load();
    s.sentBytes = gw.sentBytes.load();
    s.droppedClients = gw.dropped.load();
    s.conflated = gw.conflated.load();
    s.rejectedUpgrades = gw.rejected.load();
    s.clientErrors = gw.clientErrors.load();
    s.replays = gw.replays.load();
    s.replaying = gw.replaying.load();
    s.replayed = gw.replayed.load();
    s.subscriptions = gw.subscriptions.load();
    s.queueLimitBytes = gw.options.queueBytes;
    {
        std::lock_guard lock(gw.clientsMutex);
        s.clients = gw.clients.size();
    }
    // The loops are created in start(), before the HTTP server serves, and live as long as
    // the gateway: no lock needed to read their figures.
    for (const auto& loop : gw.loops) {
        const std::uint64_t fullest = loop->maxClientQueueBytes.load(std::memory_order_acquire);
        s.queueBytes += loop->queuedBytes.load(std::memory_order_relaxed);
        s.maxClientQueueBytes = std::max(s.maxClientQueueBytes, fullest);
    }
    return s;
}

void WsGateway::busStateChanged(const BusSnapshot& bus) noexcept
{
    if (!_impl->running.load() || _impl->clientCount.load() == 0) {
        return;
    }
    try {
        _impl->broadcast(textFrame(statusJson(bus)));
    } catch (const std::exception& e) {
        _impl->log->error("ws: cannot send the bus state to clients: {}", e.what());
    }
}

void WsGateway::onMessage(const Message& msg) noexcept
{
    Impl& gw = *_impl;
    if (!gw.running.load(std::memory_order_relaxed) || gw.clientCount.load(std::memory_order_relaxed) == 0) {
        return;
    }
    ++gw.routeSeq;
    gw.current = &msg;
    gw.clientRouter.route(msg);
    if (++gw.routedSinceHandOff >= kHandOffEvery) {
        gw.handOff();
    }
    gw.currentFrame.reset();
    gw.current = nullptr;
}

void WsGateway::onBatchEnd() noexcept
{
    _impl->handOff();
}

void WsGateway::Impl::handOff() noexcept
{
    routedSinceHandOff = 0;
    if (routedClients.empty()) {
        return;
    }
    // Whatever happens below, the clients scheduled so far reach their loops.
    struct Dispatch {
        Impl& gw;
        ~Dispatch()
        {
            gw.routingThread.store(std::thread::id{}, std::memory_order_relaxed);
            gw.dispatchRouted();
        }
    } dispatch{*this};
    routingThread.store(std::this_thread::get_id(), std::memory_order_relaxed);
    const bool live = running.load(std::memory_order_relaxed);
    for (auto& c : routedClients) {
        try {
            std::lock_guard lock(c->m);
            for (auto& f : c->routedFrames) {
                if (live) {
                    c->acceptLocked(std::move(f));
                }
            }
        } catch (const std::exception& e) {
            log->error("ws client {} ({}): cannot queue {} messages: {}", c->id, c->peer, c->routedFrames.size(), e.what());
        }
        c->routedFrames.clear();
    }
    routedClients.clear();
}

void WsGateway::Impl::dispatchRouted() noexcept
{
    if (routed.empty()) {
        return;
    }
    if (routed.size() <= kDirectWriteClients && running.load(std::memory_order_relaxed)) {
        writeRouted();
        return;
    }
    try {
        routedByLoop.resize(loops.size());
        for (auto& c : routed) {
            routedByLoop[static_cast<std::size_t>(c->loop.index)].push_back(std::move(c));
        }
        routed.clear();
        for (std::size_t i = 0; i < loops.size(); ++i) {
            if (!routedByLoop[i].empty()) {
                loops[i]->ready(routedByLoop[i]);
            }
        }
    } catch (const std::exception& e) {
        log->error("ws: cannot hand clients to their loops: {}", e.what());
        for (auto& c : routed) {
            unscheduleListedNowhere(c);
        }
        routed.clear();
        for (auto& l : routedByLoop) {
            for (auto& c : l) {
                unscheduleListedNowhere(c);
            }
            l.clear();
        }
    }
}

void WsGateway::Impl::unscheduleListedNowhere(const std::shared_ptr<Client>& c) noexcept
{
    if (c) {  // moved on already when null
        std::lock_guard lock(c->m);
        c->scheduled = false;  // the next message schedules it again
    }
}

void WsGateway::Impl::writeRouted() noexcept
{
    for (auto& c : routed) {
        try {
            int error = 0;
            const Client::Drain result = c->drain(directWritten, true, error);
            directWritten.clear();
            if (result == Client::Drain::Empty || result == Client::Drain::Busy) {
                continue;
            }
        } catch (const std::exception& e) {
            log->error("ws client {} ({}): cannot write to it from the routing thread: {}", c->id, c->peer, e.what());
            directWritten.clear();
        }
        // The socket is full, the send failed, a close frame is next or more was queued
        // meanwhile: the loop takes over (it waits for EPOLLOUT, closes, or writes on).
        try {
            c->loop.ready(c);
        } catch (const std::exception& e) {
            log->error("ws client {} ({}): cannot hand it to its loop: {}", c->id, c->peer, e.what());
            unscheduleListedNowhere(c);
        }
    }
    routed.clear();
}

}  // namespace nautilus::relay
