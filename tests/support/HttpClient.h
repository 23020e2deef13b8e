#pragma once
// A small HTTP/1.1 client for tests, over Poco::Net::HTTPClientSession: one keep-alive session
// per HttpClient, or one-shot requests with httpRequest(). Never throws on an HTTP status; throws
// Poco::Exception on connection errors.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace Poco::Net {
class HTTPClientSession;
}

namespace nautilus::relay::test {

struct HttpResult {
    int status = 0;
    std::string body;
    std::string contentType;
    std::map<std::string, std::string> headers;  ///< lower-case names

    std::string header(const std::string& lowerName) const
    {
        auto it = headers.find(lowerName);
        return it == headers.end() ? std::string() : it->second;
    }
};

class HttpClient {
public:
    HttpClient(std::string host, int port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {});
    HttpResult get(const std::string& target) { return request("GET", target); }

private:
    std::unique_ptr<Poco::Net::HTTPClientSession> _session;
};

/// One request on a fresh connection.
HttpResult httpRequest(const std::string& host, int port, const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::map<std::string, std::string>& headers = {});
inline HttpResult httpGet(const std::string& host, int port, const std::string& target)
{
    return httpRequest(host, port, "GET", target);
}

/// Polls GET target until pred(result) holds or the timeout passes (connection errors count as
/// "not yet"). Returns the last result (status 0 when nothing ever answered).
template <typename Pred>
HttpResult waitForHttp(const std::string& host, int port, const std::string& target, Pred pred,
                       std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResult last;
    for (;;) {
        try {
            last = httpGet(host, port, target);
            if (pred(last)) {
                return last;
            }
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return last;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace nautilus::relay::test
