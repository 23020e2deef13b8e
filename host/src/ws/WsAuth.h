#pragma once
// Who may open /ws and what they may see: the static bearer token and/or HS256 JWTs checked at
// the upgrade (Authorization header or ?token=), each with an optional topic-pattern allow list
// (ws.auth.token_topics; the JWT's topics claim), and the Origin allow-list for browsers.
//
// Threads: const after construction; check() runs on the HTTP threads.
#include <string>
#include <string_view>
#include <vector>

#include "ws/WsOptions.h"

namespace nautilus::relay::ws {

struct AuthResult {
    int status = 200;                  ///< 200, or 401 (no or bad credentials)
    std::string reason;                ///< why not (401)
    bool restricted = false;           ///< allowedTopics applies
    std::vector<std::string> allowedTopics;
    std::string subject;               ///< "token", or the JWT's sub (for the log)
};

class WsAuth {
public:
    explicit WsAuth(const WsOptions& options);

    /// authorization: the Authorization header ("" when absent); queryToken: ?token= ("" when absent).
    AuthResult check(std::string_view authorization, std::string_view queryToken) const;

    /// No Origin header (not a browser): allowed. Else it must be listed in ws.allowed_origins
    /// ("*" allows every origin; "http://host:*" any port of that host).
    bool originAllowed(std::string_view origin) const;

private:
    std::string _token;
    std::vector<std::string> _tokenTopics;
    std::string _jwtSecret;
    std::string _topicsClaim;
    std::vector<std::string> _origins;
};

/// True when every topic that pattern can match is matched by one of the allowed patterns
/// (checked by matching the pattern text itself, wildcards included, against them).
bool patternAllowed(const std::vector<std::string>& allowed, std::string_view pattern);
/// True when topic matches one of the allowed patterns.
bool topicAllowed(const std::vector<std::string>& allowed, std::string_view topic);

}  // namespace nautilus::relay::ws
