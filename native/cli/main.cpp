// The `hybrid` command-line tool: thin — parse arguments, call the core, print text or JSON.
// Exit codes: 0 ok, 1 internal error, 2 bad usage or bad input (a clear one-line message on stderr).
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/system_info.h"
#include "util/error.h"

namespace {

using hybrid::cli::Args;

int cmd_version(const Args& args) {
  hybrid::SystemInfo s = hybrid::query_system();
  if (args.flag("json")) {
    std::printf("%s\n", hybrid::system_info_json(s).c_str());
    return 0;
  }
  std::printf("hybrid %s (%s)\n", s.version.c_str(), s.build_type.c_str());
  std::string feats;
  for (const auto& f : s.cpu.features) feats += (feats.empty() ? "" : " ") + f;
  std::printf("cpu: %s %s, %u logical cores, features: %s\n", s.cpu.arch.c_str(), s.cpu.brand.c_str(),
              s.cpu.logical_cores, feats.c_str());
  if (!s.cuda.compiled) {
    std::printf("cuda: %s\n", s.cuda.status.c_str());
  } else {
    std::printf("cuda: compiled for sm %s, runtime %d, driver %d: %s\n", s.cuda.compiled_archs.c_str(),
                s.cuda.runtime_version, s.cuda.driver_version, s.cuda.status.c_str());
    for (const auto& d : s.cuda.devices)
      std::printf("  [%d] %s (sm %d.%d, %.1f GiB)\n", d.index, d.name.c_str(), d.cc_major, d.cc_minor,
                  d.total_memory / 1073741824.0);
  }
  return 0;
}

void usage(FILE* to) {
  std::fprintf(to,
               "usage: hybrid <command> [options]\n"
               "  --version [--json]        version, CPU features and CUDA devices\n");
  for (const auto& c : hybrid::cli::commands()) std::fprintf(to, "  %-25s %s\n", c.usage.c_str(), c.help.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> argv_s(argv + 1, argv + argc);
  try {
    if (argv_s.empty()) { usage(stderr); return 2; }
    if (argv_s[0] == "--help" || argv_s[0] == "-h" || argv_s[0] == "help") { usage(stdout); return 0; }
    if (argv_s[0] == "--version" || argv_s[0] == "version") {
      Args args = Args::parse(std::vector<std::string>(argv_s.begin() + 1, argv_s.end()), {"json"});
      return cmd_version(args);
    }
    for (const auto& c : hybrid::cli::commands()) {
      if (c.name == argv_s[0]) {
        Args args = Args::parse(std::vector<std::string>(argv_s.begin() + 1, argv_s.end()), c.flags);
        return c.run(args);
      }
    }
    std::fprintf(stderr, "hybrid: unknown command '%s' (see hybrid --help)\n", argv_s[0].c_str());
    return 2;
  } catch (const hybrid::cli::UsageError& e) {
    std::fprintf(stderr, "hybrid: %s\n", e.what());
    return 2;
  } catch (const hybrid::InputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hybrid: internal error: %s\n", e.what());
    return 1;
  }
}
