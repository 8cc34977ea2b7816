// Gradient checks of the network operators: softmax and cross-entropy, convolution, pooling,
// batch norm, dropout, bilinear resizing and the fused attention-gate scores, over
// padding/stride/dilation variants and awkward sizes.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "gradcheck.h"

using namespace radgal;
using namespace radgal::testing;

namespace {

std::string conv_name(const Shape& x, const Shape& w, bool bias, const Conv2dOptions& o) {
  return "conv2d x " + shape_to_string(x) + " w " + shape_to_string(w) + (bias ? " bias" : "") +
         " stride " + std::to_string(o.stride) + " padding " + std::to_string(o.padding) +
         " dilation " + std::to_string(o.dilation);
}

std::string pool_name(const std::string& op, const Shape& x, const Pool2dOptions& o) {
  return op + " x " + shape_to_string(x) + " kernel " + std::to_string(o.kernel) + " stride " +
         std::to_string(o.stride) + " padding " + std::to_string(o.padding);
}

}  // namespace

TEST_SUITE_BEGIN("grad");

TEST_CASE("gradcheck: softmax and log_softmax on every axis") {
  // Smooth with bounded derivatives; inputs in [-2, 2]. Forward rounding ~1e-7 / h ~ 1e-5.
  Generator gen(41);
  for (const Shape& s : std::vector<Shape>{{2, 3, 5}, {1, 4}, {7}, {3, 1}}) {
    const int64_t rank = static_cast<int64_t>(s.size());
    for (int64_t axis = -rank; axis < rank; ++axis) {
      const std::string where = shape_to_string(s) + " axis " + std::to_string(axis);
      const Tensor x = uniform_tensor(s, gen, -2.f, 2.f);
      check_gradients_match(
          "softmax " + where,
          [axis](const std::vector<Tensor>& in) { return softmax(in[0], axis); }, {x},
          smooth_options(1e-4, 1e-3));
      check_gradients_match(
          "log_softmax " + where,
          [axis](const std::vector<Tensor>& in) { return log_softmax(in[0], axis); }, {x},
          smooth_options(1e-4, 1e-3));
    }
  }
}

TEST_CASE("gradcheck: cross_entropy with class weights and label smoothing") {
  // A scalar, smooth in the logits; log-softmax rounding of a few ulp / h ~ 1e-5.
  Generator gen(42);
  struct Case {
    int64_t n, c;
    std::vector<int64_t> targets;
    std::vector<float> weights;
    float smoothing;
  };
  const std::vector<Case> cases = {{5, 3, {0, 2, 1, 1, 0}, {}, 0.f},
                                   {5, 3, {0, 2, 1, 1, 0}, {0.2f, 1.f, 3.f}, 0.f},
                                   {5, 3, {0, 2, 1, 1, 0}, {}, 0.1f},
                                   {5, 3, {0, 2, 1, 1, 0}, {0.2f, 1.f, 3.f}, 0.25f},
                                   {1, 2, {1}, {}, 0.f},
                                   {1, 2, {0}, {2.f, 0.5f}, 0.1f},
                                   {4, 2, {0, 0, 1, 0}, {0.7f, 1.3f}, 0.f},
                                   {3, 7, {6, 0, 3}, {}, 0.05f}};
  for (const Case& c : cases) {
    const std::string name = "cross_entropy n " + std::to_string(c.n) + " c " +
                             std::to_string(c.c) + (c.weights.empty() ? "" : " weighted") +
                             " smoothing " + std::to_string(c.smoothing);
    check_gradients_match(
        name,
        [c](const std::vector<Tensor>& in) {
          return cross_entropy(in[0], c.targets, c.weights, c.smoothing);
        },
        {uniform_tensor({c.n, c.c}, gen, -2.f, 2.f)}, smooth_options(1e-4, 1e-3));
  }
}

