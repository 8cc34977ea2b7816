// Tensor operators at the sizes the AG-CNN trains with (batch 16, 32 channels, 150 x 150):
// elementwise and broadcasting binaries, reductions, softmax, a fused forward + backward of an
// attention-style product, the AG-CNN's first attention gate fused and as the chain of operators
// it replaces, and the fixed cost of one tiny recorded operator. Counter GB/s counts bytes read
// plus bytes written once each.
//
//   bench_tensor_ops --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace {

using radgal::Generator;
using radgal::Shape;
using radgal::Tensor;

const Shape kActivation = {16, 32, 150, 150};
const Shape kAttention = {16, 1, 150, 150};

void set_bytes(benchmark::State& state, int64_t floats_moved) {
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(floats_moved) * 4 / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_add_same_shape(benchmark::State& state) {
  Generator gen(1);
  const Tensor a = Tensor::randn(kActivation, gen), b = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::add(a, b));
  set_bytes(state, 3 * a.numel());
}

void BM_mul_broadcast_attention(benchmark::State& state) {
  Generator gen(2);
  const Tensor x = Tensor::randn(kActivation, gen), att = Tensor::randn(kAttention, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::mul(x, att));
  set_bytes(state, 2 * x.numel() + att.numel());
}

void BM_relu(benchmark::State& state) {
  Generator gen(3);
  const Tensor x = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::relu(x));
  set_bytes(state, 2 * x.numel());
}

void BM_sigmoid(benchmark::State& state) {
  Generator gen(4);
  const Tensor x = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::sigmoid(x));
  set_bytes(state, 2 * x.numel());
}

void BM_sum_all(benchmark::State& state) {
  Generator gen(5);
  const Tensor x = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::sum(x));
  set_bytes(state, x.numel());
}

void BM_sum_channels(benchmark::State& state) {  // the broadcast-gradient reduction of a bias
  Generator gen(6);
  const Tensor x = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::sum(x, {0, 2, 3}));
  set_bytes(state, x.numel());
}

void BM_sum_over_channels(benchmark::State& state) {  // gradient of the attention broadcast
  Generator gen(7);
  const Tensor x = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::sum(x, {1}, true));
  set_bytes(state, x.numel());
}

void BM_softmax_spatial(benchmark::State& state) {
  Generator gen(8);
  const Tensor x = Tensor::randn({16, 32, 150 * 150}, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::softmax(x, 2));
  set_bytes(state, 2 * x.numel());
}

void BM_softmax_channels(benchmark::State& state) {
  Generator gen(9);
  const Tensor x = Tensor::randn(kActivation, gen);
  for (auto _ : state) benchmark::DoNotOptimize(radgal::softmax(x, 1));
  set_bytes(state, 2 * x.numel());
}

void BM_attention_forward_backward(benchmark::State& state) {
  Generator gen(10);
  Tensor x = Tensor::randn(kActivation, gen), att = Tensor::randn(kAttention, gen);
  x.set_requires_grad();
  att.set_requires_grad();
  for (auto _ : state) {
    radgal::sum(radgal::mul(x, radgal::sigmoid(att))).backward();
    x.zero_grad();
    att.zero_grad();
  }
}

// The AG-CNN's first gate at batch 16: x (16, 6, 150, 150) gated by an (16, 64, 18, 18) grid,
// scores forward and backward into all five inputs. Arg 0: the chain theta conv, upsample, add,
// relu, psi conv (what nn/models.cpp used before); arg 1: attention_gate_scores.
void BM_attention_gate_scores(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  Generator gen(9);
  auto leaf = [&](const Shape& s) {
    Tensor t = Tensor::uniform(s, gen, -1.f, 1.f);
    t.set_requires_grad();
    return t;
  };
  Tensor x = leaf({16, 6, 150, 150}), theta = leaf({64, 6, 1, 1}), phi = leaf({16, 64, 18, 18});
  Tensor psi_w = leaf({1, 64, 1, 1}), psi_b = leaf({1});
  const Tensor weights = Tensor::uniform({16, 1, 150, 150}, gen);
  for (auto _ : state) {
    Tensor scores;
    if (fused) {
      scores = radgal::attention_gate_scores(x, theta, phi, psi_w, psi_b);
    } else {
      const Tensor up = radgal::upsample_bilinear2d(phi, 150, 150, false);
      scores = radgal::conv2d(radgal::relu(radgal::conv2d(x, theta, Tensor()) + up), psi_w, psi_b);
    }
    radgal::sum(scores * weights).backward();
    for (Tensor* t : {&x, &theta, &phi, &psi_w, &psi_b}) t->zero_grad();
  }
  state.SetLabel(fused ? "fused" : "chain");
  state.counters["img/s"] =
      benchmark::Counter(16, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_tiny_op_overhead(benchmark::State& state) {
  Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({2, 3});
  a.set_requires_grad();
  for (auto _ : state) radgal::sum(radgal::add(a, b)).backward();
}

}  // namespace

BENCHMARK(BM_add_same_shape)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mul_broadcast_attention)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_relu)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sigmoid)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sum_all)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sum_channels)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sum_over_channels)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax_spatial)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax_channels)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_forward_backward)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_gate_scores)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tiny_op_overhead)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
