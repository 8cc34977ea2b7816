// A generic finite-difference gradient checker for the test suite.
//
// check_gradients(fn, inputs, options) compares, for every element of every input that requires
// a gradient, the analytic derivative that backward() writes into .grad() with a numeric one:
//
//   loss(x) = sum_i out_i(x) * w_i        w: fixed random weights, drawn once per check
//   analytic = d loss / d x               from loss.backward()
//   numeric  = central difference of loss along one element of x
//
// Random weights make every output element matter with a different factor, so a backward that
// swaps, drops or mis-scales output positions cannot pass by symmetry (a plain sum would let a
// permuted gradient through). The numeric loss is accumulated in double from the float outputs,
// so the only float error left is that of the forward itself; with a step h the numeric noise is
// about sqrt(numel(out)) * ulp(out) / h. The default stencil is the 4-point one
//   (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h,
// whose truncation error is O(h^4), which lets h stay large (2^-7) and the noise small. For
// functions that are linear in each single element (add, matmul, conv, pooling, resizing, views)
// the difference is exact for any step, so those checks use h = 0.5 and tight tolerances.
//
// The perturbed points must be exactly x +- h and x +- 2h, or the step error (ulp(x) / h) shows
// up as a relative error of the numeric derivative. So the step is a power of two and the
// checker rounds every input to a multiple of 2^-14 first (a change of at most 3e-5 that keeps
// |x| < 512 exact in float).
//
// Kinks (ReLU at 0, ties of max, |x| at 0) have no derivative. Callers pick inputs whose kinks
// are more than 2h away; the helpers below make such inputs.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace radgal::testing {

struct GradcheckOptions {
  float step = 1.f / 128;  // finite-difference step h; must be a power of two
  bool four_point = true;  // 4-point stencil (O(h^4)); false uses the 2-point one (O(h^2))
  double atol = 1e-3;      // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-2;
  uint64_t seed = 20240611;  // output weights and the element sample
  // Largest number of elements checked per input; bigger inputs are checked at a random sample
  // of that many positions (always including the first and the last element). 0 = all.
  int64_t max_elements_per_input = 0;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // empty when ok; else which input, element index, analytic, numeric
  int64_t checked = 0;  // number of (input, element) pairs compared
  double max_abs_error = 0.0;
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

namespace detail {

inline std::string index_to_string(int64_t flat, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    const int64_t n = shape[static_cast<size_t>(d)];
    index[static_cast<size_t>(d)] = n > 0 ? flat % n : 0;
    flat = n > 0 ? flat / n : 0;
  }
  std::ostringstream s;
  s << "(";
  for (size_t d = 0; d < index.size(); ++d) s << (d ? ", " : "") << index[d];
  s << ")";
  return s.str();
}

// loss = sum(out * w) in double, from a forward pass that records nothing.
inline double weighted_output(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                              const std::vector<float>& weights) {
  NoGradGuard no_grad;
  const std::vector<float> out = fn(inputs).to_vector();
  if (out.size() != weights.size()) {
    throw std::runtime_error("gradcheck: the function's output size changed between calls");
  }
  double total = 0.0;
  for (size_t i = 0; i < out.size(); ++i) total += static_cast<double>(out[i]) * weights[i];
  return total;
}

}  // namespace detail

constexpr double kInputGrid = 1.0 / 16384;  // 2^-14

// Fresh contiguous leaves holding `values` rounded to the input grid, each marked as requiring a
// gradient or not.
inline std::vector<Tensor> make_leaves(const std::vector<Tensor>& values,
                                       const std::vector<bool>& requires_grad) {
  std::vector<Tensor> leaves;
  for (size_t i = 0; i < values.size(); ++i) {
    std::vector<float> v = values[i].to_vector();
    for (float& x : v) {
      if (std::fabs(x) >= 512.f) {
        throw std::runtime_error("gradcheck: input " + std::to_string(i) +
                                 " holds a value beyond +-512, where steps are inexact");
      }
      x = static_cast<float>(std::nearbyint(x / kInputGrid) * kInputGrid);
    }
    Tensor leaf = Tensor::from_vector(v, values[i].shape());
    if (i < requires_grad.size() ? requires_grad[i] : true) leaf.set_requires_grad(true);
    leaves.push_back(leaf);
  }
  return leaves;
}

