// The CLI's command table. Each command lives in its own cli/cmd_*.cpp and registers itself with
// HYBRID_CLI_COMMAND; main.cpp only dispatches. Flags, once published, stay stable (DEVELOPERS.md).
#pragma once
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <climits>
#include <cstdint>
#include <vector>

#include "backend/cuda/cuda_engine.h"
#include "runtime/engine.h"

namespace hybrid::cli {

class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& msg) : std::runtime_error(msg) {}
};

// Parsed arguments: positionals, boolean flags (--json) and options with a value (--text T).
struct Args {
  std::vector<std::string> positional;
  std::set<std::string> flags;
  std::map<std::string, std::string> options;

  static Args parse(const std::vector<std::string>& argv, const std::vector<std::string>& boolean_flags) {
    Args a;
    std::set<std::string> bools(boolean_flags.begin(), boolean_flags.end());
    for (size_t i = 0; i < argv.size(); ++i) {
      const std::string& s = argv[i];
      if (s.size() > 2 && s.compare(0, 2, "--") == 0) {
        std::string name = s.substr(2), value;
        size_t eq = name.find('=');
        bool has_value = eq != std::string::npos;
        if (has_value) { value = name.substr(eq + 1); name = name.substr(0, eq); }
        if (bools.count(name)) {
          if (has_value) throw UsageError("--" + name + " takes no value");
          a.flags.insert(name);
        } else {
          if (!has_value) {
            if (i + 1 >= argv.size()) throw UsageError("--" + name + " needs a value");
            value = argv[++i];
          }
          a.options[name] = value;
        }
      } else if (s.size() == 2 && s[0] == '-' && std::isalpha(static_cast<unsigned char>(s[1]))) {
        // short option with a value, e.g. -n 64
        if (i + 1 >= argv.size()) throw UsageError(s + " needs a value");
        a.options[s.substr(1)] = argv[++i];
      } else {
        a.positional.push_back(s);
      }
    }
    return a;
  }
  bool flag(const std::string& name) const { return flags.count(name) != 0; }
  bool has(const std::string& name) const { return options.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  long long get_int(const std::string& name, long long fallback) const {
    auto it = options.find(name);
    if (it == options.end()) return fallback;
    try {
      size_t used = 0;
      long long v = std::stoll(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument("trailing");
      return v;
    } catch (const std::exception&) {
      throw UsageError("--" + name + " expects an integer, got '" + it->second + "'");
    }
  }
  double get_double(const std::string& name, double fallback) const {
    auto it = options.find(name);
    if (it == options.end()) return fallback;
    try {
      size_t used = 0;
      double v = std::stod(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument("trailing");
      return v;
    } catch (const std::exception&) {
      throw UsageError("--" + name + " expects a number, got '" + it->second + "'");
    }
  }
  // "1,2,3" -> {1,2,3}
  std::vector<int32_t> get_int_list(const std::string& name) const {
    std::vector<int32_t> out;
    std::string s = get(name);
    size_t pos = 0;
    while (pos <= s.size() && !s.empty()) {
      size_t comma = s.find(',', pos);
      std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      try {
        size_t used = 0;
        long long v = std::stoll(item, &used);
        if (used != item.size() || v < INT32_MIN || v > INT32_MAX) throw std::invalid_argument("bad");
        out.push_back(static_cast<int32_t>(v));
      } catch (const std::exception&) {
        throw UsageError("--" + name + ": '" + item + "' is not an integer");
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return out;
  }
  // Rejects options the command does not know, so a typo is an error and not silently ignored.
  void allow_only(const std::vector<std::string>& known) const {
    std::set<std::string> k(known.begin(), known.end());
    for (const auto& [name, _] : options)
      if (!k.count(name)) throw UsageError("unknown option --" + name);
  }
};

struct Command {
  std::string name;
  std::string usage;  // e.g. "info MODEL [--json]"
  std::string help;
  std::vector<std::string> flags;  // boolean flags
  std::function<int(const Args&)> run;
};

inline std::vector<Command>& commands() {
  static std::vector<Command> table;
  return table;
}

struct Register {
  explicit Register(Command c) { commands().push_back(std::move(c)); }
};

// --device cpu|cuda|auto (default cpu): a CUDA engine of `max_batch` tokens per batch when the model runs on
// the GPU, else null. auto falls back to the CPU with a message on stderr; cuda without a usable GPU throws
// InputError (cmd_run.cpp).
std::unique_ptr<cuda::CudaEngine> open_device(const Args& a, const std::shared_ptr<runtime::Model>& model,
                                              int64_t max_batch);

}  // namespace hybrid::cli

#define HYBRID_CLI_CONCAT2(a, b) a##b
#define HYBRID_CLI_CONCAT(a, b) HYBRID_CLI_CONCAT2(a, b)
#define HYBRID_CLI_COMMAND(...) \
  static ::hybrid::cli::Register HYBRID_CLI_CONCAT(hybrid_cli_register_, __LINE__)(::hybrid::cli::Command{__VA_ARGS__})
