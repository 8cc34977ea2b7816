// Training and inference throughput of the classifiers at the shapes the real runs use: one
// training step (forward, cross-entropy, backward, optimiser update) and one evaluation-mode
// forward pass, on (batch, 1, 150, 150) inputs. Reports images per second (wall clock, all
// threads) and per CPU-second (see bench_counters.h for why both).
//
//   OMP_NUM_THREADS=2 bench_training --benchmark_filter=agcnn
//
// bench/compare_pytorch.py runs this next to the same network in PyTorch.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_counters.h"
#include "nn/models.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/optim.h"

namespace {

using radgal::Tensor;

radgal::nn::ModelConfig config_for(const std::string& arch, const std::string& norm) {
  radgal::nn::ModelConfig c;
  c.arch = arch;
  c.norm = norm;
  c.aggregation = arch == "agcnn" ? "ft" : c.aggregation;
  return c;
}

// A batch of sparse images like MiraBest's: background -1, a few bright blobs.
Tensor fake_batch(int64_t n, int64_t side, radgal::Generator& gen) {
  std::vector<float> v(static_cast<size_t>(n * side * side), -1.f);
  for (int64_t i = 0; i < n; ++i) {
    for (int blob = 0; blob < 3; ++blob) {
      const int64_t cx = 40 + int64_t(gen.below(70)), cy = 40 + int64_t(gen.below(70));
      for (int64_t y = cy - 6; y <= cy + 6; ++y)
        for (int64_t x = cx - 6; x <= cx + 6; ++x) v[(i * side + y) * side + x] = gen.uniform();
    }
  }
  return Tensor::from_vector(v, {n, 1, side, side});
}

void set_image_counters(benchmark::State& state, int64_t batch, double cpu_seconds) {
  const double images = double(batch) * double(state.iterations());
  state.counters["img_per_s"] =
      benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["img_per_cpu_s"] = cpu_seconds > 0 ? images / cpu_seconds : 0.0;
}

void train_step(benchmark::State& state, const std::string& arch, const std::string& norm) {
  const int64_t batch = state.range(0);
  radgal::Generator gen(1);
  auto model = radgal::nn::make_model(config_for(arch, norm), gen);
  model->train();
  radgal::AdamW optimizer(model->parameters(), 1e-3, 0.9, 0.999, 1e-8, 1e-4);
  const Tensor x = fake_batch(batch, 150, gen);
  std::vector<int64_t> targets(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) targets[i] = i % 2;

  const double cpu_start = radgal::bench::process_cpu_seconds();
  for (auto _ : state) {
    optimizer.zero_grad();
    Tensor loss = radgal::cross_entropy(model->forward(x).logits, targets);
    loss.backward();
    optimizer.step();
    benchmark::DoNotOptimize(loss.item());
  }
  set_image_counters(state, batch, radgal::bench::process_cpu_seconds() - cpu_start);
}

void inference(benchmark::State& state, const std::string& arch, const std::string& norm) {
  const int64_t batch = state.range(0);
  radgal::Generator gen(1);
  auto model = radgal::nn::make_model(config_for(arch, norm), gen);
  model->eval();
  const Tensor x = fake_batch(batch, 150, gen);
  radgal::NoGradGuard no_grad;
  const double cpu_start = radgal::bench::process_cpu_seconds();
  for (auto _ : state) {
    Tensor logits = model->forward(x).logits;
    benchmark::DoNotOptimize(logits.data());
  }
  set_image_counters(state, batch, radgal::bench::process_cpu_seconds() - cpu_start);
}

}  // namespace

BENCHMARK_CAPTURE(train_step, agcnn_range_norm, "agcnn", "range_norm")
    ->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, agcnn_softmax, "agcnn", "softmax")
    ->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(inference, agcnn_range_norm, "agcnn", "range_norm")
    ->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(inference, agcnn_softmax, "agcnn", "softmax")
    ->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, cnn, "cnn", "range_norm")
    ->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
