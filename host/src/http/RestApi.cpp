#include "http/RestApi.h"

#include <algorithm>
#include <cctype>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "common/Logging.h"
#include "common/Metrics.h"
#include "common/Text.h"
#include "common/Time.h"
#include "http/JsonWriter.h"
#include "http/StatusMetrics.h"

namespace nautilus::relay {

namespace {

constexpr std::string_view kLoggersPath = "/admin/loggers";
constexpr std::string_view kLoggerPrefix = "/admin/loggers/";

RestResponse json(int status, std::string body)
{
    RestResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

bool constantTimeEquals(std::string_view a, std::string_view b)
{
    // Length is not secret enough to hide; the content is compared without an early exit.
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    }
    return diff == 0;
}

bool validLoggerName(std::string_view name)
{
    if (name.empty() || name.size() > 128) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':';
    });
}

RestResponse methodNotAllowed(std::string_view method, std::string_view path, std::string_view allow)
{
    RestResponse r = json(405, renderError("method_not_allowed",
                                           std::string(method) + " is not allowed on " + std::string(path),
                                           {{"allow", std::string(allow)}}));
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
}

}  // namespace

RestApi::RestApi(ServiceInfo service, RestSources sources, HealthOptions health, std::string adminToken)
    : _service(std::move(service)), _sources(std::move(sources)), _health(health), _adminToken(std::move(adminToken))
{
}

std::int64_t RestApi::now() const
{
    return _sources.now ? _sources.now() : wallNowNs();
}

std::optional<StateHealth> RestApi::stateHealth() const
{
    return _sources.state ? _sources.state() : std::nullopt;
}

RestResponse RestApi::handle(const RestRequest& request) const
{
    std::string_view path = request.target.substr(0, request.target.find_first_of("?#"));
    const std::string_view method = request.method;
    const bool get = method == "GET";

    if (path == "/status") {
        if (!get) {
            return methodNotAllowed(method, path, "GET");
        }
        const std::size_t q = request.target.find('?');
        return status(q == std::string_view::npos ? std::string_view() : request.target.substr(q + 1));
    }
    if (path == "/status/cluster") {
        return get ? cluster() : methodNotAllowed(method, path, "GET");
    }
    if (path == "/health/live") {
        return get ? json(200, R"({"status":"live"})") : methodNotAllowed(method, path, "GET");
    }
    if (path == "/health/ready") {
        return get ? ready() : methodNotAllowed(method, path, "GET");
    }
    if (path == "/metrics") {
        return get ? metrics() : methodNotAllowed(method, path, "GET");
    }
    if (path == kLoggersPath) {
        if (!get) {
            return methodNotAllowed(method, path, "GET");
        }
        if (auto denied = checkAdmin(request)) {
            return *denied;
        }
        return listLoggers();
    }
    if (path.starts_with(kLoggerPrefix) && path.size() > kLoggerPrefix.size()) {
        if (method != "PUT") {
            return methodNotAllowed(method, path, "PUT");
        }
        if (auto denied = checkAdmin(request)) {
            return *denied;
        }
        return setLogger(path.substr(kLoggerPrefix.size()), request.body);
    }
    if (path == "/plugins" || path.starts_with("/plugins/")) {
        return plugins(request, path);
    }
    return json(404, renderError("not_found", "no such endpoint", {{"path", std::string(path)}}));
}

RestResponse RestApi::plugins(const RestRequest& request, std::string_view path) const
{
    const std::string_view method = request.method;
    const bool get = method == "GET";
    PluginHost* host = _sources.plugins;
    if (path == "/plugins") {
        if (!get) {
            return methodNotAllowed(method, path, "GET");
        }
        return host == nullptr ? json(200, renderPlugins({}, {}))
                               : json(200, renderPlugins(host->snapshot(), host->refusals()));
    }
    std::string_view rest = path.substr(std::string_view("/plugins/").size());
    const std::size_t slash = rest.find('/');
    const std::string_view name = rest.substr(0, slash);
    const std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    const bool knownAction = action == "restart" || action == "pause" || action == "resume";
    if (name.empty() || (slash != std::string_view::npos && !knownAction)) {
        return json(404, renderError("not_found", "no such endpoint", {{"path", std::string(path)}}));
    }
    const auto notFound = [&] {
        return json(404, renderError("not_found", "no plugin named '" + std::string(name) + "'",
                                     {{"plugin", std::string(name)}}));
    };
    if (action.empty()) {
        if (!get) {
            return methodNotAllowed(method, path, "GET");
        }
        if (host != nullptr) {
            if (auto snap = host->snapshot(name)) {
                return json(200, renderPlugin(*snap));
            }
            for (const auto& r : host->refusals()) {
                if (!r.name.empty() && r.name == name) {
                    return json(200, renderRefusedPlugin(r));
                }
            }
        }
        return notFound();
    }
    if (method != "POST") {
        return methodNotAllowed(method, path, "POST");
    }
    if (auto denied = checkAdmin(request)) {
        return *denied;
    }
    if (host == nullptr) {
        return notFound();
    }
    const PluginHost::CommandResult result =
        action == "restart" ? host->restart(name) : action == "pause" ? host->pause(name) : host->resume(name);
    switch (result.code) {
    case PluginHost::CommandResult::Code::NotFound:
        return notFound();
    case PluginHost::CommandResult::Code::Rejected:
        return json(409, renderError("conflict", result.message, {{"plugin", std::string(name)}}));
    case PluginHost::CommandResult::Code::Ok:
        break;
    }
    Logging::get("relay.http")->info("plugin {}: {} requested over REST", name, action);
    const auto snap = host->snapshot(name);
    return snap ? json(200, renderPlugin(*snap)) : notFound();
}

