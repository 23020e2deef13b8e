#include "app/ConfigFiles.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include "app/Config.h"

namespace nautilus::relay {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kConfDir = "conf.d";
constexpr std::string_view kSuffix = ".properties";

/// Exposes the parsed key/value pairs of a .properties file (MapConfiguration keeps them protected).
class PropertiesFile final : public Poco::Util::PropertyFileConfiguration {
public:
    explicit PropertiesFile(const std::string& path) : PropertyFileConfiguration(path) {}
    std::map<std::string, std::string> entries() const { return {begin(), end()}; }

private:
    ~PropertiesFile() override = default;
};

bool isLayer(const fs::directory_entry& entry)
{
    const std::string name = entry.path().filename().string();
    std::error_code ec;
    // Only *.properties: dpkg's .dpkg-dist/.dpkg-old copies and editor backups must not load.
    return name.size() > kSuffix.size() && name.front() != '.' && name.ends_with(kSuffix) &&
           entry.is_regular_file(ec);
}

}  // namespace

std::vector<std::string> configFileChain(const std::string& file)
{
    if (file.empty()) {
        return {};
    }
    std::vector<std::string> chain{file};
    const fs::path dir = fs::path(file).parent_path() / kConfDir;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return chain;
    }
    std::vector<std::string> layers;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        if (isLayer(*it)) {
            layers.push_back(it->path().string());
        }
    }
    if (ec) {
        throw ConfigError("config error: cannot read config directory \"" + dir.string() + "\": " + ec.message());
    }
    std::sort(layers.begin(), layers.end());
    chain.insert(chain.end(), layers.begin(), layers.end());
    return chain;
}

std::map<std::string, std::string> readConfigFiles(const std::vector<std::string>& files)
{
    std::map<std::string, std::string> values;
    for (const auto& file : files) {
        try {
            Poco::AutoPtr<PropertiesFile> props(new PropertiesFile(file));
            for (auto& [key, value] : props->entries()) {
                values[key] = std::move(value);
            }
        } catch (const Poco::Exception& e) {
            throw ConfigError("config error: cannot read config file \"" + file + "\": " + e.displayText());
        }
    }
    return values;
}

std::string describeConfigFiles(const std::vector<std::string>& files)
{
    if (files.empty()) {
        return "(built-in defaults)";
    }
    std::string out = files.front();
    const fs::path base = fs::path(files.front()).parent_path();
    for (std::size_t i = 1; i < files.size(); ++i) {
        out += " + " + fs::path(files[i]).lexically_relative(base).string();
    }
    return out;
}

}  // namespace nautilus::relay
