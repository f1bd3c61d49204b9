// query_cuda() for builds without the CUDA backend (no nvcc at build time).
#include "build_config.h"
#if !HYBRID_HAVE_CUDA_BUILD
#include "core/system_info.h"

namespace hybrid {
CudaInfo query_cuda() {
  CudaInfo info;
  info.compiled = false;
  info.status = "this build has no CUDA backend (nvcc was not found when it was built)";
  return info;
}
}  // namespace hybrid
#endif
