// Neural-network operators on NCHW tensors: conv2d, pooling, batch norm, dropout, bilinear
// resize and the fused attention-gate scores. The arithmetic lives in
// kernels/cpu/{conv,pool,batchnorm,resize,attention_gate}; this file checks
// shapes, allocates outputs and records each backward right below its forward.
#include <memory>
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace radgal {

namespace {

Tensor dense(const Tensor& t) {
  NoGradGuard no_grad;
  return t.contiguous();
}

void require_nchw(const char* op, const Tensor& x) {
  require_defined(op, x, "input");
  if (x.dim() != 4) {
    shape_error(op, "input must be (n, c, h, w), got " + shape_to_string(x.shape()));
  }
}

}  // namespace

// ---- conv2d ------------------------------------------------------------------------------------

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
              const Conv2dOptions& options) {
  const char* op = "conv2d";
  require_nchw(op, x_in);
  require_defined(op, weight_in, "weight");
  if (weight_in.dim() != 4 || weight_in.size(1) != x_in.size(1)) {
    shape_error(op, "weight " + shape_to_string(weight_in.shape()) + " does not fit input " +
                        shape_to_string(x_in.shape()) +
                        " (expected (c_out, c_in, kh, kw) with c_in = " +
                        std::to_string(x_in.size(1)) + ")");
  }
  if (bias_in.defined() && (bias_in.dim() != 1 || bias_in.size(0) != weight_in.size(0))) {
    shape_error(op, "bias " + shape_to_string(bias_in.shape()) + " does not fit weight " +
                        shape_to_string(weight_in.shape()));
  }
  if (options.stride < 1 || options.padding < 0 || options.dilation < 1) {
    throw std::invalid_argument("conv2d: need stride >= 1, padding >= 0, dilation >= 1");
  }
  dispatch::Conv2dShape s{x_in.size(0),      x_in.size(1),      x_in.size(2),      x_in.size(3),
                          weight_in.size(0), weight_in.size(2), weight_in.size(3), options.stride,
                          options.padding,   options.dilation};
  // Test the numerators: C++ division truncates toward zero, so out_h() alone can read 1 for a
  // kernel that does not fit.
  const int64_t span_h = s.dilation * (s.kh - 1) + 1, span_w = s.dilation * (s.kw - 1) + 1;
  if (s.h + 2 * s.pad < span_h || s.w + 2 * s.pad < span_w) {
    shape_error(op, "kernel " + shape_to_string(weight_in.shape()) + " does not fit input " +
                        shape_to_string(x_in.shape()) + " with padding " +
                        std::to_string(options.padding) + " and dilation " +
                        std::to_string(options.dilation));
  }
  const Tensor x = dense(x_in), weight = dense(weight_in);
  const Tensor bias = bias_in.defined() ? dense(bias_in) : Tensor();
  Tensor y = Tensor::empty({s.n, s.c_out, s.out_h(), s.out_w()});
  dispatch::conv2d_forward(op, s, x, weight, bias, y);

  if (should_record({x_in, weight_in, bias_in})) {
    record(y, op, {x_in, weight_in, bias_in},
           [s, xs = x.detach(), ws = weight.detach()](const Tensor& g_in,
                                                      const std::vector<bool>& needs) {
             const Tensor g = g_in.contiguous();
             Tensor dx, dw, db;
             if (needs[0]) {
               dx = Tensor::empty(xs.shape());
               dispatch::conv2d_backward_input("conv2d", s, g, ws, dx);
             }
             if (needs[1] || needs[2]) {
               dw = Tensor::empty(ws.shape());
               if (needs[2]) db = Tensor::empty({s.c_out});
               dispatch::conv2d_backward_weight("conv2d", s, xs, g, dw, needs[2] ? &db : nullptr);
             }
             return std::vector<Tensor>{dx, needs[1] ? dw : Tensor(), db};
           });
  }
  return y;
}

// ---- pooling -----------------------------------------------------------------------------------

