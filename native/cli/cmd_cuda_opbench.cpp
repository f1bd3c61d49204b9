// `hybrid cuda-opbench`: the CUDA matrix multiply against the device's limits.
//   cuda-opbench [--json] [--reps R] [--device I] [--quick]
// 1. copy bandwidth: cudaMemcpy device-to-device of a 1 GiB buffer, bytes read + written;
// 2. GEMV (n = 1) per weight format at Nemotron-Nano-9B-v2's shapes (K x M: 4480 x 15680, 15680 x 4480,
//    4480 x 20096 = the Mamba in_proj 2*8960 + 2*8*128 + 128): GB/s (weight + activation + output bytes)
//    and the fraction of the copy bandwidth; K-quants (whole 256-blocks per row) use K rounded up to a
//    multiple of 256. Weights rotate among copies that together exceed 4x the L2, so no run reads from L2;
// 3. GEMM TFLOP/s for n = 512 and 2048 (and 64, a short prefill chunk) at K x M = 4480 x 15680, against
//    the dense bf16 tensor-core peak of the H100/H200 (989 TFLOP/s); the mma.sync and the wmma kernels.
// Times: CUDA events, warm-up, the median of R runs (default 20). Without a CUDA device: exit 2.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "build_config.h"
#include "cli/commands.h"
#include "util/json.h"

#if HYBRID_HAVE_CUDA_BUILD
#include <cuda_runtime.h>

#include "backend/cuda/cuda_matmul.h"
#include "formats/formats.h"

namespace hybrid::cuda::mm {
void set_gemv_rows_per_warp(int r);  // gemv.cu (tuning)
void set_gemm_variant(int v);        // gemm.cu: 0 mma.sync, 1 wmma
void set_gemv_variant(int v);        // gemv_dp4a.cu: 0 f32, 1 dp4a (the default: dp4a for Q8_0 only)
void set_gemv_k_split(int ks);       // gemv.cu: warps per row group, 0 automatic, 1 or 4
}
#endif

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;

#if HYBRID_HAVE_CUDA_BUILD
using hybrid::formats::Format;
namespace hc = hybrid::cuda;
namespace hf = hybrid::formats;

