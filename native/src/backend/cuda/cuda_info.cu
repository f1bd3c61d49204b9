// Device discovery for the CUDA backend. Uses the static CUDA runtime, which loads the driver at run time:
// on a machine without a driver or GPU every call fails cleanly and the runtime falls back to the CPU.
#include <cuda_runtime.h>

#include <string>

#include "build_config.h"
#include "core/system_info.h"

namespace hybrid {

CudaInfo query_cuda() {
  CudaInfo info;
  info.compiled = true;
  info.compiled_archs = HYBRID_CUDA_ARCHS;
  cudaRuntimeGetVersion(&info.runtime_version);
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.status = info.driver_version == 0
                      ? std::string("no NVIDIA driver found (") + cudaGetErrorString(err) + ")"
                      : std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDevice d;
    d.index = i;
    d.name = prop.name;
    d.cc_major = prop.major;
    d.cc_minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    size_t free_b = 0, total_b = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_memory = free_b;
    info.devices.push_back(d);
  }
  info.status = info.devices.empty() ? "no CUDA device found" : "ok";
  return info;
}

}  // namespace hybrid