// Checks fn at `values`. requires_grad[i] says whether input i is differentiated (default: all).
// Inputs are never modified: the checker works on its own copies.
inline GradcheckResult check_gradients(const TensorFunction& fn, const std::vector<Tensor>& values,
                                       const GradcheckOptions& options = {},
                                       const std::vector<bool>& requires_grad = {}) {
  GradcheckResult result;
  int exponent = 0;
  if (!(options.step > 0.f) || std::frexp(options.step, &exponent) != 0.5f ||
      options.step < kInputGrid) {
    throw std::runtime_error("gradcheck: step must be a power of two >= 2^-14");
  }
  std::vector<Tensor> inputs = make_leaves(values, requires_grad);
  Generator gen(options.seed);

  // Analytic gradients.
  const Tensor out = fn(inputs);
  std::vector<float> weights(static_cast<size_t>(out.numel()));
  for (float& w : weights) w = gen.uniform(-1.f, 1.f);
  Tensor loss = sum(mul(out, Tensor::from_vector(weights, out.shape())));
  loss.backward();

  std::vector<std::vector<float>> analytic(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const Tensor g = inputs[i].grad();
    if (!g.defined()) {
      // No gradient reached this input: it is zero, which the numeric check will confirm.
      analytic[i].assign(static_cast<size_t>(inputs[i].numel()), 0.f);
      continue;
    }
    if (g.shape() != inputs[i].shape()) {
      result.ok = false;
      result.message = "input " + std::to_string(i) + ": gradient shape " +
                       shape_to_string(g.shape()) + " differs from input shape " +
                       shape_to_string(inputs[i].shape());
      return result;
    }
    analytic[i] = g.to_vector();
  }

  // Numeric gradients, one element at a time, on detached copies.
  std::vector<Tensor> probe;
  for (const Tensor& t : inputs) probe.push_back(t.detach().clone().detach());
  const double h = options.step;
  auto loss_at = [&](size_t i, int64_t k, double delta, float original) {
    probe[i].data()[k] = static_cast<float>(original + delta);  // exact: see the grid above
    return detail::weighted_output(fn, probe, weights);
  };

  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const int64_t n = probe[i].numel();
    std::vector<int64_t> positions;
    if (options.max_elements_per_input > 0 && n > options.max_elements_per_input) {
      positions.push_back(0);
      positions.push_back(n - 1);
      while (static_cast<int64_t>(positions.size()) < options.max_elements_per_input) {
        positions.push_back(static_cast<int64_t>(gen.below(static_cast<uint64_t>(n))));
      }
    } else {
      for (int64_t k = 0; k < n; ++k) positions.push_back(k);
    }

    for (int64_t k : positions) {
      const float original = probe[i].data()[k];
      double numeric;
      if (options.four_point) {
        const double f1p = loss_at(i, k, h, original), f1m = loss_at(i, k, -h, original);
        const double f2p = loss_at(i, k, 2 * h, original), f2m = loss_at(i, k, -2 * h, original);
        numeric = (8.0 * (f1p - f1m) - (f2p - f2m)) / (12.0 * h);
      } else {
        const double fp = loss_at(i, k, h, original), fm = loss_at(i, k, -h, original);
        numeric = (fp - fm) / (2.0 * h);
      }
      probe[i].data()[k] = original;

      const double a = analytic[i][static_cast<size_t>(k)];
      const double err = std::fabs(a - numeric);
      ++result.checked;
      if (err > result.max_abs_error) result.max_abs_error = err;
      if (!(err <= options.atol + options.rtol * std::fabs(numeric))) {
        std::ostringstream s;
        s << "input " << i << " " << shape_to_string(inputs[i].shape()) << " element "
          << detail::index_to_string(k, inputs[i].shape()) << ": analytic " << a << ", numeric "
          << numeric << ", |diff| " << err << " > atol " << options.atol << " + rtol "
          << options.rtol << " * |numeric|";
        result.ok = false;
        result.message = s.str();
        return result;
      }
    }
  }
  return result;
}

