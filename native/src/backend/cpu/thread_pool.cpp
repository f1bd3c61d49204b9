#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HYBRID_PAUSE() _mm_pause()
#else
#define HYBRID_PAUSE() std::this_thread::yield()
#endif

namespace hybrid::cpu {

namespace {

constexpr uint64_t kClosed = 1ull << 31;
constexpr uint64_t kInside = kClosed - 1;
inline uint32_t generation(uint64_t s) { return static_cast<uint32_t>(s >> 32); }

using Clock = std::chrono::steady_clock;

// An idle worker spins (pause) this long after its last job, then yields its core to anything runnable
// until kYieldFor, then sleeps. Decode steps issue a job every few hundred microseconds at most, so
// spinning covers them; yielding keeps an oversubscribed machine (editor, builds) usable.
constexpr auto kSpinFor = std::chrono::microseconds(100);
constexpr auto kYieldFor = std::chrono::microseconds(2000);
// The caller waiting for chunks already running on other threads spins this long, then yields (the
// thread it waits for may be waiting for this very core).
constexpr auto kWaitSpinFor = std::chrono::microseconds(20);
// The oversubscription guard judges the workers every kJudgeJobs jobs and, when they cost more than they
// saved, runs the next kSoloJobs jobs on the caller alone (a few decode steps), then tries again.
constexpr int kJudgeJobs = 32;
constexpr uint64_t kSoloJobs = 256;

}  // namespace

int ThreadPool::default_threads() {
  unsigned logical = std::max(1u, std::thread::hardware_concurrency());
#if defined(__linux__)
  // Count distinct (physical id, core id) pairs: SMT siblings share a core's SIMD units, and matmul
  // threads on both siblings mostly fight over them.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    if (line.rfind("physical id", 0) == 0) phys = line.substr(line.find(':') + 1);
    else if (line.rfind("core id", 0) == 0) cores.insert({phys, line.substr(line.find(':') + 1)});
  }
  if (!cores.empty() && cores.size() <= logical) return static_cast<int>(cores.size());
#endif
  return static_cast<int>(logical);
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : default_threads()) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    state_.fetch_add(1ull << 32);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t ThreadPool::work(int thread) {
  const Job& job = job_;
  int64_t done = 0;
  for (;; ++done) {
    const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= job.n_chunks) return done;
    const int64_t b = c * job.chunk;
    (*job.fn)(b, std::min(job.n, b + job.chunk), thread);
  }
}

void ThreadPool::worker(int index) {
  uint32_t seen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (generation(s) == seen) {
      // Idle: spin, then yield, then sleep until the generation changes.
      const auto t0 = Clock::now();
      for (int i = 1;; ++i) {
        HYBRID_PAUSE();
        s = state_.load(std::memory_order_acquire);
        if (generation(s) != seen) break;
        if ((i & 63) == 0) {
          const auto idle = Clock::now() - t0;
          if (idle > kYieldFor) break;
          if (idle > kSpinFor) std::this_thread::yield();
        }
      }
      if (generation(s) == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return generation(state_.load()) != seen; });
        sleepers_.fetch_sub(1);
        continue;
      }
    }
    if (stop_.load()) return;
    seen = generation(s);
    // Join this generation's job unless it is already closed (then there is nothing left to take).
    while ((s & kClosed) == 0 && generation(s) == seen) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        work(index);
        state_.fetch_sub(1, std::memory_order_release);
        break;
      }
    }
  }
}

void ThreadPool::dispatch(const Job& job) {
  job_ = job;
  next_chunk_.store(0, std::memory_order_relaxed);
  jobs_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t s = state_.load(std::memory_order_relaxed);
  // New generation, open, nobody inside (the previous job ended with nobody inside).
  state_.store((static_cast<uint64_t>(generation(s) + 1)) << 32);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  const auto t0 = Clock::now();
  const int64_t mine = work(0);
  const auto t1 = Clock::now();
  // No chunk is left to take: close the job to late joiners and wait for the chunks still running.
  uint64_t now = state_.fetch_or(kClosed, std::memory_order_acq_rel) | kClosed;
  if ((now & kInside) != 0) {
    for (int i = 1; (state_.load(std::memory_order_acquire) & kInside) != 0; ++i) {
      if ((i & 63) == 0 && Clock::now() - t1 > kWaitSpinFor) std::this_thread::yield();
      else HYBRID_PAUSE();
    }
  }
  job_ = Job();
  // Oversubscription guard: what did the workers cost against the caller doing every chunk itself?
  if (mine > 0) {
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    const double alone = std::chrono::duration<double>(t1 - t0).count() * static_cast<double>(job.n_chunks) / mine;
    cost_balance_ += took - alone;
    if (++jobs_judged_ == kJudgeJobs) {
      if (cost_balance_ > 0) solo_until_ = jobs_.load(std::memory_order_relaxed) + kSoloJobs;
      cost_balance_ = 0;
      jobs_judged_ = 0;
    }
  }
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  parallel_chunks(n_threads_, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) fn(static_cast<int>(i));
  });
}

void ThreadPool::parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  if (n_threads_ == 1 || n_chunks == 1) {
    fn(0, n, 0);
    return;
  }
  if (jobs_.load(std::memory_order_relaxed) < solo_until_) {  // the guard says: the caller alone
    jobs_.fetch_add(1, std::memory_order_relaxed);
    for (int64_t b = 0; b < n; b += chunk) fn(b, std::min(n, b + chunk), 0);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  job.chunk = chunk;
  job.n_chunks = n_chunks;
  dispatch(job);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n < 2 * grain) {
    fn(0, n, 0);
    return;
  }
  // About four chunks per thread: enough for one thread to take over from a preempted one, few enough
  // that taking a chunk (one atomic add) costs nothing next to running it.
  const int64_t target = static_cast<int64_t>(n_threads_) * 4;
  const int64_t chunk = std::max(grain, (n + target - 1) / target);
  parallel_chunks(n, chunk, fn);
}

}  // namespace hybrid::cpu
