#pragma once
// The HTTP listener: a Poco::Net::HTTPServer with its own thread pool (http.threads workers,
// keep-alive on) whose request-handler factory routes by path. Extra routes (the WebSocket
// upgrade, later) are registered with addRoute() before start(); every other path goes to RestApi.
//
// Threads: start()/stop() from the application thread; handlers run on the pool's threads.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "http/HttpOptions.h"
#include "http/RestApi.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
class HTTPRequestHandler;
class HTTPServerRequest;
}  // namespace Net
}  // namespace Poco

namespace nautilus::relay {

class RestServer {
public:
    using HandlerFactory = std::function<Poco::Net::HTTPRequestHandler*(const Poco::Net::HTTPServerRequest&)>;

    RestServer(HttpOptions options, std::shared_ptr<const RestApi> api);
    ~RestServer();
    RestServer(const RestServer&) = delete;
    RestServer& operator=(const RestServer&) = delete;

    /// Serves `path` (exact match) with handlers from `factory`. Call before start().
    void addRoute(std::string path, HandlerFactory factory);

    /// Binds http.host:http.port and starts accepting. Throws Poco::Exception (e.g. the address
    /// is in use) with the address in the message.
    void start();
    /// Stops accepting, closes open connections (idle keep-alive ones included) and joins the
    /// workers. Idempotent.
    void stop();

    /// The bound port (useful when options.port was 0); 0 before start().
    std::uint16_t port() const { return _port; }
    std::string address() const;

private:
    class Factory;
    HttpOptions _options;
    std::shared_ptr<const RestApi> _api;
    std::map<std::string, HandlerFactory> _routes;
    std::unique_ptr<Poco::ThreadPool> _pool;
    std::unique_ptr<Poco::Net::HTTPServer> _server;
    std::uint16_t _port = 0;
};

}  // namespace nautilus::relay
