#pragma once
// The REST endpoints as a pure request -> response function, independent of the socket layer
// (RestServer adapts Poco's HTTP server to it), so routing, status codes, auth and bodies are
// unit-tested without a listener.
//
//   GET /status              200 status JSON (DESIGN.md)
//   GET /status/cluster      200 {"instances":[...]} | 503 when state is disabled or Redis fails
//   GET /health/live         200 {"status":"live"}
//   GET /health/ready        200 | 503, {"status","checks","failed"}
//   GET /metrics             200 Prometheus text format 0.0.4
//   GET /admin/loggers       200 {"loggers":[...]}                       (admin)
//   PUT /admin/loggers/<n>   200 {"name","level"} | 400 bad level/name     (admin)
//   GET /plugins             200 {"plugins":[{name,version,state,...}]} (refused ones too)
//   GET /plugins/<n>         200 one plugin's figures | 404 unknown
//   POST /plugins/<n>/restart|pause|resume  200 the plugin | 404 unknown | 409 rejected (admin)
// Unknown path: 404 {"error":"not_found","path":...}; wrong method: 405 with Allow.
// Admin: loopback peers only, unless an admin token is set: then "Authorization: Bearer <token>"
// is required from everyone (401 without credentials, 403 with wrong ones).
//
// Threads: handle() is const and called concurrently by the HTTP worker threads. The sources
// must be safe to call from any thread and must not block on the message path.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/BusTypes.h"
#include "http/HttpOptions.h"
#include "http/StatusJson.h"
#include "plugin/PluginHost.h"
#include "state/StateStore.h"

namespace nautilus::relay {

struct RestRequest {
    std::string_view method;
    std::string_view target;          ///< request URI: path, optionally with ?query
    std::string_view body;
    std::string_view authorization;   ///< Authorization header value ("" when absent)
    bool peerIsLoopback = false;
};

struct RestResponse {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers (Allow, WWW-Authenticate)
};

struct RestSources {
    std::function<BusSnapshot()> bus;                       ///< required
    /// bus() without the per-stream list, for GET /status?streams=false; empty: bus() is used
    /// and its list dropped.
    std::function<BusSnapshot()> busSummary;
    std::function<std::optional<StateHealth>()> state;      ///< empty or nullopt: state.enabled = false
    /// Every live registry entry; throws on a Redis error. Empty: state.enabled = false.
    std::function<std::vector<std::map<std::string, std::string>>()> cluster;
    std::function<std::int64_t()> now;                      ///< wall clock ns; empty = wallNowNs
    PluginHost* plugins = nullptr;                          ///< nullptr: no plugin host (empty lists)
    std::function<WsSnapshot()> websocket;                  ///< empty: no WebSocket gateway
};

class RestApi {
public:
    static constexpr std::size_t kMaxBodyBytes = 4096;
    static constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    RestApi(ServiceInfo service, RestSources sources, HealthOptions health, std::string adminToken);

    RestResponse handle(const RestRequest& request) const;

    const ServiceInfo& service() const { return _service; }

private:
    RestResponse status(std::string_view query) const;
    RestResponse cluster() const;
    RestResponse ready() const;
    RestResponse metrics() const;
    RestResponse listLoggers() const;
    RestResponse setLogger(std::string_view name, std::string_view body) const;
    RestResponse plugins(const RestRequest& request, std::string_view path) const;
    std::optional<RestResponse> checkAdmin(const RestRequest& request) const;
    std::int64_t now() const;
    std::optional<StateHealth> stateHealth() const;

    ServiceInfo _service;
    RestSources _sources;
    HealthOptions _health;
    std::string _adminToken;
};

}  // namespace nautilus::relay