TEST_CASE("gradcheck: soft_cross_entropy") {
  Generator gen(44);
  for (const auto& [n, c] : std::vector<std::pair<int64_t, int64_t>>{{5, 3}, {1, 2}, {4, 2}}) {
    // Random target rows: positive numbers normalised to sum 1.
    std::vector<float> q = uniform_tensor({n, c}, gen, 0.05f, 1.f).to_vector();
    for (int64_t i = 0; i < n; ++i) {
      float row = 0;
      for (int64_t k = 0; k < c; ++k) row += q[size_t(i * c + k)];
      for (int64_t k = 0; k < c; ++k) q[size_t(i * c + k)] /= row;
    }
    const Tensor targets = Tensor::from_vector(q, {n, c});
    check_gradients_match(
        "soft_cross_entropy n " + std::to_string(n) + " c " + std::to_string(c),
        [targets](const std::vector<Tensor>& in) { return soft_cross_entropy(in[0], targets); },
        {uniform_tensor({n, c}, gen, -2.f, 2.f)}, smooth_options(1e-4, 1e-3));
  }
}

TEST_CASE("gradcheck: conv2d") {
  // Linear in each single element of x, weight and bias: exact differences. Outputs are sums of
  // up to 50 products of numbers in [-1, 1]; rounding stays below 1e-5.
  Generator gen(43);
  struct Case {
    Shape x, w;
    bool bias;
    Conv2dOptions options;
  };
  const std::vector<Case> cases = {{{1, 1, 5, 5}, {1, 1, 3, 3}, true, {1, 0, 1}},
                                   {{2, 3, 7, 6}, {4, 3, 3, 3}, true, {2, 1, 1}},
                                   {{2, 2, 9, 8}, {3, 2, 3, 2}, false, {1, 2, 2}},
                                   {{1, 3, 5, 7}, {2, 3, 1, 1}, false, {1, 0, 1}},
                                   {{3, 1, 6, 5}, {5, 1, 5, 5}, true, {3, 2, 1}},
                                   {{1, 2, 2, 3}, {3, 2, 3, 3}, true, {1, 1, 1}},
                                   {{2, 2, 11, 11}, {2, 2, 3, 3}, true, {2, 1, 2}},
                                   {{1, 1, 7, 7}, {1, 1, 2, 2}, false, {3, 0, 3}}};
  for (const Case& c : cases) {
    // Built by push_back: GCC 12 mistakes growing a vector made from an initializer list for
    // an out-of-bounds access (-Warray-bounds).
    std::vector<Tensor> values;
    values.push_back(uniform_tensor(c.x, gen));
    values.push_back(uniform_tensor(c.w, gen));
    if (c.bias) values.push_back(uniform_tensor({c.w[0]}, gen));
    const bool bias = c.bias;
    const Conv2dOptions options = c.options;
    check_gradients_match(
        conv_name(c.x, c.w, c.bias, c.options),
        [bias, options](const std::vector<Tensor>& in) {
          return conv2d(in[0], in[1], bias ? in[2] : Tensor(), options);
        },
        values, linear_options());
  }
}

TEST_CASE("gradcheck: max_pool2d with distinct values") {
  // Piecewise linear: values 0.1 apart and a step of 2^-5 never change a window's winner, so
  // the differences are exact. Padded cells act as -inf and never win.
  Generator gen(44);
  struct Case {
    Shape x;
    Pool2dOptions options;
  };
  const std::vector<Case> cases = {{{1, 1, 4, 4}, {2, 2, 0}}, {{2, 3, 7, 5}, {2, 2, 0}},
                                   {{1, 2, 7, 7}, {3, 2, 1}}, {{2, 1, 5, 6}, {3, 1, 0}},
                                   {{1, 2, 6, 5}, {2, 0, 0}}, {{1, 1, 8, 7}, {2, 3, 1}},
                                   {{1, 1, 1, 1}, {1, 1, 0}}, {{1, 1, 3, 3}, {3, 3, 1}}};
  GradcheckOptions o = linear_options();
  o.step = 1.f / 32;
  for (const Case& c : cases) {
    const Pool2dOptions options = c.options;
    check_gradients_match(
        pool_name("max_pool2d", c.x, c.options),
        [options](const std::vector<Tensor>& in) { return max_pool2d(in[0], options); },
        {distinct_values(c.x, gen)}, o);
  }
}

