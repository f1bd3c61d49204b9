// One persistent pool of CPU threads for all compute. The caller thread takes part (thread index 0), so
// a pool of n threads starts n-1 workers.
//
// Work is handed out in chunks from a shared counter, not in one fixed range per thread: on a machine
// where the pool's threads share cores with an editor, a build or another process, a worker that the OS
// has not scheduled yet simply takes fewer chunks and the caller (or the other workers) take the rest;
// nobody waits for a thread that has not started. The caller only waits for chunks already being run.
//
// Idle workers spin for a short time (the next op of a decode step usually follows within tens of
// microseconds), then yield, then sleep on a condition variable; a job never waits for a sleeper to wake.
//
// When the machine is oversubscribed, a worker can still be preempted in the middle of a chunk, and the
// caller then waits for the OS to run it again. The pool measures this: per job it compares the time the
// job took with what the caller alone would have needed (its own time per chunk times the chunks), and
// when the threads have cost more than they saved over recent jobs it runs the following jobs on the
// caller alone for a while, then tries the workers again. On a quiet machine this never triggers.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hybrid::cpu {

class ThreadPool {
 public:
  // n_threads <= 0: one per physical core as far as we can tell (logical cores / 2 when SMT, at least 1).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(i) once for every i < size(), concurrently where threads are free, and waits for all. Two
  // calls never share an index at the same time, so i may select per-thread scratch.
  void run(const std::function<void(int index)>& fn);

  // Splits [0, n) into contiguous chunks of at least `grain` items and runs fn(begin, end, thread) for
  // each, on whichever thread takes it; a thread may run several chunks (so per-thread results must be
  // accumulated, not assigned). `thread` < size() identifies the running thread (e.g. for per-thread
  // scratch). Small n (fewer than two grains) runs inline on the caller. Returns when all chunks are done.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  // parallel_for with the chunk size given exactly (the last chunk may be shorter): for callers whose
  // chunks must be aligned to a tile.
  void parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  // How many jobs were handed to the workers since the pool started (each one a synchronisation of all
  // threads; for benchmarks that count barriers per token).
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

  static int default_threads();

 private:
  struct Job {
    const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
    int64_t n = 0, chunk = 1, n_chunks = 0;
  };
  void worker(int index);
  int64_t work(int thread);  // take chunks of the current job until none are left; returns how many
  void dispatch(const Job& job);

  int n_threads_;
  std::vector<std::thread> workers_;
  Job job_;
  // state_: generation (high 32 bits) | closed flag (bit 31) | threads inside the job (low 31 bits).
  // A worker joins a job only by a compare-and-swap against the state of that very generation, so it can
  // never join a job that the caller has already closed and returned from.
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> jobs_{0};
  // Oversubscription guard (caller thread only): seconds the workers cost (+) or saved (-) over the
  // jobs since the last verdict, and the job count until which jobs run on the caller alone.
  double cost_balance_ = 0.0;
  int jobs_judged_ = 0;
  uint64_t solo_until_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace hybrid::cpu
