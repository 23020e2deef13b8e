#include "plugin/PluginLibrary.h"

#include <dlfcn.h>

namespace nautilus::relay {

std::unique_ptr<PluginLibrary> PluginLibrary::open(const std::string& path, std::string& error)
{
    dlerror();  // clear a stale error
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* text = dlerror();
        error = text != nullptr ? text : "dlopen failed";
        return nullptr;
    }
    return std::unique_ptr<PluginLibrary>(new PluginLibrary(handle, path));
}

PluginLibrary::~PluginLibrary()
{
    if (_handle != nullptr && !_leaked) {
        dlclose(_handle);
    }
}

void* PluginLibrary::symbol(const char* name) const
{
    return dlsym(_handle, name);
}

}  // namespace nautilus::relay
