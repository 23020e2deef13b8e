#include "support/Process.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace nautilus::relay::test {

namespace {

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

ExitStatus decode(int status)
{
    ExitStatus s;
    if (WIFEXITED(status)) {
        s.exited = true;
        s.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        s.signal = WTERMSIG(status);
    }
    return s;
}

}  // namespace

std::string ExitStatus::describe() const
{
    return exited ? "exit code " + std::to_string(code) : "killed by signal " + std::to_string(signal);
}

TempDir::TempDir()
{
    char tmpl[] = "/tmp/nr-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    _path = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(_path, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const
{
    const std::string path = _path + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
    return path;
}

Process::Process(std::string binary, std::vector<std::string> args) : _binary(std::move(binary))
{
    std::vector<std::string> all;
    all.push_back(_binary);
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = _dir.path() + "/stdout";
    const std::string err = _dir.path() + "/stderr";
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);

    // The child starts with an empty signal mask and default dispositions, whatever the test
    // runner blocked or ignored.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGHUP}) {
        sigaddset(&defaults, sig);
    }
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = 0;
    const int rc = posix_spawn(&pid, _binary.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + _binary + ": errno " + std::to_string(rc));
    }
    _pid = pid;
}

Process::~Process()
{
    kill();
}

bool Process::running()
{
    if (_status) {
        return false;
    }
    int status = 0;
    const pid_t r = waitpid(_pid, &status, WNOHANG);
    if (r == _pid) {
        _status = decode(status);
        return false;
    }
    return true;
}

void Process::signal(int sig)
{
    if (running()) {
        ::kill(_pid, sig);
    }
}

std::optional<ExitStatus> Process::wait(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return _status;
}

void Process::kill()
{
    if (_pid > 0 && running()) {
        ::kill(_pid, SIGKILL);
        int status = 0;
        while (waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
        }
        _status = decode(status);
    }
}

std::string Process::stdoutText() const
{
    return readFile(_dir.path() + "/stdout");
}

std::string Process::stderrText() const
{
    return readFile(_dir.path() + "/stderr");
}

bool Process::waitForStderr(const std::string& text, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (stderrText().find(text) != std::string::npos) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

RunResult runProcess(const std::string& binary, const std::vector<std::string>& args, std::chrono::milliseconds timeout)
{
    Process p(binary, args);
    RunResult r;
    auto status = p.wait(timeout);
    if (!status) {
        r.timedOut = true;
        p.kill();
        status = p.wait(std::chrono::seconds(5));
    }
    r.status = status.value_or(ExitStatus{});
    r.out = p.stdoutText();
    r.err = p.stderrText();
    return r;
}

std::string relayBinary()
{
    return NR_BINARY_DIR "/host/nautilus-relay";
}

}  // namespace nautilus::relay::test
