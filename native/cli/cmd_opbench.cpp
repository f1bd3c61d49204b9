// `hybrid opbench`: one op at a time, for tuning kernels (the model-level figures are `hybrid bench`).
//   opbench --op matmul --format q8_0 --rows 4096 --cols 1024 --tokens 256 [--threads T] [--reps R]
//   opbench --op read [--mb 512]                      read bandwidth with AVX2 loads and prefetch
//   opbench --op scan|conv --tokens 256 [--heads 32 --head-dim 64 --state 64 --groups 8]
//           [--path auto|seq|chunked --chunk 64 --isa best|avx2|portable]   (scan: which form; auto = what ssm_scan picks)
//   opbench --op forward MODEL --tokens 1             one eval of T tokens: time and thread-pool jobs
// Prints the best of --reps runs (with --threads 1 the thread's CPU time, so that a shared machine's other
// processes do not count; --wall for wall time), with GMAC/s (compute) and GB/s (weights streamed) where they apply.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/thread_pool.h"
#include "cli/commands.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "ops/gemm_kernels.h"
#include "ops/gemv_kernels.h"
#include "ops/matmul.h"
#include "ops/ssm.h"
#include "runtime/engine.h"
#include "util/json.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace {

using hybrid::cli::Args;
using hybrid::cli::UsageError;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of the calling thread: on a shared machine a single-threaded op's own time, whatever else runs.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Best of `reps` runs: wall time with several threads, the thread's CPU time with one (--wall: always wall).
bool g_cpu_time = false;
template <typename F>
double best_of(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    f();
    best = std::min(best, g_cpu_time ? thread_cpu_seconds() - c0 : seconds_since(t0));
  }
  return best;
}

void print(const Args& a, hybrid::JsonWriter& w, const std::string& text) {
  if (a.flag("json")) std::printf("%s\n", w.str().c_str());
  else std::printf("%s\n", text.c_str());
}

int op_matmul(const Args& a, hybrid::cpu::ThreadPool& pool, int reps) {
  hybrid::formats::Format f;
  if (!hybrid::formats::parse_format(a.get("format", "q8_0"), &f)) throw UsageError("unknown --format");
  const int64_t rows = a.get_int("rows", 4096), cols = a.get_int("cols", 1024), T = a.get_int("tokens", 1);
  const size_t rb = hybrid::formats::row_bytes(f, cols);
  std::vector<uint8_t> w(rb * rows);
  {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> tmp(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : tmp) v = nd(rng);
      hybrid::formats::quantize_row(f, tmp.data(), w.data() + r * rb, cols);
    }
  }
  hybrid::gguf::Tensor t;
  t.format = f;
  t.n_dims = 2;
  t.ne[0] = cols;
  t.ne[1] = rows;
  t.nelements = rows * cols;
  t.nbytes = w.size();
  t.data = w.data();
  std::vector<float> x(T * cols), y(T * rows);
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& v : x) v = nd(rng);
  hybrid::ops::MatmulScratch scratch;
  hybrid::ops::matmul(t, x.data(), T, y.data(), pool, scratch);  // warm-up (scratch, page faults)
  const double s = best_of(reps, [&] { hybrid::ops::matmul(t, x.data(), T, y.data(), pool, scratch); });
  const double gmacs = double(rows) * cols * T / s / 1e9, gbs = double(w.size()) / s / 1e9;
  const hybrid::ops::GemmKernel* gk = hybrid::ops::gemm_kernel(f);
  const char* path = T > 1 && gk && T >= gk->min_tokens ? hybrid::ops::gemm_isa() : hybrid::ops::dot4_isa();
  hybrid::JsonWriter j;
  j.begin_object().field("op", "matmul").field("format", hybrid::formats::format_name(f)).field("rows", rows);
  j.field("cols", cols).field("tokens", T).field("threads", pool.size()).field("kernel", path);
  j.field("seconds", s).field("gmacs", gmacs).field("weight_gbs", gbs).end_object();
  char text[256];
  std::snprintf(text, sizeof text, "matmul %s %lldx%lld x %lld tokens (%s, %d threads): %.3f ms, %.1f GMAC/s, %.1f GB/s of weights",
                hybrid::formats::format_name(f), (long long)rows, (long long)cols, (long long)T, path, pool.size(), s * 1e3,
                gmacs, gbs);
  print(a, j, text);
  return 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Sums (xor) the buffer with 256-bit loads, prefetching 2 KB ahead (this machine's hardware prefetchers
// alone leave bandwidth unused, as they do for the decode kernels).
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 2048), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 2048 + 64), _MM_HINT_T0);
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  return static_cast<uint64_t>(_mm256_extract_epi64(s, 0) ^ _mm256_extract_epi64(s, 3));
}
#endif

