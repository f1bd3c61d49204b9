// What this machine and this build can do: CPU features (for runtime SIMD dispatch) and CUDA devices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hybrid {

struct CpuInfo {
  std::string arch;                   // "x86_64", "aarch64", ...
  std::string brand;                  // e.g. "AMD EPYC 7B13" (empty when unknown)
  std::vector<std::string> features;  // SIMD features the kernels can dispatch on: "avx2", "fma", "avx512f", ...
  unsigned logical_cores = 0;
};

struct CudaDevice {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  uint64_t total_memory = 0;
  uint64_t free_memory = 0;
};

struct CudaInfo {
  bool compiled = false;            // the CUDA backend was built into this binary
  std::string compiled_archs;       // e.g. "80;86;89;90"
  int runtime_version = 0;          // CUDA runtime, e.g. 13000
  int driver_version = 0;           // 0 when no driver
  std::vector<CudaDevice> devices;  // empty when no usable GPU
  std::string status;               // human-readable reason when devices is empty
};

struct SystemInfo {
  std::string version;
  std::string build_type;
  CpuInfo cpu;
  CudaInfo cuda;
};

CpuInfo query_cpu();
CudaInfo query_cuda();  // never throws; no driver / no device is reported in `status`
SystemInfo query_system();
bool cpu_has(const CpuInfo& cpu, const std::string& feature);

}  // namespace hybrid

namespace hybrid {
// {"version":…,"build":…,"cpu":{…},"cuda":{…}} — the one serialization used by the CLI and the addon.
std::string system_info_json(const SystemInfo& info);
}  // namespace hybrid
