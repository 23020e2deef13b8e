#pragma once
// Runs a real program (typically the nautilus-relay binary) for integration tests: arguments,
// stdout/stderr captured to files in a private temp dir, signals, wait with a timeout. The
// destructor SIGKILLs a child that is still running and removes the temp dir.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace nautilus::relay::test {

struct ExitStatus {
    bool exited = false;   ///< true: normal exit with `code`; false: killed by `signal`
    int code = -1;
    int signal = 0;
    std::string describe() const;
};

/// A directory under /tmp removed (recursively) on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return _path; }
    /// Writes `text` to path()/name and returns the full path.
    std::string write(const std::string& name, const std::string& text) const;

private:
    std::string _path;
};

class Process {
public:
    Process(std::string binary, std::vector<std::string> args);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    int pid() const { return _pid; }
    /// True until the child has been reaped.
    bool running();
    void signal(int sig);
    /// Waits until the child exits; nullopt on timeout (the child keeps running).
    std::optional<ExitStatus> wait(std::chrono::milliseconds timeout);
    /// SIGKILL and reap.
    void kill();

    std::string stdoutText() const;
    std::string stderrText() const;
    /// Polls stderr until it contains `text`; false on timeout.
    bool waitForStderr(const std::string& text, std::chrono::milliseconds timeout);

private:
    std::string _binary;
    TempDir _dir;
    int _pid = -1;
    std::optional<ExitStatus> _status;
};

struct RunResult {
    ExitStatus status;
    std::string out;
    std::string err;
    bool timedOut = false;
};

/// Runs a program to completion (SIGKILL after `timeout`).
RunResult runProcess(const std::string& binary, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// The nautilus-relay binary of this build tree.
std::string relayBinary();

}  // namespace nautilus::relay::test
