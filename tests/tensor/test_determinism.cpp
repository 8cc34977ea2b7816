// The same seed gives bit-identical results at 1 and 2 OpenMP threads: a parallel kernel must
// split work so that no float sum depends on the thread count (each output element is summed
// by one thread in a fixed order).
#include <doctest/doctest.h>
#include <omp.h>

#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

using namespace radgal;

namespace {

// conv -> batch norm (training) -> relu -> max pool -> linear -> cross-entropy, then backward.
// Returns every forward result and gradient, flattened, in a fixed order.
std::vector<std::vector<float>> run_small_network(uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::randn({4, 3, 24, 24}, gen);
  Tensor conv_w = Tensor::randn({16, 3, 3, 3}, gen, 0.f, 0.2f);
  Tensor conv_b = Tensor::randn({16}, gen, 0.f, 0.1f);
  Tensor gamma = Tensor::uniform({16}, gen, 0.5f, 1.5f);
  Tensor beta = Tensor::randn({16}, gen, 0.f, 0.1f);
  Tensor fc_w = Tensor::randn({5, 16 * 12 * 12}, gen, 0.f, 0.02f);
  Tensor fc_b = Tensor::zeros({5});
  std::vector<Tensor*> params = {&x, &conv_w, &conv_b, &gamma, &beta, &fc_w, &fc_b};
  for (Tensor* p : params) p->set_requires_grad(true);
  Tensor running_mean = Tensor::zeros({16}), running_var = Tensor::ones({16});

  const Tensor conv = conv2d(x, conv_w, conv_b, {1, 1, 1});
  const Tensor bn = batch_norm2d(conv, gamma, beta, running_mean, running_var, true);
  const Tensor pooled = max_pool2d(relu(bn), {2, 2, 0});
  const Tensor logits = linear(flatten(pooled), fc_w, fc_b);
  Tensor loss = cross_entropy(logits, {0, 3, 4, 1}, {}, 0.1f);
  loss.backward();

  std::vector<std::vector<float>> results = {conv.to_vector(),         bn.to_vector(),
                                             logits.to_vector(),       loss.to_vector(),
                                             running_mean.to_vector(), running_var.to_vector()};
  for (Tensor* p : params) results.push_back(p->grad().to_vector());
  return results;
}

}  // namespace

TEST_CASE("determinism: 1 and 2 threads give bit-identical forward and backward") {
  const int previous = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = run_small_network(7);
  omp_set_num_threads(2);
  const auto two = run_small_network(7);
  const auto two_again = run_small_network(7);
  omp_set_num_threads(previous);

  const char* names[] = {"conv",        "batch norm", "logits",      "loss",        "running mean",
                         "running var", "grad x",     "grad conv w", "grad conv b", "grad gamma",
                         "grad beta",   "grad fc w",  "grad fc b"};
  REQUIRE(one.size() == 13);
  for (size_t i = 0; i < one.size(); ++i) {
    INFO(names[i]);
    CHECK(one[i] == two[i]);
    CHECK(two[i] == two_again[i]);
  }
}
