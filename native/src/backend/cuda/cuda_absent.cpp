// query_cuda() and the CUDA engine for builds without the CUDA backend (no nvcc at build time): the engine
// cannot be constructed, and cuda_usable() says why.
#include "build_config.h"
#if !HYBRID_HAVE_CUDA_BUILD
#include "backend/cuda/cuda_engine.h"
#include "core/system_info.h"

namespace hybrid {
CudaInfo query_cuda() {
  CudaInfo info;
  info.compiled = false;
  info.status = "this build has no CUDA backend (nvcc was not found when it was built)";
  return info;
}
}  // namespace hybrid

namespace hybrid::cuda {

namespace {
const char* kAbsent = "this build has no CUDA backend (nvcc was not found when it was built)";
[[noreturn]] void absent() { throw std::runtime_error(kAbsent); }
}  // namespace

struct CudaStateImpl {};
struct CudaEngineImpl {};

bool cuda_usable(int, std::string* why) {
  if (why) *why = kAbsent;
  return false;
}

CudaState::CudaState() = default;
CudaState::~CudaState() = default;
CudaState::CudaState(CudaState&&) noexcept = default;
CudaState& CudaState::operator=(CudaState&&) noexcept = default;
int64_t CudaState::n_past() const { return 0; }
int64_t CudaState::n_ctx() const { return 0; }

CudaEngine::CudaEngine(std::shared_ptr<runtime::Model>, int, int64_t) { absent(); }
CudaEngine::~CudaEngine() = default;
const runtime::Model& CudaEngine::model() const { absent(); }
int64_t CudaEngine::max_batch() const { absent(); }
CudaState CudaEngine::new_state(int64_t) { absent(); }
void CudaEngine::eval(CudaState&, const int32_t*, int64_t, runtime::Logits, float*) { absent(); }
int32_t CudaEngine::eval_greedy(CudaState&, const int32_t*, int64_t) { absent(); }
uint64_t CudaEngine::recurrent_bytes() const { absent(); }
void CudaEngine::save_recurrent(const CudaState&, float*) const { absent(); }
void CudaEngine::load_recurrent(CudaState&, const float*) { absent(); }
void CudaEngine::truncate(CudaState&, int64_t) { absent(); }
void CudaEngine::reserve_snapshots(CudaState&, int) { absent(); }
void CudaEngine::save_snapshot(CudaState&, int) { absent(); }
int64_t CudaEngine::restore_snapshot(CudaState&, int) { absent(); }
void* CudaEngine::alloc_snapshot(bool) { absent(); }
void CudaEngine::free_snapshot(void*, bool) noexcept {}
void CudaEngine::save_recurrent_to(const CudaState&, void*) const { absent(); }
void CudaEngine::load_recurrent_from(CudaState&, const void*) { absent(); }
void CudaEngine::reset(CudaState&) { absent(); }
std::pair<uint64_t, uint64_t> CudaEngine::device_memory() const { absent(); }
uint64_t CudaEngine::device_bytes() const { absent(); }
uint64_t CudaEngine::state_device_bytes(const CudaState&) const { absent(); }
uint64_t CudaEngine::weight_device_bytes() const { absent(); }
CudaDeviceFacts CudaEngine::device_facts() const { absent(); }
double CudaEngine::copy_bandwidth_gbs(uint64_t, int) { absent(); }
void CudaEngine::synchronize() { absent(); }
bool CudaEngine::graphs_enabled() const { absent(); }
void CudaEngine::set_graphs_enabled(bool) { absent(); }
std::vector<std::pair<std::string, double>> CudaEngine::profile_eval(CudaState&, const int32_t*, int64_t) {
  absent();
  return {};
}

}  // namespace hybrid::cuda
#endif