constexpr double kPeakBf16 = 989e12;  // H100/H200 SXM dense bf16 tensor-core peak (datasheet)

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define CK(x) ck((x), #x)

// Median milliseconds of `reps` runs of f (after `warm` unmeasured runs), each timed with events.
template <typename F>
double median_ms(int reps, int warm, F&& f) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < warm; ++i) f(i);
  CK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a));
    f(warm + i);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CK(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void record_error(hybrid::JsonWriter& j, hybrid::JsonWriter& sj, const std::string& what, const char* err, bool json) {
  j.begin_object().field("op", what).field("error", std::string(err)).end_object();
  sj.begin_object().field("op", what).field("error", std::string(err)).end_object();
  if (!json) std::printf("%s: ERROR %s\n", what.c_str(), err);
  cudaGetLastError();
}

int64_t k_for(Format f, int64_t K) {
  const int64_t bs = hf::format_info(f).block_size;
  return K % bs == 0 ? K : (K / bs + 1) * bs;
}

// Random weights of M x K in format f, uploaded, plus copies (same layout) so that all together exceed
// min_total bytes.
struct Weights {
  std::vector<hc::DeviceMatrix> copies;
  size_t bytes = 0;  // device bytes of one copy
  ~Weights() {
    for (auto& w : copies) cudaFree(w.data);
  }
};

void make_weights(Weights& out, Format f, int64_t K, int64_t M, size_t min_total) {
  const size_t rb = hf::row_bytes(f, K);
  std::vector<uint8_t> host(rb * M);
  {
    std::mt19937 rng(static_cast<uint32_t>(K * 131 + M));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> tmp(K);
    // a few distinct random rows repeated (quantizing 70M values on one core would dominate the run)
    std::vector<uint8_t> rows(rb * 64);
    for (int r = 0; r < 64; ++r) {
      for (auto& v : tmp) v = nd(rng) * 0.05f;
      hf::quantize_row(f, tmp.data(), rows.data() + r * rb, K);
    }
    for (int64_t r = 0; r < M; ++r) std::copy_n(rows.data() + (r * 17 % 64) * rb, rb, host.data() + r * rb);
  }
  hc::DeviceMatrix w = hc::upload_matrix(f, host.data(), K, M, nullptr);
  out.copies.push_back(w);
  // the bytes one GEMV reads: rows plus scales
  size_t bytes = w.row_bytes * static_cast<size_t>(M);
  if (f == Format::Q8_0 || f == Format::Q5_0) bytes += static_cast<size_t>(K / 32) * M * (f == Format::Q5_0 ? 6 : 2);
  if (f == Format::Q6_K) bytes += static_cast<size_t>(K / 256) * M * 2;
  out.bytes = bytes;
  const size_t alloc = hc::device_matrix_bytes(w);
  while (out.copies.size() * bytes < min_total) {
    hc::DeviceMatrix c = w;
    CK(cudaMalloc(&c.data, alloc));
    CK(cudaMemcpy(c.data, w.data, alloc, cudaMemcpyDeviceToDevice));
    out.copies.push_back(c);
  }
}

struct DevBuf {
  void* p = nullptr;
  explicit DevBuf(size_t bytes) { CK(cudaMalloc(&p, bytes)); }
  ~DevBuf() { cudaFree(p); }
};

int run_bench(const Args& a) {
  a.allow_only({"reps", "device"});
  const int reps = static_cast<int>(std::max<long long>(3, a.get_int("reps", 20)));
  const bool quick = a.flag("quick");
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::fprintf(stderr, "hybrid cuda-opbench: no CUDA device (%s)\n",
                 e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none");
    return 2;
  }
  const int dev = static_cast<int>(a.get_int("device", 0));
  if (dev < 0 || dev >= count) throw UsageError("--device out of range");
  CK(cudaSetDevice(dev));
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, dev));
  const bool json = a.flag("json");
  hybrid::JsonWriter j, sj;  // sj: a compact summary, printed first (the full lists follow)
  sj.begin_array();
  j.begin_object().field("device", std::string(prop.name)).field("sm", prop.major * 10 + prop.minor);
  j.field("sms", prop.multiProcessorCount).field("l2_bytes", static_cast<int64_t>(prop.l2CacheSize));
  if (!json) std::printf("device %s (sm %d.%d, %d SMs, L2 %d MiB)\n", prop.name, prop.major, prop.minor,
                         prop.multiProcessorCount, prop.l2CacheSize >> 20);

  // 1. copy bandwidth
  double copy_gbs = 0;
  {
    const size_t bytes = size_t{1} << 30;
    DevBuf src(bytes), dst(bytes);
    CK(cudaMemset(src.p, 1, bytes));
    const double ms = median_ms(reps, 3, [&](int) { CK(cudaMemcpy(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice)); });
    copy_gbs = 2.0 * bytes / (ms * 1e-3) / 1e9;
    j.key("copy").begin_object().field("bytes", static_cast<int64_t>(bytes)).field("ms", ms).field("gb_per_s", copy_gbs).end_object();
    sj.begin_object().field("op", "copy D2D").field("gb_per_s", std::round(copy_gbs)).end_object();
    if (!json) std::printf("copy D2D %zu MiB: %.3f ms, %.1f GB/s (read + write)\n", bytes >> 20, ms, copy_gbs);
  }
  const size_t rotate = std::max<size_t>(4 * static_cast<size_t>(prop.l2CacheSize), size_t{256} << 20);

  // 2. GEMV, n = 1 (and n = 8 for reference)
  struct KM { int64_t K, M; const char* name; };
  const KM shapes[] = {{4480, 15680, "4480x15680"}, {15680, 4480, "15680x4480"}, {4480, 20096, "4480x20096"}};
  const Format gemv_fmts[] = {Format::F32, Format::F16, Format::BF16, Format::Q8_0, Format::Q5_0, Format::Q4_K, Format::Q6_K};
  j.key("gemv").begin_array();
  for (Format f : gemv_fmts) {
    for (const KM& s : shapes) {
      const int64_t K = k_for(f, s.K), M = s.M;
      Weights w;
      make_weights(w, f, K, M, rotate);
      DevBuf x(static_cast<size_t>(8) * K * 4), y(static_cast<size_t>(8) * M * 4);
      DevBuf scratch(std::max<size_t>(hc::matmul_scratch_bytes(w.copies[0], 8), 256));
      {
        std::vector<float> hx(static_cast<size_t>(8) * K);
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (auto& v : hx) v = nd(rng);
        CK(cudaMemcpy(x.p, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
      }
      for (int n : {1, 8}) {
        if (quick && n == 8) continue;
        const bool dp4a_format = f == Format::Q8_0 || f == Format::Q5_0 || f == Format::Q4_K || f == Format::Q6_K;
        // R: 0 the default choice, 2/4 rows per warp group; 100 the integer (dp4a) variant; 101/104: the
        // default R with 1 / 4 warps per row group (the K split inside the block)
        for (int R : {0, 2, 4, 101, 104, 100}) {
          if (n > 2 && R != 0) continue;
          if (R == 100 && !dp4a_format) continue;
          hybrid::cuda::mm::set_gemv_rows_per_warp(R == 2 || R == 4 ? R : 0);
          hybrid::cuda::mm::set_gemv_k_split(R == 101 ? 1 : R == 104 ? 4 : 0);
          hybrid::cuda::mm::set_gemv_variant(R == 100 ? 1 : 0);
          double ms = 0;
          try {
            ms = median_ms(reps, 3, [&](int i) {
              const auto& m = w.copies[static_cast<size_t>(i) % w.copies.size()];
              hc::matmul(m, static_cast<const float*>(x.p), n, static_cast<float*>(y.p), false, scratch.p, nullptr);
            });
          } catch (const std::exception& e) {  // record and go on (a sticky CUDA error fails what follows too)
            record_error(j, sj, std::string("gemv ") + hf::format_name(f) + " " + s.name + " n=" + std::to_string(n) +
                                    " variant " + std::to_string(R), e.what(), json);
            continue;
          }
          hybrid::cuda::mm::set_gemv_variant(0);
          const double bytes = static_cast<double>(w.bytes) + 4.0 * n * (K + M);
          const double gbs = bytes / (ms * 1e-3) / 1e9;
          j.begin_object().field("format", hf::format_name(f)).field("shape", s.name).field("K", K).field("M", M);
          j.field("n", n).field("kernel", R == 100 ? "dp4a" : R == 101 ? "f32 ks=1" : R == 104 ? "f32 ks=4" : "f32");
          j.field("rows_per_warp", R == 2 || R == 4 ? R : 0);
          j.field("us", ms * 1e3).field("gb_per_s", gbs);
          j.field("fraction_of_copy", gbs / copy_gbs).end_object();
          if (n == 1 && (R == 0 || R == 100)) {  // summary: fraction of the copy bandwidth
            char tag[96];
            std::snprintf(tag, sizeof tag, "gemv %s %s%s", hf::format_name(f), s.name, R == 100 ? " dp4a" : "");
            sj.begin_object().field("op", std::string(tag)).field("f", std::round(gbs / copy_gbs * 1000) / 1000).end_object();
          }
          if (!json)
            std::printf("gemv %-5s K=%-6lld M=%-6lld n=%d %s: %8.2f us  %7.1f GB/s  %5.1f%% of copy\n", hf::format_name(f),
                        (long long)K, (long long)M, n,
                        R == 100 ? "dp4a " : R == 101 ? "ks=1 " : R == 104 ? "ks=4 " : R ? (R == 2 ? "R=2  " : "R=4  ") : "R=def",
                        ms * 1e3, gbs,
                        100.0 * gbs / copy_gbs);
        }
      }
      hybrid::cuda::mm::set_gemv_rows_per_warp(0);
      hybrid::cuda::mm::set_gemv_k_split(0);
    }
  }
  j.end_array();

  // 3. GEMM
  j.field("peak_bf16_tflops", kPeakBf16 / 1e12);
  j.key("gemm").begin_array();
  const Format gemm_fmts[] = {Format::BF16, Format::F16, Format::Q8_0, Format::Q4_K, Format::Q6_K, Format::Q5_0};
  for (Format f : gemm_fmts) {
    const int64_t K = k_for(f, 4480), M = 15680;
    Weights w;
    make_weights(w, f, K, M, 0);
    for (int64_t n : {int64_t{64}, int64_t{512}, int64_t{2048}}) {  // 64: a short prefill chunk (split-K)
      DevBuf x(static_cast<size_t>(n) * K * 4), y(static_cast<size_t>(n) * M * 4);
      std::vector<float> hx(static_cast<size_t>(n) * K);
      std::mt19937 rng(5);
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (auto& v : hx) v = nd(rng);
      CK(cudaMemcpy(x.p, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
      DevBuf scratch(std::max<size_t>(hc::matmul_scratch_bytes(w.copies[0], n), 256));
      for (int variant : {0, 1}) {
        if (quick && variant == 1) continue;
        hybrid::cuda::mm::set_gemm_variant(variant);
        double ms = 0;
        try {
          ms = median_ms(reps, 3, [&](int) {
            hc::matmul(w.copies[0], static_cast<const float*>(x.p), n, static_cast<float*>(y.p), false, scratch.p, nullptr);
          });
        } catch (const std::exception& e) {
          record_error(j, sj, std::string("gemm ") + hf::format_name(f) + " n=" + std::to_string(n) + (variant ? " wmma" : " mma"),
                       e.what(), json);
          continue;
        }
        const double tflops = 2.0 * n * M * K / (ms * 1e-3) / 1e12;
        const char* kernel = variant ? "wmma" : "mma";
        j.begin_object().field("format", hf::format_name(f)).field("kernel", kernel).field("K", K).field("M", M).field("n", n);
        j.field("ms", ms).field("tflops", tflops).field("fraction_of_peak", tflops * 1e12 / kPeakBf16).end_object();
        if (variant == 0) {  // summary: TFLOP/s of the default kernel
          char tag[96];
          std::snprintf(tag, sizeof tag, "gemm %s n%lld", hf::format_name(f), (long long)n);
          sj.begin_object().field("op", std::string(tag)).field("tf", std::round(tflops * 10) / 10).end_object();
        }
        if (!json)
          std::printf("gemm %-5s %-4s K=%-6lld M=%-6lld n=%-5lld: %8.3f ms  %6.1f TFLOP/s  %5.1f%% of %.0f\n",
                      hf::format_name(f), kernel, (long long)K, (long long)M, (long long)n, ms, tflops,
                      100.0 * tflops * 1e12 / kPeakBf16, kPeakBf16 / 1e12);
      }
      hybrid::cuda::mm::set_gemm_variant(0);
    }
  }
  j.end_array().end_object();
  sj.end_array();
  if (json) std::printf("{\"summary\":%s,%s\n", sj.str().c_str(), j.str().c_str() + 1);
  return 0;
}
#endif

int cmd_cuda_opbench(const Args& a) {
#if HYBRID_HAVE_CUDA_BUILD
  return run_bench(a);
#else
  (void)a;
  std::fprintf(stderr, "hybrid cuda-opbench: this build has no CUDA backend (nvcc was not found when it was built)\n");
  return 2;
#endif
}

}  // namespace

HYBRID_CLI_COMMAND("cuda-opbench", "cuda-opbench [--json] [--reps R] [--device I] [--quick]",
                   "CUDA matmul: copy bandwidth, GEMV GB/s per format, GEMM TFLOP/s (needs a GPU)", {"json", "quick"},
                   cmd_cuda_opbench);
