#include "support/WsClient.h"

#include "support/HttpClient.h"

#include <Poco/Buffer.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/StreamCopier.h>

namespace nautilus::relay::test {

int WsFrameIn::closeCode() const
{
    if (opcode != Poco::Net::WebSocket::FRAME_OP_CLOSE || data.size() < 2) {
        return -1;
    }
    return (static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1]);
}

WsClient::WsClient(int port, const std::string& target, const std::map<std::string, std::string>& headers,
                   int receiveBufferBytes)
    : _session(std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", static_cast<Poco::UInt16>(port)))
{
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, target, Poco::Net::HTTPRequest::HTTP_1_1);
    for (const auto& [k, v] : headers) {
        request.set(k, v);
    }
    Poco::Net::HTTPResponse response;
    try {
        _ws = std::make_unique<Poco::Net::WebSocket>(*_session, request, response);
        _status = 101;
        _ws->setMaxPayloadSize(64 * 1024 * 1024);
        if (receiveBufferBytes > 0) {
            _ws->setReceiveBufferSize(receiveBufferBytes);
        }
    } catch (const Poco::Net::WebSocketException&) {
        // Poco keeps the refusal's body to itself: ask again with the same upgrade headers
        // (the relay refuses before upgrading, so this is an ordinary request) to read it.
        std::map<std::string, std::string> h = headers;
        h["Connection"] = "Upgrade";
        h["Upgrade"] = "websocket";
        h["Sec-WebSocket-Version"] = "13";
        h["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ==";
        const HttpResult again = httpRequest("127.0.0.1", port, "GET", target, {}, h);
        _status = again.status;
        _body = again.body;
        if (static_cast<int>(response.getStatus()) != _status) {
            _body += " (status of the first attempt: " + std::to_string(static_cast<int>(response.getStatus())) + ")";
        }
    }
}

WsClient::~WsClient()
{
    try {
        if (_ws) {
            _ws->close();
        }
    } catch (...) {
    }
}

void WsClient::sendText(const std::string& text)
{
    _ws->sendFrame(text.data(), static_cast<int>(text.size()), Poco::Net::WebSocket::FRAME_TEXT);
}

void WsClient::sendFrame(const std::string& payload, int flags)
{
    _ws->sendFrame(payload.data(), static_cast<int>(payload.size()), flags);
}

std::optional<WsFrameIn> WsClient::receive(std::chrono::milliseconds timeout)
{
    if (!_ws) {
        return std::nullopt;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        _ws->setReceiveTimeout(Poco::Timespan(left.count()));
        Poco::Buffer<char> buf(0);
        int flags = 0;
        int n = 0;
        try {
            n = _ws->receiveFrame(buf, flags);
        } catch (const Poco::TimeoutException&) {
            return std::nullopt;
        } catch (const Poco::Exception&) {
            return std::nullopt;
        }
        if (n == 0 && flags == 0) {
            return std::nullopt;  // EOF
        }
        WsFrameIn f;
        f.opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
        f.data.assign(buf.begin(), buf.size());
        if (f.opcode == Poco::Net::WebSocket::FRAME_OP_PING) {
            _ws->sendFrame(f.data.data(), static_cast<int>(f.data.size()),
                           static_cast<int>(Poco::Net::WebSocket::FRAME_FLAG_FIN) | static_cast<int>(Poco::Net::WebSocket::FRAME_OP_PONG));
            continue;
        }
        return f;
    }
}

Poco::JSON::Object::Ptr WsClient::receiveJson(std::chrono::milliseconds timeout)
{
    const auto f = receive(timeout);
    if (!f || f->opcode != Poco::Net::WebSocket::FRAME_OP_TEXT) {
        return nullptr;
    }
    Poco::JSON::Parser parser;
    return parser.parse(f->data).extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Object::Ptr WsClient::waitForOp(const std::string& op, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto o = receiveJson(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
        if (!o) {
            return nullptr;
        }
        if (o->optValue<std::string>("op", "") == op) {
            return o;
        }
    }
    return nullptr;
}

Poco::JSON::Object::Ptr WsClient::subscribe(const std::string& topicsJson, const std::string& extra)
{
    sendText(R"({"op":"subscribe","topics":)" + topicsJson + (extra.empty() ? "" : "," + extra) + "}");
    return waitForOp("subscribed");
}

void WsClient::close()
{
    if (_ws) {
        try {
            _ws->shutdown();
            _ws->close();
        } catch (...) {
        }
        _ws.reset();
    }
}

}  // namespace nautilus::relay::test
