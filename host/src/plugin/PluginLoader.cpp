#include "plugin/PluginLoader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/Logging.h"
#include "plugin/PluginOptions.h"

namespace nautilus::relay {

namespace fs = std::filesystem;

namespace {

// The first bytes of an ELF file: magic, class, data, version ... e_type at offset 16.
// dlopen's own message for a text file ("invalid ELF header") is accurate but obscure; checking
// first lets the refusal say plainly that the file is not a shared object at all.
std::string elfProblem(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return "cannot be read";
    }
    unsigned char header[18] = {};
    in.read(reinterpret_cast<char*>(header), sizeof header);
    if (in.gcount() < static_cast<std::streamsize>(sizeof header) || std::memcmp(header, "\x7f" "ELF", 4) != 0) {
        return "not a shared object (no ELF header)";
    }
    const unsigned type = header[5] == 2 ? (header[16] << 8u) | header[17] : header[16] | (header[17] << 8u);
    if (type != 3) {  // ET_DYN
        return "not a shared object (ELF type " + std::to_string(type) + ")";
    }
    return {};
}

// dlerror() repeats the path ("/dir/x.so: undefined symbol: foo"); the log line names it already.
std::string withoutPath(std::string text, const std::string& path)
{
    const std::string prefix = path + ": ";
    if (text.compare(0, prefix.size(), prefix) == 0) {
        text.erase(0, prefix.size());
    }
    return text;
}

}  // namespace

std::string PluginLoader::abiText(std::uint32_t version)
{
    return std::to_string(NR_ABI_MAJOR(version)) + "." + std::to_string(NR_ABI_MINOR(version));
}

std::vector<std::string> PluginLoader::candidates(const std::vector<std::string>& files,
                                                  const std::vector<std::string>& dirs)
{
    std::vector<std::string> out;
    std::set<std::string> seen;
    auto add = [&](const fs::path& p) {
        std::error_code ec;
        const fs::path real = fs::weakly_canonical(p, ec);
        if (seen.insert(ec ? p.string() : real.string()).second) {
            out.push_back(p.string());
        }
    };
    for (const auto& f : files) {
        add(f);
    }
    for (const auto& d : dirs) {
        std::error_code ec;
        if (!fs::is_directory(d, ec)) {
            // The default list names the packaged and the local directory; either may be absent.
            if (fs::exists(d, ec)) {
                Logging::get("relay.plugin")->warn("plugin path {} is not a directory, skipped", d);
            } else {
                Logging::get("relay.plugin")->debug("plugin directory {} does not exist, skipped", d);
            }
            continue;
        }
        std::vector<fs::path> found;
        for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
            const auto& p = it->path();
            std::error_code fec;
            if (p.extension() == ".so" && fs::is_regular_file(it->status(fec))) {
                found.push_back(p);
            }
        }
        if (ec) {
            Logging::get("relay.plugin")->warn("plugin directory {} cannot be listed: {}", d, ec.message());
        }
        std::sort(found.begin(), found.end());
        for (const auto& p : found) {
            add(p);
        }
    }
    return out;
}

PluginLoader::Result PluginLoader::open(const std::string& path) noexcept
{
    Result r;
    try {
        if (std::string problem = elfProblem(path); !problem.empty()) {
            r.reason = std::move(problem);
            return r;
        }
        std::string error;
        auto library = PluginLibrary::open(path, error);
        if (!library) {
            r.reason = "cannot be loaded: " + withoutPath(error, path);
            return r;
        }
        void* sym = library->symbol(NR_PLUGIN_ENTRY_SYMBOL);
        if (sym == nullptr) {
            r.reason = "missing entry symbol " NR_PLUGIN_ENTRY_SYMBOL;
            return r;
        }
        // dlsym returns an object pointer; converting it to a function pointer is what POSIX requires to work.
        auto entry = reinterpret_cast<nr_plugin_entry_fn>(sym);
        const nr_plugin_info* info = entry();
        if (info == nullptr) {
            r.reason = NR_PLUGIN_ENTRY_SYMBOL " returned NULL";
            return r;
        }
        // Check the ABI major before trusting anything else about the layout.
        if (NR_ABI_MAJOR(info->abi_version) != NR_ABI_VERSION_MAJOR) {
            r.reason = "built for ABI " + abiText(info->abi_version) + ", host provides " +
                       std::to_string(NR_ABI_VERSION_MAJOR) + ".x";
            return r;
        }
        constexpr std::size_t kSize10 = offsetof(nr_plugin_info, shutdown) + sizeof(info->shutdown);
        if (info->struct_size < kSize10) {
            r.reason = "descriptor too small (" + std::to_string(info->struct_size) + " bytes, ABI 1.0 needs " +
                       std::to_string(kSize10) + ")";
            return r;
        }
        if (info->name == nullptr || !isValidPluginName(info->name)) {
            r.reason = info->name == nullptr
                           ? std::string("descriptor has no name")
                           : "invalid name '" + std::string(info->name, strnlen(info->name, 80)) +
                                 "' (1-64 of a-z, 0-9 and '-', not starting with '-')";
            return r;
        }
        r.name = info->name;
        if (info->init == nullptr) {
            r.reason = "descriptor has no init callback";
            return r;
        }
        auto opened = std::make_unique<OpenedPlugin>();
        opened->info = info;
        opened->name = info->name;
        opened->version = info->version != nullptr ? std::string(info->version, strnlen(info->version, 256)) : "";
        opened->abiVersion = info->abi_version;
        opened->library = std::move(library);
        r.plugin = std::move(opened);
    } catch (const std::exception& e) {
        r.plugin.reset();
        r.reason = std::string("cannot be loaded: ") + e.what();
    }
    return r;
}

}  // namespace nautilus::relay