// ---- inputs that keep away from kinks -------------------------------------------------------

// Uniform values in [low, high).
inline Tensor uniform_tensor(const Shape& shape, Generator& gen, float low = -1.f,
                             float high = 1.f) {
  return Tensor::uniform(shape, gen, low, high);
}

// Values whose magnitude lies in [min_abs, max_abs] with a random sign: keeps ReLU, |x| and
// leaky ReLU away from their kink at 0.
inline Tensor away_from_zero(const Shape& shape, Generator& gen, float min_abs = 0.1f,
                             float max_abs = 1.f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) {
    const float magnitude = gen.uniform(min_abs, max_abs);
    x = gen.uniform() < 0.5f ? -magnitude : magnitude;
  }
  return Tensor::from_vector(v, shape);
}

// A random permutation of offset + spacing * {0, 1, ..., n-1}: all values distinct and at least
// `spacing` apart, so max/min/max-pool have no ties within a step of 2h < spacing.
inline Tensor distinct_values(const Shape& shape, Generator& gen, float spacing = 0.1f,
                              float offset = -1.f) {
  const int64_t n = shape_numel(shape);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = offset + spacing * i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(gen.below(static_cast<uint64_t>(i + 1)));
    std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(j)]);
  }
  return Tensor::from_vector(v, shape);
}

// ---- presets ------------------------------------------------------------------------------

// For functions linear in each single input element (add, matmul, conv, pooling, resizing,
// views, padding): the central difference is exact, so a big step leaves only float rounding
// of the forward (a few ulp of outputs of order 10) and of the backward's own sums. Measured
// worst error over the suite: 1.5e-6 (a dilated conv's weight gradient).
inline GradcheckOptions linear_options() {
  GradcheckOptions o;
  o.step = 0.5f;
  o.four_point = false;
  o.atol = 2e-5;
  o.rtol = 2e-5;
  return o;
}

// For smooth nonlinear functions: 4-point stencil, h = 2^-7, truncation error ~1e-9 for
// derivatives of order 1; what is left is forward rounding divided by h (~1e-5; measured worst
// over the suite 5e-5, batch norm in training mode).
inline GradcheckOptions smooth_options(double atol = 2e-4, double rtol = 2e-3) {
  GradcheckOptions o;
  o.atol = atol;
  o.rtol = rtol;
  return o;
}

// ---- doctest glue --------------------------------------------------------------------------

// Runs the check as one doctest CHECK labelled `what`; an exception thrown by the operator
// counts as a failure with its message, so the remaining cases of a sweep still run. With the
// environment variable RADGAL_GRADCHECK_REPORT set, every check prints its largest error next
// to its tolerance, to see how much margin each budget leaves.
inline void check_gradients_match(const std::string& what, const TensorFunction& fn,
                                  const std::vector<Tensor>& values,
                                  const GradcheckOptions& options,
                                  const std::vector<bool>& requires_grad = {}) {
  GradcheckResult r;
  try {
    r = check_gradients(fn, values, options, requires_grad);
  } catch (const std::exception& e) {
    r.ok = false;
    r.message = std::string("threw: ") + e.what();
  }
  if (std::getenv("RADGAL_GRADCHECK_REPORT")) {
    std::printf("gradcheck %-60s %5lld elements, max |error| %.2e (atol %.0e, rtol %.0e)\n",
                what.c_str(), static_cast<long long>(r.checked), r.max_abs_error, options.atol,
                options.rtol);
  }
  INFO(what << ": " << r.message);
  CHECK(r.ok);
}

}  // namespace radgal::testing