TEST_CASE("gradcheck: avg_pool2d and global_avg_pool2d") {
  // Linear: exact differences. Padded cells count in the divisor.
  Generator gen(45);
  struct Case {
    Shape x;
    Pool2dOptions options;
  };
  const std::vector<Case> cases = {{{1, 1, 4, 4}, {2, 2, 0}}, {{2, 3, 7, 5}, {2, 2, 0}},
                                   {{1, 2, 7, 7}, {3, 2, 1}}, {{2, 1, 5, 6}, {3, 1, 1}},
                                   {{1, 2, 6, 5}, {2, 0, 0}}, {{1, 1, 8, 7}, {3, 3, 1}}};
  for (const Case& c : cases) {
    const Pool2dOptions options = c.options;
    check_gradients_match(
        pool_name("avg_pool2d", c.x, c.options),
        [options](const std::vector<Tensor>& in) { return avg_pool2d(in[0], options); },
        {uniform_tensor(c.x, gen)}, linear_options());
  }
  for (const Shape& s : std::vector<Shape>{{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 4, 3, 1}}) {
    check_gradients_match(
        "global_avg_pool2d " + shape_to_string(s),
        [](const std::vector<Tensor>& in) { return global_avg_pool2d(in[0]); },
        {uniform_tensor(s, gen)}, linear_options());
  }
}

TEST_CASE("gradcheck: batch_norm2d in training mode (x, gamma and beta)") {
  // Smooth but strongly coupled: moving one element moves the channel's mean and variance, so
  // every output of the channel changes. Inputs in [-2, 2] keep the variance of order 1;
  // rounding of up to 2 * 27 normalised outputs / h gives ~5e-5 absolute (measured).
  Generator gen(46);
  for (const Shape& s :
       std::vector<Shape>{{4, 3, 2, 3}, {1, 2, 3, 3}, {5, 1, 1, 1}, {2, 3, 1, 2}}) {
    const int64_t c = s[1];
    auto bn_train = [c](const std::vector<Tensor>& in) {
      // Fresh running statistics per call: training mode updates them in place.
      Tensor running_mean = Tensor::zeros({c}), running_var = Tensor::ones({c});
      return batch_norm2d(in[0], in[1], in[2], running_mean, running_var, true, 0.1f, 1e-5f);
    };
    check_gradients_match("batch_norm2d train " + shape_to_string(s), bn_train,
                          {uniform_tensor(s, gen, -2.f, 2.f), uniform_tensor({c}, gen, 0.5f, 1.5f),
                           uniform_tensor({c}, gen)},
                          smooth_options(2e-4, 2e-3));
  }
}

TEST_CASE("gradcheck: batch_norm2d in evaluation mode") {
  // An affine map per channel with fixed running statistics: exact differences.
  Generator gen(47);
  const Shape s = {3, 2, 3, 2};
  const std::vector<float> mean_values = {0.3f, -0.2f}, var_values = {0.5f, 2.f};
  auto bn_eval = [mean_values, var_values](const std::vector<Tensor>& in) {
    Tensor running_mean = Tensor::from_vector(mean_values, {2});
    Tensor running_var = Tensor::from_vector(var_values, {2});
    return batch_norm2d(in[0], in[1], in[2], running_mean, running_var, false);
  };
  check_gradients_match(
      "batch_norm2d eval", bn_eval,
      {uniform_tensor(s, gen), uniform_tensor({2}, gen, 0.5f, 1.5f), uniform_tensor({2}, gen)},
      linear_options());
}

TEST_CASE("gradcheck: dropout") {
  // A fixed mask (the generator is re-seeded on each call) makes it linear: exact differences.
  Generator gen(48);
  const Tensor x = uniform_tensor({3, 4, 5}, gen);
  for (float p : {0.f, 0.3f, 0.5f}) {
    check_gradients_match(
        "dropout training p " + std::to_string(p),
        [p](const std::vector<Tensor>& in) {
          Generator mask_gen(99);
          return dropout(in[0], p, true, mask_gen);
        },
        {x}, linear_options());
  }
  check_gradients_match(
      "dropout evaluation",
      [](const std::vector<Tensor>& in) {
        Generator mask_gen(99);
        return dropout(in[0], 0.5f, false, mask_gen);
      },
      {x}, linear_options());
}

