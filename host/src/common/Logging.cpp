#include "common/Logging.h"

#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace nautilus::relay {

namespace {

// JSON-escapes the log message so format=json yields one valid JSON object per line.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override
    {
        static constexpr char kHex[] = "0123456789abcdef";
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto u = static_cast<unsigned char>(c);
            switch (c) {
            case '"': dest.append(std::string_view("\\\"")); break;
            case '\\': dest.append(std::string_view("\\\\")); break;
            case '\n': dest.append(std::string_view("\\n")); break;
            case '\r': dest.append(std::string_view("\\r")); break;
            case '\t': dest.append(std::string_view("\\t")); break;
            default:
                if (u < 0x20) {
                    const char esc[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
                    dest.append(esc, esc + 6);
                } else {
                    dest.push_back(c);
                }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

struct State {
    std::mutex mutex;
    std::vector<spdlog::sink_ptr> sinks;
    spdlog::level::level_enum level = spdlog::level::info;
    bool json = false;
};

State& state()
{
    static State s;
    return s;
}

std::unique_ptr<spdlog::formatter> makeFormatter(bool json)
{
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (json) {
        f->add_flag<JsonMessageFlag>('*').set_pattern(
            R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","thread":%t,"msg":"%*"})");
    } else {
        f->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v");
    }
    return f;
}

void ensureDefaultSinks(State& s)
{
    if (s.sinks.empty()) {
        auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        console->set_formatter(makeFormatter(false));
        s.sinks.push_back(console);
    }
}

}  // namespace

std::optional<spdlog::level::level_enum> Logging::parseLevel(std::string_view name)
{
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
        {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
    for (auto [n, l] : kLevels) {
        if (n == name) {
            return l;
        }
    }
    return std::nullopt;
}

void Logging::configure(const LoggingOptions& options)
{
    auto& s = state();
    std::lock_guard lock(s.mutex);
    std::vector<spdlog::sink_ptr> sinks;
    const bool json = options.format == "json";
    if (options.file.empty() || options.console) {
        auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        console->set_formatter(makeFormatter(json));
        sinks.push_back(console);
    }
    if (!options.file.empty()) {
        auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(options.file, options.maxFileBytes,
                                                                            options.maxFiles);
        file->set_formatter(makeFormatter(json));
        sinks.push_back(file);
    }
    s.sinks = std::move(sinks);
    s.json = json;
    s.level = parseLevel(options.level).value_or(spdlog::level::info);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
        l->sinks() = s.sinks;
        l->set_level(s.level);
    });
    spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> Logging::get(const std::string& name)
{
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    auto& s = state();
    std::lock_guard lock(s.mutex);
    if (auto existing = spdlog::get(name)) {
        return existing;
    }
    ensureDefaultSinks(s);
    auto logger = std::make_shared<spdlog::logger>(name, s.sinks.begin(), s.sinks.end());
    logger->set_level(s.level);
    spdlog::register_logger(logger);
    return logger;
}

bool Logging::setLevel(const std::string& name, std::string_view level)
{
    auto parsed = parseLevel(level);
    if (!parsed) {
        return false;
    }
    get(name)->set_level(*parsed);
    return true;
}

bool Logging::setDefaultLevel(std::string_view level)
{
    auto parsed = parseLevel(level);
    if (!parsed) {
        return false;
    }
    auto& s = state();
    std::lock_guard lock(s.mutex);
    s.level = *parsed;
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(*parsed); });
    return true;
}

std::vector<std::pair<std::string, std::string>> Logging::list()
{
    std::vector<std::pair<std::string, std::string>> out;
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
        auto sv = spdlog::level::to_string_view(l->level());
        out.emplace_back(l->name(), std::string(sv.data(), sv.size()));
    });
    return out;
}

void Logging::flush()
{
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
}

}  // namespace nautilus::relay
