// Convolution entry points (conv.h) and the im2col + GEMM algorithm (conv_algorithms.h).
//
// im2col + GEMM: work is cut into items of (image, block of whole output rows). The blocks
// depend on the per-image shape only, and each item runs its GEMM single-threaded (Eigen starts
// no threads of its own inside an OpenMP parallel region of more than one thread, nor when
// OpenMP allows one thread), so every output element goes through the same floating-point
// operations whatever the thread count or batch size: results are bitwise identical across
// thread counts, and an image's forward output does not depend on its batch. (Called from
// inside another OpenMP parallel region, Eigen might split a GEMM itself and round
// differently.) backward_weight sums over the batch in a fixed number of groups of consecutive
// items, then adds the groups in order.
//
// backward_input with stride 1 is itself a convolution (dy with the flipped, transposed
// weight), so it goes through the forward algorithms; other strides scatter columns back
// (col2im), one image per thread. The direct algorithm lives in conv_direct.cpp; the choice
// between the two is made here, by shape alone.
#include "kernels/cpu/conv.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/lane_sums.h"

namespace radgal::kernels::cpu {
namespace {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixView = Eigen::Map<RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstMatrixView = Eigen::Map<const RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

ConstMatrixView view(const float* data, int64_t rows, int64_t cols, int64_t row_stride) {
  return ConstMatrixView(data, rows, cols, Eigen::OuterStride<>(row_stride));
}
MatrixView view(float* data, int64_t rows, int64_t cols, int64_t row_stride) {
  return MatrixView(data, rows, cols, Eigen::OuterStride<>(row_stride));
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

using Geometry = ConvGeometry;

void check_shape(const Conv2dShape& s, const char* op) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(std::string("kernels/cpu/conv: ") + op + ": " + what);
  };
  if (s.n < 1 || s.c_in < 1 || s.h < 1 || s.w < 1 || s.c_out < 1 || s.kh < 1 || s.kw < 1)
    fail("every extent must be >= 1 (n " + std::to_string(s.n) + ", c_in " +
         std::to_string(s.c_in) + ", h " + std::to_string(s.h) + ", w " + std::to_string(s.w) +
         ", c_out " + std::to_string(s.c_out) + ", kernel " + std::to_string(s.kh) + "x" +
         std::to_string(s.kw) + ")");
  if (s.stride < 1 || s.dilation < 1 || s.pad < 0)
    fail("stride and dilation must be >= 1 and padding >= 0 (stride " + std::to_string(s.stride) +
         ", dilation " + std::to_string(s.dilation) + ", pad " + std::to_string(s.pad) + ")");
  // Bound every extent so that the index products below cannot overflow int64.
  const int64_t limit = int64_t{1} << 31;
  if (s.n >= limit || s.c_in >= limit || s.h >= limit || s.w >= limit || s.c_out >= limit ||
      s.kh >= limit || s.kw >= limit || s.stride >= limit || s.pad >= limit || s.dilation >= limit)
    fail("an extent is >= 2^31");
  if (s.out_h() < 1 || s.out_w() < 1)
    fail("the dilated kernel (" + std::to_string(s.dilation * (s.kh - 1) + 1) + "x" +
         std::to_string(s.dilation * (s.kw - 1) + 1) + ") is larger than the padded input (" +
         std::to_string(s.h + 2 * s.pad) + "x" + std::to_string(s.w + 2 * s.pad) + ")");
}

void check_pointer(const void* p, const char* name, const char* op) {
  if (p == nullptr)
    throw std::runtime_error(std::string("kernels/cpu/conv: ") + op + ": " + name + " is null");
}

// Output rows are processed in blocks of whole rows. A block's im2col matrix should stay well
// inside the per-core L2 cache, and an image should split into several blocks so that batch 1
// still keeps every core busy. Depends on the per-image shape only (see the file comment).
struct RowBlocks {
  int64_t rows;   // output rows per block (the last block may have fewer)
  int64_t count;  // blocks per image
};

RowBlocks row_blocks(const Geometry& g) {
  constexpr int64_t kTargetFloats = 64 * 1024;
  constexpr int64_t kMinBlocksPerImage = 8;
  int64_t rows = std::max<int64_t>(1, kTargetFloats / (g.patch() * g.out_w));
  rows = std::min(rows, ceil_div(g.out_h, kMinBlocksPerImage));
  return {rows, ceil_div(g.out_h, rows)};
}

// Output columns [lo, hi) read input column ox * stride + offset inside [0, w).
void valid_range(int64_t offset, int64_t stride, int64_t w, int64_t out_w, int64_t& lo,
                 int64_t& hi) {
  lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
  hi = offset > w - 1 ? 0 : (w - 1 - offset) / stride + 1;
  lo = std::min(lo, out_w);
  hi = std::clamp(hi, lo, out_w);
}

// col (patch, rows * out_w) for output rows [oy0, oy1) of one image x (c_in, h, w).
void im2col(const Geometry& g, const float* x, int64_t oy0, int64_t oy1, float* col) {
  const int64_t cols = (oy1 - oy0) * g.out_w;
  for (int64_t c = 0; c < g.c_in; ++c) {
    const float* plane = x + c * g.h * g.w;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        float* dst = col + ((c * g.kh + ki) * g.kw + kj) * cols;
        const int64_t x_offset = kj * g.dilation - g.pad_w;
        int64_t lo, hi;
        valid_range(x_offset, g.stride, g.w, g.out_w, lo, hi);
        for (int64_t oy = oy0; oy < oy1; ++oy, dst += g.out_w) {
          const int64_t iy = oy * g.stride + ki * g.dilation - g.pad_h;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + g.out_w, 0.0f);
            continue;
          }
          // Input column of output column ox: row + ox * stride, inside the row for lo <= ox < hi.
          const int64_t row = iy * g.w + x_offset;
          std::fill(dst, dst + lo, 0.0f);
          if (g.stride == 1) {
            std::copy(plane + row + lo, plane + row + hi, dst + lo);
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = plane[row + ox * g.stride];
          }
          std::fill(dst + hi, dst + g.out_w, 0.0f);
        }
      }
    }
  }
}

