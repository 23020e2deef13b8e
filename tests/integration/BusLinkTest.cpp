// The bus's own Redis link against a real redis-server: pipelining, binary-safe replies,
// large replies that need several recv() calls, error replies, AUTH failures, timeouts and
// interruption from another thread.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "BusTestSupport.h"
#include "bus/RedisLink.h"

using namespace nautilus::relay;
using namespace nautilus::relay::bustest;

namespace {

RedisLinkOptions optionsFor(const RedisServer& redis)
{
    RedisLinkOptions o;
    o.endpoint.host = redis.host();
    o.endpoint.port = redis.port();
    o.ioTimeoutMs = 1000;
    return o;
}

}  // namespace

TEST(BusLinkTest, PipelinesCommandsAndReadsBinarySafeReplies)
{
    RedisServer redis;
    RedisLink link(optionsFor(redis));
    link.connect();
    const std::string binary("\x00\r\n\xff$*-+:\r", 11);
    link.begin(3).arg(std::string_view("SET")).arg(std::string_view("k")).arg(std::string_view(binary));
    link.begin(2).arg(std::string_view("GET")).arg(std::string_view("k"));
    link.begin(2).arg(std::string_view("GET")).arg(std::string_view("missing"));
    link.begin(2).arg(std::string_view("INCRBY")).arg(std::string_view("n"));  // wrong arity -> error reply
    link.begin(3).arg(std::string_view("INCRBY")).arg(std::string_view("n")).arg(static_cast<std::int64_t>(-5));
    link.send();
    EXPECT_EQ(link.pending(), 5u);
    EXPECT_EQ(link.readReply().next().str, "OK");
    EXPECT_EQ(link.readReply().next().str, binary);
    EXPECT_TRUE(link.readReply().next().isNull());
    const RespValue err = link.readReply().next();
    EXPECT_TRUE(err.isError());
    EXPECT_NE(err.str.find("wrong number of arguments"), std::string_view::npos);
    EXPECT_EQ(link.readReply().next().integer, -5);
    EXPECT_EQ(link.pending(), 0u);
}

TEST(BusLinkTest, ReadsRepliesLargerThanTheInitialBuffer)
{
    RedisServer redis;
    Producer producer(redis);
    const std::string big(300 * 1024, 'x');
    for (int i = 0; i < 10; ++i) {
        producer.xadd("big", "*", {{"topic", "t"}, {"payload", big}});
    }
    RedisLink link(optionsFor(redis));
    link.connect();
    RespReader r = link.command({"XRANGE", "big", "-", "+"});
    const RespValue top = r.next();
    ASSERT_EQ(top.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) {
        ASSERT_EQ(r.next().size(), 2u);
        r.next();                            // id
        ASSERT_EQ(r.next().size(), 4u);      // fields
        EXPECT_EQ(r.next().str, "topic");
        EXPECT_EQ(r.next().str, "t");
        EXPECT_EQ(r.next().str, "payload");
        EXPECT_EQ(r.next().str.size(), big.size());
    }
    EXPECT_TRUE(r.atEnd());
    EXPECT_GE(link.bufferCapacity(), 10 * big.size());
    EXPECT_EQ(link.command({"PING"}).next().str, "PONG");  // the link is in sync afterwards
}

TEST(BusLinkTest, ReportsAuthenticationFailuresAndRefusedConnections)
{
    RedisServer::Options o;
    o.password = "pw";
    RedisServer redis(o);
    RedisLinkOptions opts = optionsFor(redis);
    {
        RedisLink link(opts);
        try {
            link.connect();
            link.command({"GET", "x"});
            FAIL() << "NOAUTH expected";
        } catch (const RedisLinkError& e) {
            EXPECT_NE(std::string(e.what()).find("NOAUTH"), std::string::npos) << e.what();
        }
    }
    opts.endpoint.password = "nope";
    {
        RedisLink link(opts);
        try {
            link.connect();
            FAIL() << "AUTH must fail";
        } catch (const RedisLinkError& e) {
            EXPECT_NE(std::string(e.what()).find("AUTH refused"), std::string::npos) << e.what();
        }
        EXPECT_FALSE(link.isOpen());
    }
    opts.endpoint.password = "pw";
    opts.endpoint.db = 5;
    {
        RedisLink link(opts);
        link.connect();
        link.command({"SET", "in5", "1"});
        EXPECT_EQ(redis.command({"EXISTS", "in5"}), "0");  // the helper uses db 0
    }
    redis.stop(true);
    RedisLink link(opts);
    EXPECT_THROW(link.connect(), RedisLinkError);
}

TEST(BusLinkTest, TimesOutOnAStoppedServerAndCanBeInterrupted)
{
    RedisServer redis;
    const int pid = serverPid(redis);
    RedisLink link(optionsFor(redis));
    link.connect();
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(link.command({"PING"}, 300), RedisLinkError);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 1000ms);
    link.close();

    // The kernel still completes the TCP handshake; the handshake's PING is not answered.
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_THROW(link.connect(), RedisLinkError);
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 2000ms);
    ASSERT_EQ(::kill(pid, SIGCONT), 0);

    // interrupt() from another thread ends a blocking read at once.
    link.connect();
    std::thread interrupter([&] {
        std::this_thread::sleep_for(100ms);
        link.interrupt();
    });
    const auto t2 = std::chrono::steady_clock::now();
    EXPECT_THROW(link.command({"XREAD", "BLOCK", "10000", "STREAMS", "nothing", "$"}, 20000), RedisLinkError);
    EXPECT_LT(std::chrono::steady_clock::now() - t2, 1000ms);
    interrupter.join();
    link.close();
    EXPECT_THROW(link.connect(), RedisLinkError);  // sticky until cleared
    link.clearInterrupt();
    link.connect();
    EXPECT_EQ(link.command({"PING"}).next().str, "PONG");
}