TEST_CASE("gradcheck: upsample_bilinear2d, both align_corners modes") {
  // Linear: exact differences. Outputs are convex combinations of inputs in [-1, 1]. The
  // 18 -> 37, 75, 150 cases are the attention gates' resizes.
  Generator gen(49);
  struct Case {
    Shape x;
    int64_t out_h, out_w;
  };
  const std::vector<Case> cases = {{{1, 1, 5, 5}, 11, 11},   {{1, 2, 4, 4}, 9, 9},
                                   {{2, 1, 3, 5}, 7, 4},     {{1, 1, 6, 6}, 3, 3},
                                   {{1, 1, 1, 1}, 3, 3},     {{1, 1, 4, 4}, 1, 1},
                                   {{1, 1, 7, 5}, 7, 5},     {{1, 1, 18, 18}, 37, 37},
                                   {{1, 1, 18, 18}, 75, 75}, {{1, 1, 18, 18}, 150, 150}};
  for (const Case& c : cases) {
    for (bool align : {false, true}) {
      const int64_t oh = c.out_h, ow = c.out_w;
      const GradcheckOptions o = linear_options();
      check_gradients_match(
          "upsample_bilinear2d " + shape_to_string(c.x) + " -> " + std::to_string(oh) + "x" +
              std::to_string(ow) + (align ? " align_corners" : ""),
          [oh, ow, align](const std::vector<Tensor>& in) {
            return upsample_bilinear2d(in[0], oh, ow, align);
          },
          {uniform_tensor(c.x, gen)}, o);
    }
  }
}

TEST_CASE("gradcheck: attention_gate_scores") {
  // Linear in each single input element as long as no ReLU changes side. Each channel of phi
  // keeps one sign with |phi| in [1, 2], so its upsampled values do too, and |theta x| <= 0.2:
  // every pre-activation stays at least 0.8 - 2h * 2 from 0. Channels with negative phi are
  // switched off, so the check also sees that their gradients are exactly zero.
  Generator gen(50);
  struct Case {
    Shape x;
    int64_t inter, gh, gw;
  };
  const std::vector<Case> cases = {{{2, 2, 5, 7}, 4, 3, 4}, {{1, 1, 3, 3}, 3, 6, 2},
                                   {{2, 3, 9, 9}, 2, 1, 1}};
  for (const Case& c : cases) {
    const int64_t n = c.x[0], channels = c.x[1];
    std::vector<float> phi_values;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < c.inter; ++k)
        for (int64_t p = 0; p < c.gh * c.gw; ++p)
          phi_values.push_back((k % 2 == 0 ? 1.f : -1.f) * gen.uniform(1.f, 2.f));
    const Tensor phi = Tensor::from_vector(phi_values, {n, c.inter, c.gh, c.gw});
    const float theta_bound = 0.1f / static_cast<float>(channels);
    const Tensor theta = uniform_tensor({c.inter, channels, 1, 1}, gen, -theta_bound, theta_bound);
    GradcheckOptions o = linear_options();
    o.step = 1.f / 32;
    check_gradients_match(
        "attention_gate_scores x " + shape_to_string(c.x) + " inter " + std::to_string(c.inter) +
            " grid " + std::to_string(c.gh) + "x" + std::to_string(c.gw),
        [](const std::vector<Tensor>& in) {
          return attention_gate_scores(in[0], in[1], in[2], in[3], in[4]);
        },
        {uniform_tensor(c.x, gen, -1.f, 1.f), theta, phi,
         uniform_tensor({1, c.inter, 1, 1}, gen), uniform_tensor({1}, gen)},
        o);
  }
}

TEST_SUITE_END();
