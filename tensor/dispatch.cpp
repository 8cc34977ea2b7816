// Device dispatch (see tensor/dispatch.h). Each function checks its tensors, then calls the
// kernel of their device. Only the CPU has kernels so far.
#include "tensor/dispatch.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/resize.h"
#include "kernels/cpu/softmax.h"

namespace radgal::dispatch {

namespace cpu = kernels::cpu;

namespace {

[[noreturn]] void no_cuda(const char* op) {
  throw std::runtime_error(std::string("radgal was built without CUDA kernels for ") + op +
                           "; move the tensors to the CPU");
}

// Keeps freed large host blocks for reuse. A training step allocates the same activation sizes
// every iteration; without reuse each one is a fresh mmap whose pages the kernel must fault in
// and zero again, which halves the speed of memory-bound operators. Blocks are matched by exact
// (rounded) size and the cache holds at most kMaxCachedBytes.
class HostBlockCache {
 public:
#ifdef __SANITIZE_ADDRESS__
  static constexpr bool kEnabled = false;  // let AddressSanitizer see every use after free
#else
  static constexpr bool kEnabled = true;
#endif
  static constexpr size_t kMinCachedBlock = size_t{1} << 20;
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;

  static size_t rounded_size(size_t bytes) {
    const size_t granule = bytes >= kMinCachedBlock ? (size_t{1} << 16) : 64;
    const size_t r = (bytes + granule - 1) / granule * granule;
    return r == 0 ? 64 : r;
  }

  void* get(size_t bytes) {
    if (kEnabled && bytes >= kMinCachedBlock) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_bytes_ -= bytes;
        return p;
      }
    }
    return std::aligned_alloc(64, bytes);
  }

  void put(void* p, size_t bytes) {
    if (kEnabled && bytes >= kMinCachedBlock && bytes <= kMaxCachedBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      // Make room by dropping the largest blocks first; they are the rarest sizes.
      while (cached_bytes_ + bytes > kMaxCachedBytes && !free_.empty()) {
        auto last = std::prev(free_.end());
        std::free(last->second);
        cached_bytes_ -= last->first;
        free_.erase(last);
      }
      free_.emplace(bytes, p);
      cached_bytes_ += bytes;
      return;
    }
    std::free(p);
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t cached_bytes_ = 0;
};

// Never destroyed, so tensors that outlive static destruction can still hand blocks back.
HostBlockCache& host_cache() {
  static HostBlockCache* cache = new HostBlockCache;
  return *cache;
}

// Returns only when the op can run on the CPU kernels.
void require_cpu(const char* op, std::initializer_list<const Tensor*> tensors) {
  if (check_inputs(op, tensors).kind == DeviceKind::cuda) no_cuda(op);
}

}  // namespace

Device check_inputs(const char* op, std::initializer_list<const Tensor*> tensors) {
  Device device;
  bool first = true;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    if (first) {
      device = t->device();
      first = false;
    } else if (t->device() != device) {
      throw std::runtime_error(std::string(op) + ": tensors are on different devices (" +
                               to_string(device) + " and " + to_string(t->device()) + ")");
    }
  }
  if (device.kind == DeviceKind::cuda) no_cuda(op);
  for (const Tensor* t : tensors) {
    if (t && t->defined() && t->dtype() != DType::f32) {
      throw std::runtime_error(std::string(op) + ": dtype " + to_string(t->dtype()) +
                               " is not supported by the CPU kernels (float32 only)");
    }
  }
  return device;
}

void* allocate(size_t bytes, Device device) {
  if (device.kind == DeviceKind::cuda) {
    throw std::runtime_error("radgal was built without CUDA support: cannot allocate " +
                             std::to_string(bytes) + " bytes on " + to_string(device));
  }
  void* p = host_cache().get(HostBlockCache::rounded_size(bytes));
  if (!p) {
    throw std::runtime_error("Tensor: out of memory allocating " + std::to_string(bytes) +
                             " bytes on the CPU");
  }
  return p;
}

void release(void* data, size_t bytes, Device device) {
  if (device.kind == DeviceKind::cpu) host_cache().put(data, HostBlockCache::rounded_size(bytes));
}

void copy(const char* op, const Tensor& src, Tensor& dst) {
  require_cpu(op, {&src, &dst});
  cpu::copy_strided(dst.shape(), src.data(), src.strides(), dst.data(), dst.strides());
}

void fill(const char* op, Tensor& dst, float value) {
  require_cpu(op, {&dst});
  cpu::fill(dst.numel(), value, dst.data());
}

void binary(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b, Tensor& y) {
  require_cpu(op, {&a, &b, &y});
  cpu::binary(kind, y.shape(), a.data(), a.strides(), b.data(), b.strides(), y.data());
}

