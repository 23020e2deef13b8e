#pragma once
// A WebSocket client for tests: Poco::Net::WebSocket over loopback with receive timeouts, frames
// returned as (opcode, text), JSON helpers, and the HTTP status of a refused upgrade.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <Poco/JSON/Object.h>

namespace Poco::Net {
class WebSocket;
class HTTPClientSession;
}  // namespace Poco::Net

namespace nautilus::relay::test {

struct WsFrameIn {
    int opcode = 0;        ///< Poco::Net::WebSocket::FRAME_OP_* (1 text, 8 close, 9 ping, 10 pong)
    std::string data;
    int closeCode() const;  ///< close frames: the code, else -1
};

class WsClient {
public:
    /// Connects to ws://127.0.0.1:port<target>. On a refused upgrade, ok() is false and status()
    /// and body() tell why.
    WsClient(int port, const std::string& target = "/ws", const std::map<std::string, std::string>& headers = {},
             int receiveBufferBytes = 0);
    ~WsClient();
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    bool ok() const { return _ws != nullptr; }
    int status() const { return _status; }
    const std::string& body() const { return _body; }

    void sendText(const std::string& text);
    /// Sends raw frame flags + payload (for malformed/oversized frame tests).
    void sendFrame(const std::string& payload, int flags);
    /// Next frame other than pings (answered automatically); nullopt on timeout or EOF.
    std::optional<WsFrameIn> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Next text frame parsed as a JSON object (nullptr on timeout/close/non-text).
    Poco::JSON::Object::Ptr receiveJson(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Receives until a JSON frame with "op" == op arrives (others are dropped); nullptr on timeout.
    Poco::JSON::Object::Ptr waitForOp(const std::string& op, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    /// Sends {"op":"subscribe",...} (extra: raw JSON members to add, e.g. R"("from":"0-0")") and
    /// waits for the "subscribed" reply.
    Poco::JSON::Object::Ptr subscribe(const std::string& topicsJson, const std::string& extra = {});
    void close();

private:
    std::unique_ptr<Poco::Net::HTTPClientSession> _session;
    std::unique_ptr<Poco::Net::WebSocket> _ws;
    int _status = 0;
    std::string _body;
};

}  // namespace nautilus::relay::test
