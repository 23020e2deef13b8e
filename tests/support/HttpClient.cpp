#include "support/HttpClient.h"

#include <algorithm>
#include <cctype>
#include <istream>
#include <iterator>
#include <ostream>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

namespace nautilus::relay::test {

namespace {

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

HttpResult perform(Poco::Net::HTTPClientSession& session, const std::string& method, const std::string& target,
                   const std::string& body, const std::map<std::string, std::string>& headers)
{
    Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    for (const auto& [name, value] : headers) {
        req.set(name, value);
    }
    if (!body.empty() || method == "PUT" || method == "POST") {
        req.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    std::ostream& out = session.sendRequest(req);
    out << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    HttpResult r;
    r.status = static_cast<int>(resp.getStatus());
    r.contentType = resp.getContentType();
    for (const auto& [name, value] : resp) {
        r.headers[lower(name)] = value;
    }
    r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
}

}  // namespace

HttpClient::HttpClient(std::string host, int port, std::chrono::milliseconds timeout)
    : _session(std::make_unique<Poco::Net::HTTPClientSession>(host, static_cast<Poco::UInt16>(port)))
{
    _session->setKeepAlive(true);
    _session->setTimeout(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000));
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::map<std::string, std::string>& headers)
{
    return perform(*_session, method, target, body, headers);
}

HttpResult httpRequest(const std::string& host, int port, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers)
{
    Poco::Net::HTTPClientSession session(host, static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(5, 0));
    return perform(session, method, target, body, headers);
}

}  // namespace nautilus::relay::test