void accumulate(const char* op, const Tensor& x, Tensor& y) {
  require_cpu(op, {&x, &y});
  cpu::accumulate(y.numel(), x.data(), y.data());
}

void unary_forward(const char* op, UnaryOp kind, const Tensor& x, float param, Tensor& y) {
  require_cpu(op, {&x, &y});
  cpu::unary_forward(kind, x.numel(), x.data(), param, y.data());
}

void unary_backward(const char* op, UnaryOp kind, const Tensor& x, const Tensor& y,
                    const Tensor& dy, float param, Tensor& dx) {
  require_cpu(op, {&x, &y, &dy, &dx});
  cpu::unary_backward(kind, dx.numel(), x.defined() ? x.data() : nullptr,
                      y.defined() ? y.data() : nullptr, dy.data(), param, dx.data());
}

void sum_reduce(const char* op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                Tensor& y) {
  require_cpu(op, {&x, &y});
  cpu::sum_reduce(outer, r, inner, x.data(), y.data());
}

void extreme_reduce(const char* op, bool is_max, const Tensor& x, int64_t outer, int64_t r,
                    int64_t inner, Tensor& y, std::vector<int64_t>& index) {
  require_cpu(op, {&x, &y});
  index.resize(outer * inner);
  if (is_max) {
    cpu::max_reduce(outer, r, inner, x.data(), y.data(), index.data());
  } else {
    cpu::min_reduce(outer, r, inner, x.data(), y.data(), index.data());
  }
}

void gemm(const char* op, int64_t m, int64_t n, int64_t k, const MatrixArg& a, const MatrixArg& b,
          float beta, Tensor& c, int64_t c_offset) {
  require_cpu(op, {a.tensor, b.tensor, &c});
  cpu::gemm(a.trans, b.trans, m, n, k, 1.f, a.tensor->data() + a.offset, a.ld,
            b.tensor->data() + b.offset, b.ld, beta, c.data() + c_offset, n);
}

void softmax_forward(const char* op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                     bool log, Tensor& y) {
  require_cpu(op, {&x, &y});
  cpu::softmax_forward(outer, r, inner, x.data(), y.data(), log);
}

void softmax_backward(const char* op, const Tensor& y, const Tensor& dy, int64_t outer, int64_t r,
                      int64_t inner, bool log, Tensor& dx) {
  require_cpu(op, {&y, &dy, &dx});
  cpu::softmax_backward(outer, r, inner, y.data(), dy.data(), dx.data(), log);
}

float cross_entropy_forward(const char* op, const Tensor& logits,
                            const std::vector<int64_t>& targets, const std::vector<float>& weights,
                            float eps, Tensor& dlogits) {
  require_cpu(op, {&logits, &dlogits});
  return cpu::cross_entropy_forward(logits.size(0), logits.size(1), logits.data(), targets.data(),
                                    weights.empty() ? nullptr : weights.data(), eps,
                                    dlogits.data());
}

void conv2d_forward(const char* op, const Conv2dShape& s, const Tensor& x, const Tensor& weight,
                    const Tensor& bias, Tensor& y) {
  require_cpu(op, {&x, &weight, &bias, &y});
  cpu::conv2d_forward(s, x.data(), weight.data(), bias.defined() ? bias.data() : nullptr, y.data());
}

void conv2d_backward_input(const char* op, const Conv2dShape& s, const Tensor& dy,
                           const Tensor& weight, Tensor& dx) {
  require_cpu(op, {&dy, &weight, &dx});
  cpu::conv2d_backward_input(s, dy.data(), weight.data(), dx.data());
}

void conv2d_backward_weight(const char* op, const Conv2dShape& s, const Tensor& x, const Tensor& dy,
                            Tensor& dweight, Tensor* dbias) {
  require_cpu(op, {&x, &dy, &dweight, dbias});
  cpu::conv2d_backward_weight(s, x.data(), dy.data(), dweight.data(),
                              dbias ? dbias->data() : nullptr);
}

void max_pool2d_forward(const char* op, const Pool2dShape& s, const Tensor& x, Tensor& y,
                        std::vector<int32_t>& argmax) {
  require_cpu(op, {&x, &y});
  argmax.resize(y.numel());
  cpu::max_pool2d_forward(s, x.data(), y.data(), argmax.data());
}

void max_pool2d_backward(const char* op, const Pool2dShape& s, const Tensor& dy,
                         const std::vector<int32_t>& argmax, Tensor& dx) {
  require_cpu(op, {&dy, &dx});
  cpu::max_pool2d_backward(s, dy.data(), argmax.data(), dx.data());
}