namespace {

dispatch::Pool2dShape pool_shape(const char* op, const Tensor& x, const Pool2dOptions& o) {
  require_nchw(op, x);
  const int64_t stride = o.stride == 0 ? o.kernel : o.stride;
  if (o.kernel < 1 || stride < 1 || o.padding < 0 || o.padding * 2 > o.kernel) {
    throw std::invalid_argument(std::string(op) +
                                ": need kernel >= 1, stride >= 0 and "
                                "0 <= padding <= kernel / 2 (got kernel " +
                                std::to_string(o.kernel) + ", stride " + std::to_string(o.stride) +
                                ", padding " + std::to_string(o.padding) + ")");
  }
  dispatch::Pool2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), o.kernel, stride, o.padding};
  if (s.h + 2 * s.pad < s.kernel || s.w + 2 * s.pad < s.kernel) {
    shape_error(op, "kernel " + std::to_string(o.kernel) + " does not fit input " +
                        shape_to_string(x.shape()));
  }
  return s;
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, const Pool2dOptions& options) {
  const dispatch::Pool2dShape s = pool_shape("max_pool2d", x_in, options);
  const Tensor x = dense(x_in);
  Tensor y = Tensor::empty({s.n, s.c, s.out_h(), s.out_w()});
  auto argmax = std::make_shared<std::vector<int32_t>>();
  dispatch::max_pool2d_forward("max_pool2d", s, x, y, *argmax);
  if (should_record({x_in})) {
    record(y, "max_pool2d", {x_in}, [s, argmax](const Tensor& g, const std::vector<bool>&) {
      Tensor dx = Tensor::empty({s.n, s.c, s.h, s.w});
      dispatch::max_pool2d_backward("max_pool2d", s, g.contiguous(), *argmax, dx);
      return std::vector<Tensor>{dx};
    });
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x_in, const Pool2dOptions& options) {
  const dispatch::Pool2dShape s = pool_shape("avg_pool2d", x_in, options);
  const Tensor x = dense(x_in);
  Tensor y = Tensor::empty({s.n, s.c, s.out_h(), s.out_w()});
  dispatch::avg_pool2d_forward("avg_pool2d", s, x, y);
  if (should_record({x_in})) {
    record(y, "avg_pool2d", {x_in}, [s](const Tensor& g, const std::vector<bool>&) {
      Tensor dx = Tensor::empty({s.n, s.c, s.h, s.w});
      dispatch::avg_pool2d_backward("avg_pool2d", s, g.contiguous(), dx);
      return std::vector<Tensor>{dx};
    });
  }
  return y;
}

Tensor global_avg_pool2d(const Tensor& x) {
  require_nchw("global_avg_pool2d", x);
  return mean(x, {2, 3});
}

// ---- batch norm --------------------------------------------------------------------------------

Tensor batch_norm2d(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in,
                    Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                    float eps) {
  const char* op = "batch_norm2d";
  require_nchw(op, x_in);
  const int64_t c = x_in.size(1);
  const auto check_channel = [&](const Tensor& t, const char* what) {
    if (t.defined() && (t.dim() != 1 || t.size(0) != c)) {
      shape_error(op, std::string(what) + " " + shape_to_string(t.shape()) +
                          " does not match the " + std::to_string(c) + " channels of input " +
                          shape_to_string(x_in.shape()));
    }
  };
  check_channel(gamma_in, "gamma");
  check_channel(beta_in, "beta");
  check_channel(running_mean, "running_mean");
  check_channel(running_var, "running_var");
  for (const Tensor* r : {&running_mean, &running_var}) {
    if (r->defined() && (!r->is_contiguous() || r->requires_grad())) {
      throw std::invalid_argument(
          "batch_norm2d: running statistics must be contiguous plain "
          "tensors that do not require a gradient");
    }
  }

  const dispatch::BatchNormShape s{x_in.size(0), c, x_in.size(2) * x_in.size(3)};
  const Tensor x = dense(x_in);
  const Tensor gamma = gamma_in.defined() ? dense(gamma_in) : Tensor::ones({c});
  const Tensor beta = beta_in.defined() ? dense(beta_in) : Tensor::zeros({c});
  Tensor y = Tensor::empty(x.shape());

  if (training) {
    if (s.n * s.hw < 2) {
      shape_error(op, "training needs more than one value per channel, input is " +
                          shape_to_string(x_in.shape()));
    }
    Tensor save_mean = Tensor::empty({c}), save_invstd = Tensor::empty({c});
    Tensor var_unbiased = Tensor::empty({c});
    dispatch::batch_norm_forward_train(op, s, x, gamma, beta, eps, y, save_mean, save_invstd,
                                       var_unbiased);
    if (running_mean.defined()) {
      float* rm = running_mean.data();
      const float* bm = save_mean.data();
      for (int64_t i = 0; i < c; ++i) rm[i] = (1.f - momentum) * rm[i] + momentum * bm[i];
    }
    if (running_var.defined()) {
      float* rv = running_var.data();
      const float* bv = var_unbiased.data();
      for (int64_t i = 0; i < c; ++i) rv[i] = (1.f - momentum) * rv[i] + momentum * bv[i];
    }
    if (should_record({x_in, gamma_in, beta_in})) {
      record(y, op, {x_in, gamma_in, beta_in},
             [s, xs = x.detach(), gs = gamma.detach(), save_mean, save_invstd](
                 const Tensor& g, const std::vector<bool>&) {
               Tensor dx = Tensor::empty(xs.shape());
               Tensor dgamma = Tensor::empty({s.c}), dbeta = Tensor::empty({s.c});
               dispatch::batch_norm_backward_train("batch_norm2d", s, xs, g.contiguous(), gs,
                                                   save_mean, save_invstd, dx, dgamma, dbeta);
               return std::vector<Tensor>{dx, dgamma, dbeta};
             });
    }
    return y;
  }

  if (!running_mean.defined() || !running_var.defined()) {
    throw std::invalid_argument("batch_norm2d: evaluation needs running_mean and running_var");
  }
  dispatch::batch_norm_forward_eval(op, s, x, gamma, beta, running_mean, running_var, eps, y);
  if (should_record({x_in, gamma_in, beta_in})) {
    // The statistics are constants of this pass: copy them, since training steps later update
    // the running tensors in place.
    record(y, op, {x_in, gamma_in, beta_in},
           [s, eps, xs = x.detach(), gs = gamma.detach(), rm = running_mean.clone(),
            rv = running_var.clone()](const Tensor& g, const std::vector<bool>&) {
             Tensor dx = Tensor::empty(xs.shape());
             Tensor dgamma = Tensor::empty({s.c}), dbeta = Tensor::empty({s.c});
             dispatch::batch_norm_backward_eval("batch_norm2d", s, xs, g.contiguous(), gs, rm, rv,
                                                eps, dx, dgamma, dbeta);
             return std::vector<Tensor>{dx, dgamma, dbeta};
           });
  }
  return y;
}

// ---- dropout -----------------------------------------------------------------------------------

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
  require_defined("dropout", x, "input");
  if (!(p >= 0.f && p <= 1.f)) {
    throw std::invalid_argument("dropout: p must be in [0, 1], got " + std::to_string(p));
  }
  if (!training || p == 0.f) return x;
  // The mask is drawn here, on the calling thread, one uniform per element in row-major order,
  // so the stream does not depend on threading.
  Tensor mask = Tensor::empty(x.shape());
  float* m = mask.data();
  const float keep_scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  for (int64_t i = 0, n = mask.numel(); i < n; ++i) m[i] = gen.uniform() < p ? 0.f : keep_scale;
  return mul(x, mask);  // mul's backward multiplies the gradient by the same mask
}