RestResponse RestApi::status(std::string_view query) const
{
    // ?streams=false: everything but the per-stream list (bus.stream_count still counts them),
    // for monitors that poll often while the relay follows hundreds of streams.
    bool withStreams = true;
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (!param.starts_with("streams=")) {
            continue;  // other parameters are not ours (cache busters and the like)
        }
        const std::string_view value = param.substr(8);
        if (value == "false" || value == "0") {
            withStreams = false;
        } else if (value == "true" || value == "1") {
            withStreams = true;
        } else {
            return json(400, renderError("bad_request", "streams must be true or false, not '" + std::string(value) + "'"));
        }
    }
    BusSnapshot bus;
    if (withStreams || !_sources.busSummary) {
        bus = _sources.bus();
    } else {
        bus = _sources.busSummary();
    }
    if (!withStreams && !bus.streams.empty()) {
        bus.streamCount = bus.streams.size();
        bus.streams.clear();
    }
    std::optional<WsSnapshot> ws;
    if (_sources.websocket) {
        ws = _sources.websocket();
    }
    if (_sources.plugins == nullptr) {
        return json(200, renderStatus(_service, bus, stateHealth(), now(), {}, {}, ws, withStreams));
    }
    return json(200, renderStatus(_service, bus, stateHealth(), now(), _sources.plugins->snapshot(),
                                  _sources.plugins->refusals(), ws, withStreams));
}

RestResponse RestApi::ready() const
{
    const BusSnapshot bus = _sources.bus();
    const Readiness r = evaluateReadiness(bus, _health, now());
    return json(r.ready ? 200 : 503, renderReadiness(r));
}

RestResponse RestApi::cluster() const
{
    if (!_sources.cluster) {
        return json(503, renderError("state_disabled", "state.enabled = false: this instance keeps no registry"));
    }
    try {
        return json(200, renderCluster(_sources.cluster()));
    } catch (const std::exception& e) {
        return json(503, renderError("redis_unavailable", std::string("cannot read the registry: ") + e.what()));
    }
}

RestResponse RestApi::metrics() const
{
    // Copies first, so nothing below holds the reader's lock.
    const BusSnapshot bus = _sources.bus();
    const std::optional<StateHealth> state = stateHealth();
    const std::int64_t t = now();
    const Readiness readiness = evaluateReadiness(bus, _health, t);
    RestResponse r;
    r.contentType = std::string(kPrometheusContentType);
    r.body = MetricsRegistry::global().renderPrometheus();
    PromWriter w(r.body);
    writeStatusMetrics(w, _service, bus, state, readiness, t);
    return r;
}

std::optional<RestResponse> RestApi::checkAdmin(const RestRequest& request) const
{
    if (_adminToken.empty()) {
        if (request.peerIsLoopback) {
            return std::nullopt;
        }
        return json(403, renderError("forbidden",
                                     "admin endpoints answer loopback clients only; set http.admin_token to allow "
                                     "remote access with a bearer token"));
    }
    const std::string_view auth = trim(request.authorization);
    constexpr std::string_view kScheme = "bearer ";
    const bool bearer = auth.size() > kScheme.size() &&
                        std::equal(kScheme.begin(), kScheme.end(), auth.begin(), [](char a, char b) {
                            return a == std::tolower(static_cast<unsigned char>(b));
                        });
    if (!bearer) {
        RestResponse r = json(401, renderError("unauthorized", "admin endpoints need Authorization: Bearer <token>"));
        r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="nautilus-relay")");
        return r;
    }
    if (!constantTimeEquals(trim(auth.substr(kScheme.size())), _adminToken)) {
        return json(403, renderError("forbidden", "wrong admin token"));
    }
    return std::nullopt;
}

RestResponse RestApi::listLoggers() const
{
    auto loggers = Logging::list();
    std::erase_if(loggers, [](const auto& l) { return l.first.empty(); });  // spdlog's unnamed default logger
    return json(200, renderLoggers(std::move(loggers)));
}

RestResponse RestApi::setLogger(std::string_view name, std::string_view body) const
{
    if (!validLoggerName(name)) {
        return json(400, renderError("bad_request",
                                     "logger names are 1..128 characters of letters, digits, '.', '_', '-', ':'"));
    }
    const std::string_view text = trim(body);
    std::string level;
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        level = std::string(text.substr(1, text.size() - 2));  // a JSON string; level names need no escapes
    } else if (!text.empty() && text.front() == '{') {
        try {
            Poco::JSON::Parser parser;
            const auto object = parser.parse(std::string(text)).extract<Poco::JSON::Object::Ptr>();
            if (!object || !object->has("level") || !object->get("level").isString()) {
                throw std::invalid_argument("no level");
            }
            level = object->getValue<std::string>("level");
        } catch (const std::exception&) {  // Poco::Exception derives from it
            return json(400, renderError("bad_request", R"(body must be {"level":"<level>"} or the level name)"));
        }
    } else {
        level = std::string(text);
    }
    std::transform(level.begin(), level.end(), level.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto parsedLevel = Logging::parseLevel(level);
    if (!parsedLevel || !Logging::setLevel(std::string(name), level)) {
        return json(400, renderError("bad_request", "unknown level \"" + level +
                                                        "\"; expected one of trace, debug, info, warn, error, "
                                                        "critical, off"));
    }
    const auto sv = spdlog::level::to_string_view(*parsedLevel);
    Logging::get("relay.http")->info("logger {} set to {}", name, std::string_view(sv.data(), sv.size()));
    std::string out;
    JsonWriter w(out);
    w.beginObject().field("name", name).field("level", std::string_view(sv.data(), sv.size())).endObject();
    return json(200, std::move(out));
}

}  // namespace nautilus::relay