void avg_pool2d_forward(const char* op, const Pool2dShape& s, const Tensor& x, Tensor& y) {
  require_cpu(op, {&x, &y});
  cpu::avg_pool2d_forward(s, x.data(), y.data());
}

void avg_pool2d_backward(const char* op, const Pool2dShape& s, const Tensor& dy, Tensor& dx) {
  require_cpu(op, {&dy, &dx});
  cpu::avg_pool2d_backward(s, dy.data(), dx.data());
}

void batch_norm_forward_train(const char* op, const BatchNormShape& s, const Tensor& x,
                              const Tensor& gamma, const Tensor& beta, float eps, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd, Tensor& var_unbiased) {
  require_cpu(op, {&x, &gamma, &beta, &y, &save_mean, &save_invstd, &var_unbiased});
  cpu::batch_norm_forward_train(s, x.data(), gamma.data(), beta.data(), eps, y.data(),
                                save_mean.data(), save_invstd.data(), var_unbiased.data());
}

void batch_norm_forward_eval(const char* op, const BatchNormShape& s, const Tensor& x,
                             const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, float eps, Tensor& y) {
  require_cpu(op, {&x, &gamma, &beta, &running_mean, &running_var, &y});
  cpu::batch_norm_forward_eval(s, x.data(), gamma.data(), beta.data(), running_mean.data(),
                               running_var.data(), eps, y.data());
}

void batch_norm_backward_train(const char* op, const BatchNormShape& s, const Tensor& x,
                               const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
                               const Tensor& save_invstd, Tensor& dx, Tensor& dgamma,
                               Tensor& dbeta) {
  require_cpu(op, {&x, &dy, &gamma, &save_mean, &save_invstd, &dx, &dgamma, &dbeta});
  cpu::batch_norm_backward_train(s, x.data(), dy.data(), gamma.data(), save_mean.data(),
                                 save_invstd.data(), dx.data(), dgamma.data(), dbeta.data());
}

void batch_norm_backward_eval(const char* op, const BatchNormShape& s, const Tensor& x,
                              const Tensor& dy, const Tensor& gamma, const Tensor& running_mean,
                              const Tensor& running_var, float eps, Tensor& dx, Tensor& dgamma,
                              Tensor& dbeta) {
  require_cpu(op, {&x, &dy, &gamma, &running_mean, &running_var, &dx, &dgamma, &dbeta});
  cpu::batch_norm_backward_eval(s, x.data(), dy.data(), gamma.data(), running_mean.data(),
                                running_var.data(), eps, dx.data(), dgamma.data(), dbeta.data());
}

void upsample_bilinear2d_forward(const char* op, int64_t planes, int64_t h, int64_t w,
                                 int64_t out_h, int64_t out_w, bool align_corners, const Tensor& x,
                                 Tensor& y) {
  require_cpu(op, {&x, &y});
  cpu::upsample_bilinear2d_forward(planes, h, w, out_h, out_w, align_corners, x.data(), y.data());
}

void upsample_bilinear2d_backward(const char* op, int64_t planes, int64_t h, int64_t w,
                                  int64_t out_h, int64_t out_w, bool align_corners,
                                  const Tensor& dy, Tensor& dx) {
  require_cpu(op, {&dy, &dx});
  cpu::upsample_bilinear2d_backward(planes, h, w, out_h, out_w, align_corners, dy.data(),
                                    dx.data());
}

void attention_gate_forward(const char* op, const AttentionGateShape& s, const Tensor& x,
                            const Tensor& theta, const Tensor& phi, const Tensor& psi_w,
                            const Tensor& psi_b, Tensor& psi) {
  require_cpu(op, {&x, &theta, &phi, &psi_w, &psi_b, &psi});
  cpu::attention_gate_forward(s, x.data(), theta.data(), phi.data(), psi_w.data(), psi_b.data(),
                              psi.data());
}

void attention_gate_backward(const char* op, const AttentionGateShape& s, const Tensor& x,
                             const Tensor& theta, const Tensor& phi, const Tensor& psi_w,
                             const Tensor& dpsi, Tensor* dx, Tensor* dtheta, Tensor* dphi,
                             Tensor* dpsi_w, Tensor* dpsi_b) {
  require_cpu(op, {&x, &theta, &phi, &psi_w, &dpsi, dx, dtheta, dphi, dpsi_w, dpsi_b});
  auto data = [](Tensor* t) { return t ? t->data() : nullptr; };
  cpu::attention_gate_backward(s, x.data(), theta.data(), phi.data(), psi_w.data(), dpsi.data(),
                               data(dx), data(dtheta), data(dphi), data(dpsi_w), data(dpsi_b));
}

}  // namespace radgal::dispatch
