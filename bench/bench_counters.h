// Counters shared by the benchmark programs. The machine running them may be shared, so each
// benchmark reports two rates:
//   GFLOPS          2 * multiply-adds per wall-clock second (all threads together);
//   GFLOPS_per_cpu  the same work per second of CPU time summed over the process's threads,
//                   i.e. the rate of one fully used core. Time-sharing with other processes
//                   slows the first but hardly the second, so ratios between kernels are best
//                   read from it. Idle OpenMP threads spinning at a barrier count as CPU time.
#pragma once

#include <benchmark/benchmark.h>
#include <time.h>

namespace radgal::bench {

inline double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Runs body() once per benchmark iteration and sets both counters for `flops` per call.
template <typename Body>
void run_with_flop_counters(benchmark::State& state, double flops, Body&& body) {
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    body();
    benchmark::ClobberMemory();
  }
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  const double total = flops * static_cast<double>(state.iterations());
  state.counters["GFLOPS"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOPS_per_cpu"] = cpu_seconds > 0 ? total / cpu_seconds / 1e9 : 0.0;
}

}  // namespace radgal::bench