// ---- bilinear resize ---------------------------------------------------------------------------

Tensor upsample_bilinear2d(const Tensor& x_in, int64_t out_h, int64_t out_w, bool align_corners) {
  const char* op = "upsample_bilinear2d";
  require_nchw(op, x_in);
  if (out_h < 1 || out_w < 1) {
    shape_error(op, "output size " + std::to_string(out_h) + "x" + std::to_string(out_w) +
                        " must be positive (input " + shape_to_string(x_in.shape()) + ")");
  }
  const Tensor x = dense(x_in);
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  Tensor y = Tensor::empty({x.size(0), x.size(1), out_h, out_w});
  dispatch::upsample_bilinear2d_forward(op, planes, h, w, out_h, out_w, align_corners, x, y);
  if (should_record({x_in})) {
    record(y, op, {x_in},
           [planes, h, w, out_h, out_w, align_corners, in_shape = x.shape()](
               const Tensor& g, const std::vector<bool>&) {
             Tensor dx = Tensor::empty(in_shape);
             dispatch::upsample_bilinear2d_backward("upsample_bilinear2d", planes, h, w, out_h,
                                                    out_w, align_corners, g.contiguous(), dx);
             return std::vector<Tensor>{dx};
           });
  }
  return y;
}

// ---- attention-gate scores ---------------------------------------------------------------------

