// Which many-token kernels this CPU runs (gemm_kernels.h). HYBRID_GEMM=avxvnni|none narrows the choice,
// for benchmarks and tests of the other paths on a machine that has AVX-512.
#include <cstdlib>
#include <cstring>

#include "core/system_info.h"
#include "ops/gemm_kernels.h"

namespace hybrid::ops {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
const GemmKernel* gemm_kernel_avx512(formats::Format f);
const GemmKernel* gemm_kernel_avxvnni(formats::Format f);
QuantizeFn quantize_kernel_avx512(formats::Format w);
QuantizeFn quantize_kernel_avxvnni(formats::Format w);

namespace {
enum class GemmIsa { None, AvxVnni, Avx512 };

GemmIsa gemm_isa_choice() {
  static const GemmIsa isa = [] {
    const CpuInfo cpu = query_cpu();
    const bool avx2 = cpu_has(cpu, "avx2") && cpu_has(cpu, "fma") && cpu_has(cpu, "f16c");
    const bool avx512 = avx2 && cpu_has(cpu, "avx512f") && cpu_has(cpu, "avx512bw") && cpu_has(cpu, "avx512vl") &&
                        cpu_has(cpu, "avx512vnni");
    const bool avxvnni = avx2 && cpu_has(cpu, "avxvnni");
    const char* want = std::getenv("HYBRID_GEMM");
    if (want && std::strcmp(want, "none") == 0) return GemmIsa::None;
    if (want && std::strcmp(want, "avxvnni") == 0) return avxvnni ? GemmIsa::AvxVnni : GemmIsa::None;
    return avx512 ? GemmIsa::Avx512 : avxvnni ? GemmIsa::AvxVnni : GemmIsa::None;
  }();
  return isa;
}
}  // namespace

const GemmKernel* gemm_kernel(formats::Format f) {
  switch (gemm_isa_choice()) {
    case GemmIsa::Avx512: return gemm_kernel_avx512(f);
    case GemmIsa::AvxVnni: return gemm_kernel_avxvnni(f);
    default: return nullptr;
  }
}

QuantizeFn quantize_kernel(formats::Format w) {
  switch (gemm_isa_choice()) {
    case GemmIsa::Avx512: return quantize_kernel_avx512(w);
    case GemmIsa::AvxVnni: return quantize_kernel_avxvnni(w);
    default: return nullptr;
  }
}

const char* gemm_isa() {
  switch (gemm_isa_choice()) {
    case GemmIsa::Avx512: return "avx512vnni";
    case GemmIsa::AvxVnni: return "avxvnni";
    default: return "none";
  }
}

#else

const GemmKernel* gemm_kernel(formats::Format) { return nullptr; }
QuantizeFn quantize_kernel(formats::Format) { return nullptr; }
const char* gemm_isa() { return "none"; }

#endif

}  // namespace hybrid::ops
