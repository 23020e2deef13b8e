// ws_floor: the least a WebSocket fan-out server can do, as a yardstick for the relay's
// fan-out figures (docs/BENCHMARKS.md). One thread XREADs one stream (COUNT 1000 BLOCK, as the
// relay's reader), wraps each entry's payload in a message frame once, and writes that frame to
// every client with one nonblocking send() each, in the same thread. No routing, no queues, no
// conflation, no replay, no limits: a client whose socket is full just loses the frame (counted).
// Clients upgrade through Poco's HTTP server, send one text frame (their subscribe, not read)
// and get {"op":"subscribed"}; from then on every entry of the stream goes to every client.
// GET /status (any path without an upgrade) names the stream, which is all ws_load asks it.
//
//   ws_floor --port H --redis-port R --key KEY [--seconds N]
//
// ws_load runs against it as against the relay (--port H): same frames, same parsing.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>

#include "bus/RedisLink.h"

using namespace nautilus::relay;

namespace {

std::string streamKey;
std::mutex clientsMutex;
std::vector<Poco::Net::WebSocket> clients;  // kept so their sockets stay open
std::vector<int> fds;

class Upgrade final : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override
    {
        if (request.get("Upgrade", "").empty()) {
            // ws_load waits until GET /status names the stream (the relay's discovery).
            response.setContentType("application/json");
            response.send() << R"({"streams":[{"key":")" << streamKey << R"("}]})";
            return;
        }
        try {
            Poco::Net::WebSocket ws(request, response);
            ws.setReceiveTimeout(Poco::Timespan(10, 0));
            char buf[4096];
            int flags = 0;
            ws.receiveFrame(buf, sizeof buf, flags);  // the subscribe: every client gets everything
            const std::string reply = R"({"op":"subscribed"})";
            ws.sendFrame(reply.data(), static_cast<int>(reply.size()));
            ws.setBlocking(false);
            ws.setNoDelay(true);
            std::lock_guard lock(clientsMutex);
            fds.push_back(ws.impl()->sockfd());
            clients.push_back(ws);
        } catch (const Poco::Exception& e) {
            static std::atomic<int> told{0};
            if (told.fetch_add(1) < 3) {
                std::fprintf(stderr, "ws_floor: upgrade failed: %s\n", e.displayText().c_str());
            }
        }
    }
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override
    {
        return new Upgrade;
    }
};

/// An unmasked final text frame: header + body.
void frameInto(std::string& out, std::string_view body)
{
    out.clear();
    out.push_back(static_cast<char>(0x81));
    const std::size_t n = body.size();
    if (n < 126) {
        out.push_back(static_cast<char>(n));
    } else if (n < 65536) {
        out.push_back(static_cast<char>(126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(static_cast<char>(127));
        for (int i = 7; i >= 0; --i) {
            out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
        }
    }
    out.append(body);
}

}  // namespace

int main(int argc, char** argv)
{
    int port = 0;
    int redisPort = 6379;
    std::string key;
    int seconds = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--port") {
            port = std::atoi(argv[i + 1]);
        } else if (a == "--redis-port") {
            redisPort = std::atoi(argv[i + 1]);
        } else if (a == "--key") {
            key = argv[i + 1];
        } else if (a == "--seconds") {
            seconds = std::atoi(argv[i + 1]);
        }
    }
    if (port == 0 || key.empty()) {
        std::fprintf(stderr, "usage: ws_floor --port H --redis-port R --key KEY [--seconds N]\n");
        return 2;
    }
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    Poco::Net::HTTPServer server(new Factory, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", port)),
                                 params);
    streamKey = key;
    server.start();

    RedisLinkOptions lo;
    lo.endpoint.host = "127.0.0.1";
    lo.endpoint.port = redisPort;
    lo.ioTimeoutMs = 30000;
    lo.clientName = "ws_floor";
    RedisLink link(lo);
    link.connect();

    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds > 0 ? seconds : 1000000);
    std::string lastId = "$";
    std::string body;
    std::string frame;
    std::uint64_t sent = 0;
    std::uint64_t lost = 0;
    std::vector<int> targets;
    while (std::chrono::steady_clock::now() < end) {
        link.begin(8).arg(std::string_view("XREAD")).arg(std::string_view("COUNT")).arg(std::int64_t{1000})
            .arg(std::string_view("BLOCK")).arg(std::int64_t{100}).arg(std::string_view("STREAMS"))
            .arg(std::string_view(key));
        link.arg(std::string_view(lastId));
        link.send();
        RespReader r = link.readReply(5000);
        const RespValue top = r.next();
        {
            std::lock_guard lock(clientsMutex);
            targets = fds;
        }
        for (std::size_t si = 0; si < top.size(); ++si) {
            r.next();  // [key, entries]
            r.next();
            const RespValue entries = r.next();
            for (std::size_t e = 0; e < entries.size(); ++e) {
                r.next();  // [id, fields]
                const RespValue id = r.next();
                lastId.assign(id.str);
                const RespValue fields = r.next();
                std::string_view topic;
                std::string_view payload;
                for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
                    const RespValue name = r.next();
                    const RespValue value = r.next();
                    if (name.str == "topic") {
                        topic = value.str;
                    } else if (name.str == "payload") {
                        payload = value.str;
                    }
                }
                body.assign(R"({"op":"message","stream":")").append(key).append(R"(","id":")").append(id.str);
                body.append(R"(","topic":")").append(topic).append(R"(","type":"QuoteTick","payload":)");
                body.append(payload).append("}");
                frameInto(frame, body);
                for (const int fd : targets) {
                    const ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (n == static_cast<ssize_t>(frame.size())) {
                        ++sent;
                        continue;
                    }
                    ++lost;
                    if (n > 0) {
                        ::shutdown(fd, SHUT_RDWR);  // half a frame: the client sees the end, not garbage
                    }
                }
            }
        }
    }
    server.stop();
    std::printf("ws_floor: %llu frames sent, %llu not (socket full or closed)\n", static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(lost));
    return 0;
}
