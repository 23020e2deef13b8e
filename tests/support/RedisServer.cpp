#include "support/RedisServer.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
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

int freeLoopbackPort()
{
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    const int port = s.address().port();
    s.close();
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
    _port = freeLoopbackPort();
    start();
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
