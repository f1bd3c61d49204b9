// Error checking for the CUDA engine: every runtime call goes through HYBRID_CUDA_CHECK, which throws
// std::runtime_error with the file, line, the call and cudaGetErrorString; kernel launches are followed by
// HYBRID_CUDA_LAUNCH_CHECK() (launch configuration errors surface there).
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace hybrid::cuda {

[[noreturn]] inline void cuda_fail(cudaError_t e, const char* call, const char* file, int line) {
  std::string f = file;
  const size_t slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  throw std::runtime_error("CUDA error at " + f + ":" + std::to_string(line) + " (" + call +
                           "): " + cudaGetErrorString(e));
}

}  // namespace hybrid::cuda

#define HYBRID_CUDA_CHECK(call)                                                      \
  do {                                                                               \
    const cudaError_t hybrid_err_ = (call);                                          \
    if (hybrid_err_ != cudaSuccess) {                                                \
      cudaGetLastError();                                                            \
      ::hybrid::cuda::cuda_fail(hybrid_err_, #call, __FILE__, __LINE__);             \
    }                                                                                \
  } while (0)

#define HYBRID_CUDA_LAUNCH_CHECK() HYBRID_CUDA_CHECK(cudaGetLastError())