// The adjoint of im2col: adds col (patch, rows * out_w) into dx (c_in, h, w).
void col2im_add(const Geometry& g, const float* col, int64_t oy0, int64_t oy1, float* dx) {
  const int64_t cols = (oy1 - oy0) * g.out_w;
  for (int64_t c = 0; c < g.c_in; ++c) {
    float* plane = dx + c * g.h * g.w;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const float* src = col + ((c * g.kh + ki) * g.kw + kj) * cols;
        const int64_t x_offset = kj * g.dilation - g.pad_w;
        int64_t lo, hi;
        valid_range(x_offset, g.stride, g.w, g.out_w, lo, hi);
        for (int64_t oy = oy0; oy < oy1; ++oy, src += g.out_w) {
          const int64_t iy = oy * g.stride + ki * g.dilation - g.pad_h;
          if (iy < 0 || iy >= g.h) continue;
          const int64_t row = iy * g.w + x_offset;
          for (int64_t ox = lo; ox < hi; ++ox) plane[row + ox * g.stride] += src[ox];
        }
      }
    }
  }
}

// One im2col scratch block per thread, allocated before the parallel region so that an
// allocation failure surfaces as an exception in the caller's thread.
class Scratch {
 public:
  Scratch(const Geometry& g, const RowBlocks& blocks, bool needed)
      : per_thread_(needed ? g.patch() * blocks.rows * g.out_w : 0),
        data_(per_thread_ * omp_get_max_threads()) {}
  float* local() { return data_.data() + per_thread_ * omp_get_thread_num(); }

 private:
  int64_t per_thread_;
  std::vector<float> data_;
};

}  // namespace

ConvGeometry conv_geometry(const Conv2dShape& s) {
  return {s.n,      s.c_in, s.h,   s.w,        s.c_out,   s.kh,     s.kw,
          s.stride, s.pad,  s.pad, s.dilation, s.out_h(), s.out_w()};
}

ConvGeometry backward_input_geometry(const ConvGeometry& g) {
  return {g.n,
          g.c_out,
          g.out_h,
          g.out_w,
          g.c_in,
          g.kh,
          g.kw,
          1,
          g.dilation * (g.kh - 1) - g.pad_h,
          g.dilation * (g.kw - 1) - g.pad_w,
          g.dilation,
          g.h,
          g.w};
}

void flip_weight_for_backward_input(const ConvGeometry& g, const float* weight, float* flipped) {
  for (int64_t o = 0; o < g.c_out; ++o)
    for (int64_t i = 0; i < g.c_in; ++i)
      for (int64_t a = 0; a < g.kh; ++a)
        for (int64_t b = 0; b < g.kw; ++b)
          flipped[((i * g.c_out + o) * g.kh + (g.kh - 1 - a)) * g.kw + (g.kw - 1 - b)] =
              weight[((o * g.c_in + i) * g.kh + a) * g.kw + b];
}

