// Float matrix multiply: radgal's gemm kernel at square sizes 64..1024, and large Eigen
// products whose rate is the machine's practical peak, the yardstick for every other kernel.
// FLOPs = 2 * m * n * k; counters in bench_counters.h.
//
//   bench_matmul --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/bench_counters.h"
#include "kernels/cpu/gemm.h"

namespace {

std::vector<float> random_buffer(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& e : v) e = dist(rng);
  return v;
}

// C (n, n) = A (n, n) * B (n, n), row-major, through kernels::cpu::gemm.
void radgal_gemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto a = random_buffer(n * n, 1), b = random_buffer(n * n, 2);
  std::vector<float> c(n * n);
  radgal::bench::run_with_flop_counters(state, 2.0 * n * n * n, [&] {
    radgal::kernels::cpu::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                               c.data(), n);
    benchmark::DoNotOptimize(c.data());
  });
}

// The same product written directly in Eigen (column-major, aligned, Eigen's own threads).
void eigen_gemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  radgal::bench::run_with_flop_counters(state, 2.0 * n * n * n, [&] {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  });
}

}  // namespace

BENCHMARK(radgal_gemm)
    ->Arg(64)
    ->Arg(128)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(eigen_gemm)
    ->Arg(1024)
    ->Arg(2048)
    ->Arg(3072)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
