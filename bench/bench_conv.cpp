// conv2d forward, backward_input and backward_weight at the shapes of the 150x150
// single-channel CNN (AG-CNN trunk): 3x3 pad-1 and 1x1 kernels, batch 1 and 16.
// FLOPs = 2 * multiply-adds, padding positions counted as usual; counters in bench_counters.h.
//
// Also: both algorithms of conv_algorithms.h side by side at batch 16, and a large Eigen GEMM
// (the practical peak) in the same run.
//
//   bench_conv --benchmark_min_time=0.2 --benchmark_filter=forward
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_counters.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_algorithms.h"

namespace {

using radgal::kernels::cpu::Conv2dShape;

enum class Direction { forward, backward_input, backward_weight };

const char* name_of(Direction d) {
  switch (d) {
    case Direction::forward:
      return "forward";
    case Direction::backward_input:
      return "backward_input";
    case Direction::backward_weight:
      return "backward_weight";
  }
  return "?";
}

std::vector<float> random_buffer(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& e : v) e = dist(rng);
  return v;
}

void run_conv(benchmark::State& state, Conv2dShape s, Direction direction) {
  const int64_t x_size = s.n * s.c_in * s.h * s.w;
  const int64_t w_size = s.c_out * s.c_in * s.kh * s.kw;
  const int64_t y_size = s.n * s.c_out * s.out_h() * s.out_w();
  const auto x = random_buffer(x_size, 1);
  const auto w = random_buffer(w_size, 2);
  const auto b = random_buffer(s.c_out, 3);
  const auto dy = random_buffer(y_size, 4);
  std::vector<float> y(y_size), dx(x_size), dw(w_size), db(s.c_out);

  const double macs = static_cast<double>(s.n * s.c_out * s.out_h() * s.out_w()) *
                      static_cast<double>(s.c_in * s.kh * s.kw);
  radgal::bench::run_with_flop_counters(state, 2.0 * macs, [&] {
    switch (direction) {
      case Direction::forward:
        radgal::kernels::cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
        benchmark::DoNotOptimize(y.data());
        break;
      case Direction::backward_input:
        radgal::kernels::cpu::conv2d_backward_input(s, dy.data(), w.data(), dx.data());
        benchmark::DoNotOptimize(dx.data());
        break;
      case Direction::backward_weight:
        radgal::kernels::cpu::conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
        benchmark::DoNotOptimize(dw.data());
        break;
    }
  });
}

// The two algorithms behind conv.h side by side, whichever conv.h would pick.
void run_algorithm(benchmark::State& state, Conv2dShape s, bool direct, bool weight_gradient) {
  namespace cpu = radgal::kernels::cpu;
  const cpu::ConvGeometry g = cpu::conv_geometry(s);
  const auto x = random_buffer(s.n * s.c_in * s.h * s.w, 1);
  const auto w = random_buffer(s.c_out * s.c_in * s.kh * s.kw, 2);
  const auto dy = random_buffer(s.n * s.c_out * s.out_h() * s.out_w(), 4);
  std::vector<float> y(dy.size()), dw(w.size());
  const double macs = static_cast<double>(s.n * s.c_out * s.out_h() * s.out_w()) *
                      static_cast<double>(s.c_in * s.kh * s.kw);
  radgal::bench::run_with_flop_counters(state, 2.0 * macs, [&] {
    if (weight_gradient)
      (direct ? cpu::direct_conv_backward_weight : cpu::im2col_conv_backward_weight)(
          g, x.data(), dy.data(), dw.data());
    else
      (direct ? cpu::direct_conv_forward : cpu::im2col_conv_forward)(g, x.data(), w.data(), nullptr,
                                                                     y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dw.data());
  });
}

// A large Eigen product in the same run: the practical peak the conv rates are read against.
void run_peak(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  radgal::bench::run_with_flop_counters(state, 2.0 * n * n * n, [&] {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  });
}

struct Layer {
  int64_t c_in, c_out, size;
};

// Channel pairs of the trunk at their natural resolution.
const Layer kLayers[] = {{1, 6, 150},  {6, 6, 150},  {6, 16, 75},  {16, 16, 75},
                         {16, 32, 37}, {32, 32, 37}, {32, 64, 18}, {64, 64, 18}};

void register_all() {
  benchmark::RegisterBenchmark("peak/eigen_gemm", run_peak)
      ->Arg(2048)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (Direction direction :
       {Direction::forward, Direction::backward_input, Direction::backward_weight}) {
    for (int64_t kernel : {3, 1}) {
      for (int64_t batch : {1, 16}) {
        for (const Layer& l : kLayers) {
          Conv2dShape s{batch, l.c_in, l.size, l.size, l.c_out, kernel, kernel};
          s.pad = kernel / 2;
          const std::string name = std::string("conv2d_") + name_of(direction) + "/k" +
                                   std::to_string(kernel) + "/n" + std::to_string(batch) + "/" +
                                   std::to_string(l.c_in) + "->" + std::to_string(l.c_out) + "@" +
                                   std::to_string(l.size);
          benchmark::RegisterBenchmark(name.c_str(), run_conv, s, direction)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
  }
  for (bool weight_gradient : {false, true}) {
    for (const Layer& l : kLayers) {
      for (bool direct : {false, true}) {
        Conv2dShape s{16, l.c_in, l.size, l.size, l.c_out, 3, 3};
        s.pad = 1;
        const std::string name =
            std::string("algorithm/") + (weight_gradient ? "backward_weight" : "forward") + "/" +
            (direct ? "direct" : "im2col") + "/k3/n16/" + std::to_string(l.c_in) + "->" +
            std::to_string(l.c_out) + "@" + std::to_string(l.size);
        benchmark::RegisterBenchmark(name.c_str(), run_algorithm, s, direct, weight_gradient)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
