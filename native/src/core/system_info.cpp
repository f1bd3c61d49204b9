#include "core/system_info.h"

#include <algorithm>
#include <thread>

#include "build_config.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <cstring>
#endif

namespace hybrid {

CpuInfo query_cpu() {
  CpuInfo info;
  info.logical_cores = std::max(1u, std::thread::hardware_concurrency());
#if defined(__x86_64__) || defined(__i386__)
  info.arch = sizeof(void*) == 8 ? "x86_64" : "x86";
  __builtin_cpu_init();
  // The names are GCC/Clang's __builtin_cpu_supports names, which also check OS support (XSAVE state).
#define HYBRID_FEATURE(name) \
  if (__builtin_cpu_supports(name)) info.features.push_back(name)
  HYBRID_FEATURE("sse4.2");
  HYBRID_FEATURE("avx");
  HYBRID_FEATURE("f16c");
  HYBRID_FEATURE("fma");
  HYBRID_FEATURE("avx2");
  HYBRID_FEATURE("avx512f");
  HYBRID_FEATURE("avx512bw");
  HYBRID_FEATURE("avx512vl");
  HYBRID_FEATURE("avx512vnni");
  HYBRID_FEATURE("avx512bf16");
  HYBRID_FEATURE("avxvnni");
#undef HYBRID_FEATURE
  unsigned regs[12] = {};
  if (__get_cpuid(0x80000000u, &regs[0], &regs[1], &regs[2], &regs[3]) && regs[0] >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      unsigned a = 0, b = 0, c = 0, d = 0;
      __get_cpuid(0x80000002u + leaf, &a, &b, &c, &d);
      std::memcpy(brand + leaf * 16 + 0, &a, 4);
      std::memcpy(brand + leaf * 16 + 4, &b, 4);
      std::memcpy(brand + leaf * 16 + 8, &c, 4);
      std::memcpy(brand + leaf * 16 + 12, &d, 4);
    }
    std::string s(brand);
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    info.brand = s;
  }
#elif defined(__aarch64__)
  info.arch = "aarch64";
  info.features.push_back("neon");
#else
  info.arch = "unknown";
#endif
  return info;
}

bool cpu_has(const CpuInfo& cpu, const std::string& feature) {
  return std::find(cpu.features.begin(), cpu.features.end(), feature) != cpu.features.end();
}

SystemInfo query_system() {
  SystemInfo s;
  s.version = HYBRID_VERSION;
  s.build_type = HYBRID_BUILD_TYPE;
  s.cpu = query_cpu();
  s.cuda = query_cuda();
  return s;
}

}  // namespace hybrid

#include "util/json.h"

namespace hybrid {

std::string system_info_json(const SystemInfo& s) {
  JsonWriter w;
  w.begin_object();
  w.field("version", s.version);
  w.field("build", s.build_type);
  w.key("cpu").begin_object();
  w.field("arch", s.cpu.arch);
  w.field("brand", s.cpu.brand);
  w.field("logicalCores", s.cpu.logical_cores);
  w.key("features").begin_array();
  for (const auto& f : s.cpu.features) w.value(f);
  w.end_array();
  w.end_object();
  w.key("cuda").begin_object();
  w.field("compiled", s.cuda.compiled);
  w.field("archs", s.cuda.compiled_archs);
  w.field("runtimeVersion", s.cuda.runtime_version);
  w.field("driverVersion", s.cuda.driver_version);
  w.field("status", s.cuda.status);
  w.key("devices").begin_array();
  for (const auto& d : s.cuda.devices) {
    w.begin_object();
    w.field("index", d.index);
    w.field("name", d.name);
    w.field("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
    w.field("totalMemory", d.total_memory);
    w.field("freeMemory", d.free_memory);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.end_object();
  return w.str();
}

}  // namespace hybrid