int op_read(const Args& a, hybrid::cpu::ThreadPool& pool, int reps) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const size_t n = static_cast<size_t>(a.get_int("mb", 512)) << 20;
  std::vector<uint8_t> buf(n + 64);
  uint8_t* p = buf.data() + ((64 - (reinterpret_cast<uintptr_t>(buf.data()) & 63)) & 63);
  for (size_t i = 0; i < n; i += 4096) p[i] = static_cast<uint8_t>(i);
  const int64_t chunk = 1 << 20;  // 1 MiB per task
  std::vector<uint64_t> sink(pool.size());
  const double s = best_of(reps, [&] {
    pool.parallel_chunks(static_cast<int64_t>(n / chunk), 1, [&](int64_t b, int64_t e, int t) {
      sink[t] += read_avx2(p + b * chunk, static_cast<size_t>(e - b) * chunk);
    });
  });
  hybrid::JsonWriter j;
  j.begin_object().field("op", "read").field("threads", pool.size()).field("bytes", static_cast<uint64_t>(n));
  j.field("read_gbs", n / s / 1e9).end_object();
  char text[128];
  std::snprintf(text, sizeof text, "read %.1f GB/s with %d threads (AVX2 loads, prefetch)", n / s / 1e9, pool.size());
  print(a, j, text);
  return 0;
#else
  (void)a, (void)pool, (void)reps;
  throw UsageError("--op read needs x86");
#endif
}

int op_ssm(const Args& a, hybrid::cpu::ThreadPool& pool, int reps, bool scan) {
  hybrid::ops::SsmDims d;
  d.n_head = a.get_int("heads", 32);
  d.d_inner = d.n_head * a.get_int("head-dim", 64);
  d.d_state = a.get_int("state", 64);
  d.n_group = a.get_int("groups", 8);
  d.d_conv = a.get_int("conv", 4);
  d.channels = d.d_inner + 2 * d.n_group * d.d_state;
  const int64_t T = a.get_int("tokens", 256);
  const int64_t stride = d.channels + d.n_head;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    return v;
  };
  auto xbc = rnd(T * stride), w = rnd(d.channels * d.d_conv), bias = rnd(d.channels), conv_state = rnd(d.channels * (d.d_conv - 1));
  auto dt_bias = rnd(d.n_head), A = rnd(d.n_head), D = rnd(d.n_head), state = rnd(d.d_inner * d.d_state);
  for (auto& v : A) v = -std::fabs(v);
  std::vector<float> y(T * d.d_inner);
  const std::vector<float> xbc0 = xbc;
  double s;
  // --path auto (what the engine runs: ssm_scan), seq (the recurrence), chunked (SSD, --chunk L tokens;
  // --isa best|avx2|portable: cap the kernels' instruction set)
  const std::string path = a.get("path", "auto");
  const int64_t chunk = a.get_int("chunk", hybrid::ops::kSsdChunk);
  if (path != "auto" && path != "seq" && path != "chunked") throw UsageError("--path auto|seq|chunked");
  const std::string isa_name = a.get("isa", "best");
  const hybrid::ops::SsdIsa isa = isa_name == "portable" ? hybrid::ops::SsdIsa::Portable
                                  : isa_name == "avx2"   ? hybrid::ops::SsdIsa::Avx2
                                                         : hybrid::ops::SsdIsa::Best;
  if (scan) {
    s = best_of(reps, [&] {
      const float* dt = xbc.data() + d.channels;
      if (path == "seq")
        hybrid::ops::ssm_scan_sequential(d, xbc.data(), stride, dt, stride, dt_bias.data(), A.data(), D.data(),
                                         state.data(), y.data(), T, pool);
      else if (path == "chunked")
        hybrid::ops::ssm_scan_chunked(d, xbc.data(), stride, dt, stride, dt_bias.data(), A.data(), D.data(),
                                      state.data(), y.data(), T, pool, chunk, isa);
      else
        hybrid::ops::ssm_scan(d, xbc.data(), stride, dt, stride, dt_bias.data(), A.data(), D.data(), state.data(),
                              y.data(), T, pool);
    });
  } else {
    s = best_of(reps, [&] {
      xbc = xbc0;
      hybrid::ops::ssm_conv(d, xbc.data(), T, stride, w.data(), bias.data(), conv_state.data(), pool);
    });
  }
  const double per_token_us = s / T * 1e6;
  hybrid::JsonWriter j;
  // the scan's multiply-adds of the recurrence (state update and output: 2 per state value and token)
  const double gmacs = 2.0 * d.d_inner * d.d_state * T / s / 1e9;
  std::string form = "conv";
  if (scan) {
    const bool chunked = path == "chunked" || (path == "auto" && T >= hybrid::ops::ssm_scan_chunked_min_tokens());
    form = chunked ? "chunked L=" + std::to_string(path == "chunked" ? chunk : hybrid::ops::kSsdChunk) +
                         (isa_name != "best" ? " " + isa_name : std::string())
                   : "sequential";
  }
  j.begin_object().field("op", scan ? "scan" : "conv").field("form", form).field("tokens", T).field("threads", pool.size());
  j.field("seconds", s).field("us_per_token", per_token_us);
  if (scan) j.field("recurrence_gmacs", gmacs);
  j.end_object();
  char text[200];
  std::snprintf(text, sizeof text, "%s %lld tokens (%s, %d threads): %.3f ms, %.2f us per token%s", scan ? "scan" : "conv",
                (long long)T, form.c_str(), pool.size(), s * 1e3, per_token_us,
                scan ? (", " + std::to_string(gmacs).substr(0, 5) + " GMAC/s of the recurrence").c_str() : "");
  print(a, j, text);
  return 0;
}

