#include "support/RedisServer.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Redis/Type.h>

extern char** environ;

namespace nautilus::relay::test {

namespace {

/// The lowest port of the kernel's ephemeral range (outgoing connections take theirs from it).
int ephemeralLow()
{
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0;
    int high = 0;
    return (in >> low >> high) ? low : 32768;
}

bool bindable(int port)
{
    try {
        Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
        return true;
    } catch (const Poco::Exception&) {
        return false;
    }
}

}  // namespace

int freeLoopbackPort()
{
    // Picked at random below the ephemeral range, not by binding port 0: a port the kernel hands
    // out and we release can be given to any outgoing connection (a parallel test's client)
    // before the server that needs it binds it. Within one process a port is never given twice.
    static std::mutex mutex;
    static std::set<int> given;
    static std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(getpid()));
    const std::lock_guard<std::mutex> lock(mutex);
    const int high = std::min(ephemeralLow(), 65536);
    const int low = 10000;
    if (high - low >= 1000) {
        std::uniform_int_distribution<int> pick(low, high - 1);
        for (int attempt = 0; attempt < 200; ++attempt) {
            const int port = pick(random);
            if (given.count(port) == 0 && bindable(port)) {
                given.insert(port);
                return port;
            }
        }
    }
    // A machine with an unusual ephemeral range: let the kernel choose.
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    const int port = s.address().port();
    given.insert(port);
    return port;
}

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options) : _options(std::move(options))
{
    char tmpl[] = "/tmp/nr-redis-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    _dir = tmpl;
    // A port taken between picking and binding (another test's server) ends redis-server at
    // start: pick again, twice at most.
    for (int attempt = 1;; ++attempt) {
        _port = freeLoopbackPort();
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            stop(true);  // one that started but never answered
            if (attempt == 3) {
                std::error_code ec;
                std::filesystem::remove_all(_dir, ec);
                throw;
            }
        }
    }
}

RedisServer::~RedisServer()
{
    stop(true);
    std::error_code ec;
    std::filesystem::remove_all(_dir, ec);
}

void RedisServer::start()
{
    if (_pid > 0) {
        return;
    }
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(_port), "--bind", "127.0.0.1",
                                     "--dir", _dir, "--save", "", "--daemonize", "no", "--loglevel", "warning",
                                     "--logfile", _dir + "/redis.log",
                                     "--appendonly", _options.appendOnly ? "yes" : "no"};
    if (_options.appendOnly) {
        args.insert(args.end(), {"--appendfsync", "always"});
    }
    if (!_options.password.empty()) {
        args.insert(args.end(), {"--requirepass", _options.password});
    }
    args.insert(args.end(), _options.extraArgs.begin(), _options.extraArgs.end());
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ);
    if (rc != 0) {
        throw std::runtime_error("cannot start redis-server (is it installed?): errno " + std::to_string(rc));
    }
    _pid = pid;
    waitReady();
}

void RedisServer::waitReady()
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(_pid, &status, WNOHANG) == _pid) {
            _pid = -1;
            throw std::runtime_error("redis-server exited at start; see " + _dir + "/redis.log");
        }
        try {
            if (command({"PING"}) == "PONG") {
                return;
            }
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server did not answer PING within 10 s");
}

void RedisServer::stop(bool hard)
{
    if (_pid <= 0) {
        return;
    }
    kill(_pid, hard ? SIGKILL : SIGTERM);
    int status = 0;
    while (waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
    }
    _pid = -1;
}

std::unique_ptr<Poco::Redis::Client> RedisServer::client() const
{
    auto c = std::make_unique<Poco::Redis::Client>();
    c->connect(_host, _port, Poco::Timespan(2, 0));
    if (!_options.password.empty()) {
        Poco::Redis::Array auth;
        auth << "AUTH" << _options.password;
        c->execute<std::string>(auth);
    }
    return c;
}

namespace {

std::string render(const Poco::Redis::RedisType::Ptr& reply)
{
    if (!reply) {
        return {};
    }
    switch (reply->type()) {
    case Poco::Redis::RedisTypeTraits<Poco::Int64>::TypeId:
        return std::to_string(static_cast<const Poco::Redis::Type<Poco::Int64>*>(reply.get())->value());
    case Poco::Redis::RedisTypeTraits<std::string>::TypeId:
        return static_cast<const Poco::Redis::Type<std::string>*>(reply.get())->value();
    case Poco::Redis::RedisTypeTraits<Poco::Redis::BulkString>::TypeId: {
        const auto& b = static_cast<const Poco::Redis::Type<Poco::Redis::BulkString>*>(reply.get())->value();
        return b.isNull() ? std::string() : b.value();
    }
    case Poco::Redis::RedisTypeTraits<Poco::Redis::Error>::TypeId:
        throw std::runtime_error(static_cast<const Poco::Redis::Type<Poco::Redis::Error>*>(reply.get())->value().getMessage());
    case Poco::Redis::RedisTypeTraits<Poco::Redis::Array>::TypeId: {
        const auto& a = static_cast<const Poco::Redis::Type<Poco::Redis::Array>*>(reply.get())->value();
        std::string out;
        if (a.isNull()) {
            return out;
        }
        for (auto it = a.begin(); it != a.end(); ++it) {
            if (it != a.begin()) {
                out += '\n';
            }
            out += render(*it);
        }
        return out;
    }
    }
    return {};
}

}  // namespace

std::string RedisServer::command(const std::vector<std::string>& args) const
{
    auto c = client();
    Poco::Redis::Array cmd;
    for (const auto& a : args) {
        cmd << a;
    }
    return render(c->sendCommand(cmd));
}

}  // namespace nautilus::relay::test
