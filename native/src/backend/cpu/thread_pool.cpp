#include "backend/cpu/thread_pool.h"

#include <algorithm>
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
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little (the next op of a decode step usually follows within microseconds), then sleep.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spins = 0; gen == seen && spins < 20000; ++spins) {
      HYBRID_PAUSE();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    if (index < active_) (*job_)(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  job_ = &fn;
  active_ = n_threads_;
  pending_.store(n_threads_ - 1, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  fn(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0 && spins < 200000; ++spins) HYBRID_PAUSE();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  job_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t useful = std::min<int64_t>(n_threads_, (n + grain - 1) / grain);
  if (useful <= 1) {
    fn(0, n, 0);
    return;
  }
  run([&](int t) {
    if (t >= useful) return;
    int64_t begin = n * t / useful, end = n * (t + 1) / useful;
    if (begin < end) fn(begin, end, t);
  });
}

}  // namespace hybrid::cpu