int op_forward(const Args& a, int threads, int reps) {
  if (a.positional.size() != 1) throw UsageError("--op forward needs a MODEL path");
  auto model = hybrid::runtime::Model::load(a.positional[0]);
  hybrid::runtime::Engine engine(model, threads);
  const int64_t T = a.get_int("tokens", 1), n_past = a.get_int("past", 64);
  const int64_t V = model->hp().n_vocab;
  std::vector<int32_t> toks(n_past + T);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7919 + 13) % V);
  std::vector<float> logits(V);
  auto state = engine.new_state(n_past + T * (reps + 1) + 1);
  engine.eval(state, toks.data(), n_past, hybrid::runtime::Logits::Last, logits.data());
  const uint64_t jobs0 = engine.pool().jobs();
  double best = 1e30;
  const bool cpu_time = threads == 1 && !a.flag("wall");
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    engine.eval(state, toks.data() + n_past, T, hybrid::runtime::Logits::Last, logits.data());
    best = std::min(best, cpu_time ? thread_cpu_seconds() - c0 : seconds_since(t0));
  }
  const double jobs = double(engine.pool().jobs() - jobs0) / reps;
  hybrid::JsonWriter j;
  j.begin_object().field("op", "forward").field("tokens", T).field("threads", engine.threads());
  j.field("seconds", best).field("tokens_per_s", T / best).field("pool_jobs_per_eval", jobs).end_object();
  char text[160];
  std::snprintf(text, sizeof text, "forward %lld tokens (%d threads): %.3f ms, %.1f tok/s, %.0f thread-pool jobs per eval",
                (long long)T, engine.threads(), best * 1e3, T / best, jobs);
  print(a, j, text);
  return 0;
}

int cmd_opbench(const Args& a) {
  a.allow_only({"op", "format", "rows", "cols", "tokens", "threads", "reps", "mb", "heads", "head-dim", "state", "groups",
                "conv", "past", "path", "chunk", "isa"});
  const std::string op = a.get("op", "matmul");
  const int threads = static_cast<int>(a.get_int("threads", 1));
  const int reps = static_cast<int>(std::max<long long>(1, a.get_int("reps", 5)));
  if (op == "forward") return op_forward(a, threads, reps);
  hybrid::cpu::ThreadPool pool(threads);
  g_cpu_time = threads == 1 && !a.flag("wall");
  if (op == "matmul") return op_matmul(a, pool, reps);
  if (op == "read") return op_read(a, pool, reps);
  if (op == "scan" || op == "conv") return op_ssm(a, pool, reps, op == "scan");
  throw UsageError("unknown --op '" + op + "' (matmul, read, scan, conv, forward)");
}

}  // namespace

HYBRID_CLI_COMMAND("opbench", "opbench --op matmul|read|scan|conv|forward [--format F --rows R --cols K --tokens T] [--threads T] --json",
                   "time one op (kernel tuning; one thread: its CPU time, unless --wall)", {"json", "wall"}, cmd_opbench);
