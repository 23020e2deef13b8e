#include "http/RestServer.h"

#include <istream>
#include <string_view>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include "common/Logging.h"
#include "common/Metrics.h"
#include "common/ThreadName.h"
#include "common/Time.h"
#include "common/Version.h"
#include "http/StatusJson.h"

namespace nautilus::relay {

namespace {

bool isLoopback(const Poco::Net::IPAddress& address)
{
    if (address.isLoopback()) {
        return true;
    }
    // ::ffff:127.x.y.z from a dual-stack listener
    if (address.family() == Poco::Net::IPAddress::IPv6 && address.isIPv4Mapped()) {
        const auto* bytes = static_cast<const unsigned char*>(address.addr());
        return bytes[12] == 127;
    }
    return false;
}

void send(Poco::Net::HTTPServerResponse& response, const RestResponse& r)
{
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    response.setContentType(r.contentType);
    response.set("Cache-Control", "no-store");
    for (const auto& [name, value] : r.headers) {
        response.set(name, value);
    }
    // The headers, then the whole body in one send(), rather than through the response
    // stream's small buffer (a 77 KB /status would be ~20 sends).
    response.sendBuffer(r.body.data(), r.body.size());
}

/// nautilus_relay_http_request_seconds for the endpoint group of a request target (a fixed set
/// of labels: targets are client input).
Histogram& requestTimer(std::string_view target)
{
    static const auto make = [](const char* route) -> Histogram& {
        return MetricsRegistry::global().histogram("nautilus_relay_http_request_seconds",
                                                   "REST request handling time, request read to response sent",
                                                   std::string("route=\"") + route + "\"");
    };
    static Histogram& status = make("status");
    static Histogram& health = make("health");
    static Histogram& metrics = make("metrics");
    static Histogram& plugins = make("plugins");
    static Histogram& other = make("other");
    const std::string_view path = target.substr(0, target.find_first_of("?#"));
    const auto under = [&](std::string_view base) {
        return path == base || (path.starts_with(base) && path[base.size()] == '/');
    };
    return under("/status") ? status : under("/health") ? health : under("/metrics") ? metrics : under("/plugins") ? plugins : other;
}

/// Adapts one Poco request to RestApi::handle.
class RestHandler final : public Poco::Net::HTTPRequestHandler {
public:
    explicit RestHandler(std::shared_ptr<const RestApi> api) : _api(std::move(api)) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override
    {
        static const auto log = Logging::get("relay.http");
        const std::int64_t start = monoNowNs();
        RestResponse r;
        try {
            std::string body;
            if (!readBody(request, body)) {
                r.status = 413;
                r.body = renderError("payload_too_large",
                                     "request bodies are limited to " + std::to_string(RestApi::kMaxBodyBytes) +
                                         " bytes");
                response.setKeepAlive(false);  // the rest of the body is still in the socket
            } else {
                RestRequest req;
                req.method = request.getMethod();
                req.target = request.getURI();
                req.body = body;
                const std::string& auth = request.get("Authorization", emptyString());
                req.authorization = auth;
                req.peerIsLoopback = isLoopback(request.clientAddress().host());
                r = _api->handle(req);
            }
        } catch (const std::exception& e) {
            log->error("{} {}: {}", request.getMethod(), request.getURI(), e.what());
            r = RestResponse{};
            r.status = 500;
            r.body = renderError("internal_error", e.what());
        }
        if (!response.sent()) {
            send(response, r);
        }
        requestTimer(request.getURI()).observeNs(monoNowNs() - start);
        if (log->should_log(spdlog::level::debug)) {
            log->debug("{} {} {} {} {} bytes {} µs", request.clientAddress().toString(), request.getMethod(),
                       request.getURI(), r.status, r.body.size(), (monoNowNs() - start) / 1000);
        }
    }

private:
    static const std::string& emptyString()
    {
        static const std::string empty;
        return empty;
    }

