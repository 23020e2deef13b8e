#include "support/HttpExposition.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

namespace nautilus::relay::test {

namespace {

bool validUtf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) {
            return false;
        }
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

}  // namespace

std::string validateExposition(const std::string& text)
{
    static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
    static const std::regex kValue(R"([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|NaN|\+Inf|-Inf)");
    if (text.empty() || text.back() != '\n') {
        return "output must end with a newline";
    }
    std::map<std::string, std::string> types;
    std::set<std::string> helps, closed, series;
    std::string current;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        const std::string where = "line " + std::to_string(n) + ": " + line;
        if (line.empty()) {
            return where + ": empty line";
        }
        if (line.rfind("# ", 0) == 0) {
            std::istringstream l(line.substr(2));
            std::string kind, name, rest;
            l >> kind >> name;
            std::getline(l, rest);
            if (!std::regex_match(name, kName)) {
                return where + ": bad metric name";
            }
            if (kind == "TYPE") {
                if (types.count(name) || closed.count(name)) {
                    return where + ": second TYPE";
                }
                static const std::set<std::string> kTypes = {" counter", " gauge", " histogram", " summary", " untyped"};
                if (!kTypes.count(rest)) {
                    return where + ": bad type";
                }
                types[name] = rest.substr(1);
            } else if (kind == "HELP") {
                if (!helps.insert(name).second) {
                    return where + ": second HELP";
                }
            }
            continue;
        }
        // sample: name{labels} value
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') {
            ++i;
        }
        const std::string name = line.substr(0, i);
        if (!std::regex_match(name, kName)) {
            return where + ": bad sample name";
        }
        std::string labels;
        if (i < line.size() && line[i] == '{') {
            ++i;
            std::set<std::string> labelNames;
            for (;;) {
                if (i < line.size() && line[i] == '}') {
                    ++i;
                    break;
                }
                std::size_t eq = line.find("=\"", i);
                if (eq == std::string::npos) {
                    return where + ": bad label";
                }
                const std::string lname = line.substr(i, eq - i);
                if (!std::regex_match(lname, std::regex("[a-zA-Z_][a-zA-Z0-9_]*")) || !labelNames.insert(lname).second) {
                    return where + ": bad or duplicate label name '" + lname + "'";
                }
                i = eq + 2;
                std::string value;
                for (;;) {
                    if (i >= line.size()) {
                        return where + ": unterminated label value";
                    }
                    const char c = line[i++];
                    if (c == '"') {
                        break;
                    }
                    if (c == '\\') {
                        if (i >= line.size() || (line[i] != '\\' && line[i] != '"' && line[i] != 'n')) {
                            return where + ": bad escape in label value";
                        }
                        value.push_back(line[i++]);
                        continue;
                    }
                    value.push_back(c);
                }
                if (!validUtf8(value)) {
                    return where + ": label value is not UTF-8";
                }
                if (i < line.size() && line[i] == ',') {
                    ++i;
                }
            }
            labels = line.substr(name.size());
        }
        if (i >= line.size() || line[i] != ' ') {
            return where + ": missing value";
        }
        const std::string value = line.substr(i + 1);
        if (!std::regex_match(value, kValue)) {
            return where + ": bad value '" + value + "'";
        }
        std::string family = name;
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            const std::string s = suffix;
            if (!types.count(family) && name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
                const std::string base = name.substr(0, name.size() - s.size());
                if (types.count(base) && (types[base] == "histogram" || types[base] == "summary")) {
                    family = base;
                }
            }
        }
        if (!types.count(family)) {
            return where + ": sample without a TYPE line before it";
        }
        if (family != current) {
            if (closed.count(family)) {
                return where + ": samples of " + family + " are not contiguous";
            }
            if (!current.empty()) {
                closed.insert(current);
            }
            current = family;
        }
        if (!series.insert(name + labels).second) {
            return where + ": duplicate series";
        }
    }
    return {};
}

}  // namespace nautilus::relay::test
