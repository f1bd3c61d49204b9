// query_cpu()/cpu_has() for the fuzz binaries, which leave core/system_info.cpp out: clang 14 (Debian 12's
// clang) rejects its __builtin_cpu_supports("f16c") and ("avxvnni"). The features come from the kernel's
// /proc/cpuinfo instead, so the fuzzers run the same SIMD kernels the product dispatches to (none when the
// file cannot be read: the scalar paths then run).
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "core/system_info.h"

namespace hybrid {
CpuInfo query_cpu() {
  CpuInfo info;
  info.arch = "x86_64";
  info.logical_cores = 1;
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) {
      // /proc/cpuinfo spells two of them differently from the names the kernels ask for
      if (w == "avx512_vnni") w = "avx512vnni";
      else if (w == "avx_vnni") w = "avxvnni";
      if (w == "avx2" || w == "fma" || w == "f16c" || w == "avx512f" || w == "avx512bw" || w == "avx512vl" || w == "avx512vnni" ||
          w == "avxvnni")
        info.features.push_back(w);
    }
    break;
  }
  return info;
}
bool cpu_has(const CpuInfo& cpu, const std::string& feature) {
  return std::find(cpu.features.begin(), cpu.features.end(), feature) != cpu.features.end();
}
}  // namespace hybrid