    /// Reads at most kMaxBodyBytes; false when the body is larger.
    static bool readBody(Poco::Net::HTTPServerRequest& request, std::string& body)
    {
        if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) {
            return true;
        }
        if (request.hasContentLength() &&
            request.getContentLength64() > static_cast<Poco::Int64>(RestApi::kMaxBodyBytes)) {
            return false;
        }
        std::istream& in = request.stream();
        char buf[1024];
        while (in) {
            in.read(buf, sizeof buf);
            body.append(buf, static_cast<std::size_t>(in.gcount()));
            if (body.size() > RestApi::kMaxBodyBytes) {
                return false;
            }
        }
        return true;
    }

    std::shared_ptr<const RestApi> _api;
};

}  // namespace

class RestServer::Factory final : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Factory(std::shared_ptr<const RestApi> api, std::map<std::string, HandlerFactory> routes)
        : _api(std::move(api)), _routes(std::move(routes))
    {
    }

    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override
    {
        // Poco's pool threads carry no OS name: "http" in top -H, perf and gdb, whether the
        // thread serves REST or a /ws upgrade.
        thread_local const bool named = (nameThisThread("http"), true);
        (void)named;
        if (!_routes.empty()) {
            const std::string& uri = request.getURI();
            auto it = _routes.find(uri.substr(0, uri.find_first_of("?#")));
            if (it != _routes.end()) {
                return it->second(request);
            }
        }
        return new RestHandler(_api);
    }

private:
    std::shared_ptr<const RestApi> _api;
    std::map<std::string, HandlerFactory> _routes;
};

RestServer::RestServer(HttpOptions options, std::shared_ptr<const RestApi> api)
    : _options(std::move(options)), _api(std::move(api))
{
}

RestServer::~RestServer()
{
    stop();
}

void RestServer::addRoute(std::string path, HandlerFactory factory)
{
    _routes[std::move(path)] = std::move(factory);
}

std::string RestServer::address() const
{
    const std::string host = _options.host.find(':') != std::string::npos ? "[" + _options.host + "]" : _options.host;
    return host + ":" + std::to_string(_port != 0 ? _port : _options.port);
}

void RestServer::start()
{
    if (_server) {
        return;
    }
    Poco::Net::ServerSocket socket;
    try {
        // SO_REUSEADDR for quick restarts, but not SO_REUSEPORT (Poco's two-argument bind sets
        // both): a second relay on the same port must fail, not silently share it.
        socket.bind(Poco::Net::SocketAddress(_options.host, static_cast<Poco::UInt16>(_options.port)), true, false);
        socket.listen(128);
        // Inherited by accepted sockets: the body's last partial segment must not wait for
        // the ACK of the headers sent just before it (Nagle + delayed ACK).
        socket.setNoDelay(true);
    } catch (const Poco::Exception& e) {
        throw Poco::Net::NetException("cannot listen on " + address() + ": " + e.displayText());
    }
    _port = socket.address().port();

    auto params = Poco::AutoPtr<Poco::Net::HTTPServerParams>(new Poco::Net::HTTPServerParams);
    params->setMaxThreads(_options.threads);
    params->setMaxQueued(256);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);  // unlimited
    // Each keep-alive connection holds a worker while it waits for its next request; a short
    // idle timeout hands workers back to queued clients.
    params->setKeepAliveTimeout(Poco::Timespan(5, 0));
    params->setTimeout(Poco::Timespan(10, 0));
    params->setSoftwareVersion(std::string(kServiceName) + "/" + kVersion);

    _pool = std::make_unique<Poco::ThreadPool>("http", 1, _options.threads, 60);
    _server = std::make_unique<Poco::Net::HTTPServer>(new Factory(_api, _routes), *_pool, socket, params);
    _server->start();
}

void RestServer::stop()
{
    if (!_server) {
        return;
    }
    // abortCurrent: shut down open connections, idle keep-alive ones included, so stop is prompt.
    _server->stopAll(true);
    _pool->joinAll();
    _server.reset();
    _pool.reset();
}

}  // namespace nautilus::relay