bool direct_conv_supports(const ConvGeometry& g) {
  return g.stride == 1 && !g.pointwise();
}

// Direct avoids the im2col copy and Eigen's weak handling of few output channels; from 32
// channels on the GEMM runs near peak and wins. Direct's tiles are 16-24 pixels wide, so narrow
// rows (37, 18) waste part of the last tile. Its weight gradient keeps one partial per work
// item, which gets expensive as the weight grows.
bool direct_conv_preferred_forward(const ConvGeometry& g) {
  return direct_conv_supports(g) && (g.c_out <= 8 || (g.c_out <= 16 && g.out_w >= 64));
}

bool direct_conv_preferred_weight(const ConvGeometry& g) {
  return direct_conv_supports(g) && g.c_out <= 8;
}

void im2col_conv_forward(const Geometry& g, const float* x, const float* weight, const float* bias,
                         float* y) {
  const int64_t patch = g.patch();
  const int64_t out_plane = g.out_plane();
  const RowBlocks blocks = row_blocks(g);
  const bool pointwise = g.pointwise();
  Scratch scratch(g, blocks, !pointwise);
  const int64_t items = g.n * blocks.count;

  // Dynamic scheduling only moves whole items between threads; it cannot change the results.
#pragma omp parallel
  {
    float* col = scratch.local();
#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t image = item / blocks.count;
      const int64_t oy0 = (item % blocks.count) * blocks.rows;
      const int64_t oy1 = std::min(g.out_h, oy0 + blocks.rows);
      const int64_t cols = (oy1 - oy0) * g.out_w;
      const float* x_image = x + image * g.c_in * g.h * g.w;

      const float* columns = col;
      int64_t column_stride = cols;
      if (pointwise) {
        columns = x_image + oy0 * g.out_w;
        column_stride = g.h * g.w;
      } else {
        im2col(g, x_image, oy0, oy1, col);
      }

      auto out = view(y + image * g.c_out * out_plane + oy0 * g.out_w, g.c_out, cols, out_plane);
      auto w = view(weight, g.c_out, patch, patch);
      auto c = view(columns, patch, cols, column_stride);
      if (bias != nullptr) {
        for (int64_t o = 0; o < g.c_out; ++o) out.row(o).setConstant(bias[o]);
        out.noalias() += w * c;
      } else {
        out.noalias() = w * c;
      }
    }
  }
}

namespace {

// Forward through the preferred algorithm.
void forward(const Geometry& g, const float* x, const float* weight, const float* bias, float* y) {
  if (direct_conv_preferred_forward(g))
    direct_conv_forward(g, x, weight, bias, y);
  else
    im2col_conv_forward(g, x, weight, bias, y);
}

// Strided backward_input: dcol = weight^T dy, scattered back into dx. Blocks of one image
// overlap in dx, so one thread owns a whole image and walks its blocks in order.
void strided_backward_input(const Geometry& g, const float* dy, const float* weight, float* dx) {
  const int64_t patch = g.patch();
  const int64_t out_plane = g.out_plane();
  const RowBlocks blocks = row_blocks(g);
  Scratch scratch(g, blocks, true);
#pragma omp parallel
  {
    float* dcol = scratch.local();
#pragma omp for schedule(dynamic)
    for (int64_t image = 0; image < g.n; ++image) {
      float* dx_image = dx + image * g.c_in * g.h * g.w;
      std::fill(dx_image, dx_image + g.c_in * g.h * g.w, 0.0f);
      for (int64_t block = 0; block < blocks.count; ++block) {
        const int64_t oy0 = block * blocks.rows;
        const int64_t oy1 = std::min(g.out_h, oy0 + blocks.rows);
        const int64_t cols = (oy1 - oy0) * g.out_w;
        auto d = view(dcol, patch, cols, cols);
        auto w = view(weight, g.c_out, patch, patch);
        auto grad =
            view(dy + image * g.c_out * out_plane + oy0 * g.out_w, g.c_out, cols, out_plane);
        d.noalias() = w.transpose() * grad;
        col2im_add(g, dcol, oy0, oy1, dx_image);
      }
    }
  }
}

// dbias (c_out) = sum of dy over batch and pixels, per channel in double.
void bias_gradient(const Geometry& g, const float* dy, float* dbias) {
  const int64_t out_plane = g.out_plane();
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < g.c_out; ++o) {
    LaneSums sum;
    for (int64_t image = 0; image < g.n; ++image) {
      const float* plane = dy + (image * g.c_out + o) * out_plane;
      sum.add(out_plane, [&](int64_t p) { return static_cast<double>(plane[p]); });
    }
    dbias[o] = static_cast<float>(sum.total());
  }
}

}  // namespace

