#pragma once
// A private redis-server for one test: a free loopback port, its own temp dir, started and
// killed by the test. A missing redis-server binary is a test failure, never a skip.
#include <memory>
#include <string>
#include <vector>

#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>

namespace nautilus::relay::test {

class RedisServer {
public:
    struct Options {
        bool appendOnly = false;             ///< AOF on (data survives restart())
        std::string password;                ///< requirepass
        std::vector<std::string> extraArgs;  ///< e.g. {"--user", "alice", "on", ">pw", "~*", "+@all"}
    };
    RedisServer();
    explicit RedisServer(Options options);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    const std::string& host() const { return _host; }
    int port() const { return _port; }
    const std::string& dir() const { return _dir; }

    /// SIGKILL (hard=true) or SIGTERM, and wait for the process to exit.
    void stop(bool hard = false);
    /// Starts again on the same port and directory; waits until it answers PING.
    void start();
    bool running() const { return _pid > 0; }

    /// A new connected (and authenticated) client.
    std::unique_ptr<Poco::Redis::Client> client() const;
    /// Runs one command on a fresh connection; returns the reply rendered as text (bulk string,
    /// integer, simple string; arrays joined by '\n'). Throws on a Redis error reply.
    std::string command(const std::vector<std::string>& args) const;

private:
    void waitReady();
    Options _options;
    std::string _host = "127.0.0.1";
    int _port = 0;
    std::string _dir;
    int _pid = -1;
};

/// A free TCP port on 127.0.0.1, below the ephemeral range, not given before in this process.
int freeLoopbackPort();

}  // namespace nautilus::relay::test
