#pragma once
// One dlopen()ed shared object. Owns the handle: the destructor dlcloses it unless leak() was
// called, which the host does when plugin code may still be running (a handler that never
// returned), because unmapping code under a running thread crashes the process.
// Not thread-safe; owned by the loader, then by one PluginRuntime.
#include <memory>
#include <string>

namespace nautilus::relay {

class PluginLibrary {
public:
    /// dlopen(path, RTLD_NOW | RTLD_LOCAL). Returns nullptr and sets error (dlerror's text) on failure.
    static std::unique_ptr<PluginLibrary> open(const std::string& path, std::string& error);

    ~PluginLibrary();
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    /// dlsym in this library (and its dependencies); nullptr when absent.
    void* symbol(const char* name) const;
    /// Keeps the library mapped for the rest of the process.
    void leak() noexcept { _leaked = true; }
    bool leaked() const noexcept { return _leaked; }
    const std::string& path() const noexcept { return _path; }

private:
    PluginLibrary(void* handle, std::string path) : _handle(handle), _path(std::move(path)) {}
    void* _handle;
    std::string _path;
    bool _leaked = false;
};

}  // namespace nautilus::relay