void im2col_conv_backward_weight(const Geometry& g, const float* x, const float* dy,
                                 float* dweight) {
  const int64_t patch = g.patch();
  const int64_t out_plane = g.out_plane();
  const int64_t weight_size = g.c_out * patch;
  const RowBlocks blocks = row_blocks(g);
  const bool pointwise = g.pointwise();
  const int64_t items = g.n * blocks.count;

  // Items are summed in kGroups runs of consecutive items, each into its own partial gradient;
  // the partials are then added in group order. The grouping depends on the shape only, so the
  // sum does not depend on which thread handled which group.
  constexpr int64_t kGroups = 16;
  const int64_t groups = std::min(items, kGroups);
  std::vector<float> partials(groups * weight_size);
  Scratch scratch(g, blocks, !pointwise);

#pragma omp parallel
  {
    float* col = scratch.local();
#pragma omp for schedule(dynamic)
    for (int64_t group = 0; group < groups; ++group) {
      auto partial = view(partials.data() + group * weight_size, g.c_out, patch, patch);
      partial.setZero();
      const int64_t first = group * items / groups;
      const int64_t last = (group + 1) * items / groups;
      for (int64_t item = first; item < last; ++item) {
        const int64_t image = item / blocks.count;
        const int64_t oy0 = (item % blocks.count) * blocks.rows;
        const int64_t oy1 = std::min(g.out_h, oy0 + blocks.rows);
        const int64_t cols = (oy1 - oy0) * g.out_w;
        const float* x_image = x + image * g.c_in * g.h * g.w;

        const float* columns = col;
        int64_t column_stride = cols;
        if (pointwise) {
          columns = x_image + oy0 * g.out_w;
          column_stride = g.h * g.w;
        } else {
          im2col(g, x_image, oy0, oy1, col);
        }
        auto grad =
            view(dy + image * g.c_out * out_plane + oy0 * g.out_w, g.c_out, cols, out_plane);
        auto c = view(columns, patch, cols, column_stride);
        partial.noalias() += grad * c.transpose();
      }
    }

    // Each weight element adds its partials in group order.
#pragma omp for schedule(static)
    for (int64_t e = 0; e < weight_size; ++e) {
      float sum = partials[e];
      for (int64_t group = 1; group < groups; ++group) sum += partials[group * weight_size + e];
      dweight[e] = sum;
    }
  }
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    float* y) {
  const char* op = "conv2d_forward";
  check_shape(s, op);
  check_pointer(x, "x", op);
  check_pointer(weight, "weight", op);
  check_pointer(y, "y", op);
  forward(conv_geometry(s), x, weight, bias, y);
}

void conv2d_backward_input(const Conv2dShape& s, const float* dy, const float* weight, float* dx) {
  const char* op = "conv2d_backward_input";
  check_shape(s, op);
  check_pointer(dy, "dy", op);
  check_pointer(weight, "weight", op);
  check_pointer(dx, "dx", op);
  const Geometry g = conv_geometry(s);
  if (g.stride != 1) {
    strided_backward_input(g, dy, weight, dx);
    return;
  }
  std::vector<float> flipped(g.c_in * g.c_out * g.kh * g.kw);
  flip_weight_for_backward_input(g, weight, flipped.data());
  forward(backward_input_geometry(g), dy, flipped.data(), nullptr, dx);
}

void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dweight,
                            float* dbias) {
  const char* op = "conv2d_backward_weight";
  check_shape(s, op);
  check_pointer(x, "x", op);
  check_pointer(dy, "dy", op);
  check_pointer(dweight, "dweight", op);
  const Geometry g = conv_geometry(s);
  if (direct_conv_preferred_weight(g))
    direct_conv_backward_weight(g, x, dy, dweight);
  else
    im2col_conv_backward_weight(g, x, dy, dweight);
  if (dbias != nullptr) bias_gradient(g, dy, dbias);
}

}  // namespace radgal::kernels::cpu
