#include "ws/WsAuth.h"

#include <cctype>
#include <chrono>

#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Timestamp.h>

#include "router/TopicPattern.h"

namespace nautilus::relay::ws {

namespace {

// Compares in time independent of where the first difference is.
bool constantTimeEquals(std::string_view a, std::string_view b)
{
    unsigned diff = a.size() == b.size() ? 0u : 1u;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b.empty() ? 0 : b[i % b.size()]));
    }
    return diff == 0;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix)
{
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

WsAuth::WsAuth(const WsOptions& options)
    : _token(options.authToken),
      _tokenTopics(options.authTokenTopics),
      _jwtSecret(options.jwtSecret),
      _topicsClaim(options.jwtTopicsClaim),
      _origins(options.allowedOrigins)
{
}

AuthResult WsAuth::check(std::string_view authorization, std::string_view queryToken) const
{
    AuthResult r;
    if (_token.empty() && _jwtSecret.empty()) {
        return r;
    }
    std::string_view presented = queryToken;
    if (!authorization.empty()) {
        if (!startsWithNoCase(authorization, "Bearer ")) {
            r.status = 401;
            r.reason = "expected \"Authorization: Bearer <token>\"";
            return r;
        }
        presented = authorization.substr(7);
        while (!presented.empty() && presented.front() == ' ') {
            presented.remove_prefix(1);
        }
    }
    if (presented.empty()) {
        r.status = 401;
        r.reason = "a token is required (Authorization: Bearer <token>, or ?token=)";
        return r;
    }
    if (!_token.empty() && constantTimeEquals(presented, _token)) {
        r.subject = "token";
        r.restricted = !_tokenTopics.empty();
        r.allowedTopics = _tokenTopics;
        return r;
    }
    if (!_jwtSecret.empty() && presented.find('.') != std::string_view::npos) {
        try {
            Poco::JWT::Signer signer(_jwtSecret);  // HS256 only (the Signer's default)
            Poco::JWT::Token token;
            if (!signer.tryVerify(std::string(presented), token)) {
                r.status = 401;
                r.reason = "invalid token signature";
                return r;
            }
            const Poco::Timestamp now;
            const Poco::Timestamp exp = token.getExpiration();
            if (exp != Poco::Timestamp(0) && exp <= now) {
                r.status = 401;
                r.reason = "token expired";
                return r;
            }
            const Poco::Timestamp nbf = token.getNotBefore();
            if (nbf != Poco::Timestamp(0) && nbf > now) {
                r.status = 401;
                r.reason = "token not valid yet";
                return r;
            }
            r.subject = token.getSubject().empty() ? "jwt" : "jwt " + token.getSubject();
            const Poco::JSON::Object& claims = token.payload();
            if (claims.has(_topicsClaim)) {
                const Poco::JSON::Array::Ptr topics = claims.getArray(_topicsClaim);
                if (!topics) {
                    r.status = 401;
                    r.reason = "the \"" + _topicsClaim + "\" claim must be an array of topic patterns";
                    return r;
                }
                r.restricted = true;
                for (std::size_t i = 0; i < topics->size(); ++i) {
                    const Poco::Dynamic::Var v = topics->get(static_cast<unsigned>(i));
                    if (v.isString()) {
                        r.allowedTopics.push_back(v.extract<std::string>());
                    }
                }
            }
            return r;
        } catch (const Poco::Exception& e) {
            r.status = 401;
            r.reason = "invalid token: " + e.message();
            return r;
        } catch (const std::exception& e) {
            r.status = 401;
            r.reason = std::string("invalid token: ") + e.what();
            return r;
        }
    }
    r.status = 401;
    r.reason = "invalid token";
    return r;
}

bool WsAuth::originAllowed(std::string_view origin) const
{
    if (origin.empty()) {
        return true;
    }
    for (const std::string& allowed : _origins) {
        if (allowed == "*" || allowed == origin) {
            return true;
        }
        // "http://localhost:*": that scheme and host on any port (or none).
        if (allowed.size() > 2 && allowed.ends_with(":*")) {
            const std::string_view base = std::string_view(allowed).substr(0, allowed.size() - 2);
            if (origin == base) {
                return true;
            }
            if (origin.size() > base.size() + 1 && origin.starts_with(base) && origin[base.size()] == ':' &&
                origin.find_first_not_of("0123456789", base.size() + 1) == std::string_view::npos) {
                return true;
            }
        }
    }
    return false;
}

bool patternAllowed(const std::vector<std::string>& allowed, std::string_view pattern)
{
    for (const std::string& a : allowed) {
        if (topicMatches(a, pattern)) {
            return true;
        }
    }
    return false;
}

bool topicAllowed(const std::vector<std::string>& allowed, std::string_view topic)
{
    return patternAllowed(allowed, topic);
}

}  // namespace nautilus::relay::ws