Tensor attention_gate_scores(const Tensor& x_in, const Tensor& theta_in, const Tensor& phi_in,
                             const Tensor& psi_w_in, const Tensor& psi_b_in) {
  const char* op = "attention_gate_scores";
  require_nchw(op, x_in);
  require_defined(op, theta_in, "theta");
  require_defined(op, phi_in, "phi");
  require_defined(op, psi_w_in, "psi weight");
  require_defined(op, psi_b_in, "psi bias");
  const int64_t n = x_in.size(0), c = x_in.size(1);
  const bool theta_ok = theta_in.dim() == 4 && theta_in.size(1) == c && theta_in.size(2) == 1 &&
                        theta_in.size(3) == 1;
  if (!theta_ok) {
    shape_error(op, "theta " + shape_to_string(theta_in.shape()) + " does not fit x " +
                        shape_to_string(x_in.shape()) + " (expected (inter, " +
                        std::to_string(c) + ", 1, 1))");
  }
  const int64_t inter = theta_in.size(0);
  if (phi_in.dim() != 4 || phi_in.size(0) != n || phi_in.size(1) != inter) {
    shape_error(op, "phi " + shape_to_string(phi_in.shape()) + " does not fit x " +
                        shape_to_string(x_in.shape()) + " and theta " +
                        shape_to_string(theta_in.shape()) + " (expected (" + std::to_string(n) +
                        ", " + std::to_string(inter) + ", gh, gw))");
  }
  if (psi_w_in.dim() != 4 || psi_w_in.size(0) != 1 || psi_w_in.size(1) != inter ||
      psi_w_in.size(2) != 1 || psi_w_in.size(3) != 1 || psi_b_in.dim() != 1 ||
      psi_b_in.size(0) != 1) {
    shape_error(op, "psi weight " + shape_to_string(psi_w_in.shape()) + " and bias " +
                        shape_to_string(psi_b_in.shape()) + " must be (1, " +
                        std::to_string(inter) + ", 1, 1) and (1)");
  }
  const dispatch::AttentionGateShape s{n,     c, x_in.size(2), x_in.size(3), inter, phi_in.size(2),
                                       phi_in.size(3)};
  const Tensor x = dense(x_in), theta = dense(theta_in), phi = dense(phi_in);
  const Tensor psi_w = dense(psi_w_in), psi_b = dense(psi_b_in);
  Tensor y = Tensor::empty({n, 1, s.h, s.w});
  dispatch::attention_gate_forward(op, s, x, theta, phi, psi_w, psi_b, y);

  if (should_record({x_in, theta_in, phi_in, psi_w_in, psi_b_in})) {
    record(y, op, {x_in, theta_in, phi_in, psi_w_in, psi_b_in},
           [s, xs = x.detach(), ts = theta.detach(), ps = phi.detach(), ws = psi_w.detach()](
               const Tensor& g, const std::vector<bool>& needs) {
             std::vector<Tensor> grads(5);
             const Tensor* shapes[] = {&xs, &ts, &ps, &ws};
             for (int j = 0; j < 4; ++j)
               if (needs[j]) grads[j] = Tensor::empty(shapes[j]->shape());
             if (needs[4]) grads[4] = Tensor::empty({1});
             auto out = [&](int j) { return needs[j] ? &grads[j] : nullptr; };
             dispatch::attention_gate_backward("attention_gate_scores", s, xs, ts, ps, ws,
                                               g.contiguous(), out(0), out(1), out(2), out(3),
                                               out(4));
             return grads;
           });
  }
  return y;
}

}  // namespace radgal
