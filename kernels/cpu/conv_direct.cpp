// Direct stride-1 convolution with register tiles, for layers with few channels.
//
// Forward: a tile of CB output channels x NV vectors of output pixels (one row) stays in
// registers while the loop walks every (input channel, kernel row, kernel column): each step
// loads NV input vectors, broadcasts CB weights and issues CB * NV fused multiply-adds, so the
// arithmetic units rather than the loads set the pace, and no im2col matrix is ever written.
// Inputs are first copied into a zero-padded block of rows, wide enough that every vector load
// stays inside it.
//
// Backward weight: a tile of CB output channels x KJ kernel columns of vector accumulators, for
// one (input channel, kernel row), sweeps the pixels of a block of rows; the lanes are added up
// at the end of the block.
//
// Work is cut into (image, block of output rows) items fixed by the per-image shape, and each
// item is computed by one thread in a fixed order, so results do not depend on the thread
// count. Per-item weight gradients are added in item order.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_algorithms.h"

namespace radgal::kernels::cpu {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t LaneMask __attribute__((vector_size(kLanes * sizeof(int32_t))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) {
  std::memcpy(p, &v, sizeof v);
}
inline Vec broadcast(float s) {
  return Vec{} + s;
}

constexpr int kMaxTileVectors = 4;  // widest forward tile, in vectors
constexpr int64_t kMaxTilePixels = kMaxTileVectors * kLanes;
constexpr int kMaxBlockChannels = 6;  // forward output channels per register tile

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
int64_t round_up(int64_t a, int64_t b) {
  return ceil_div(a, b) * b;
}

// Output rows per work item: an image splits into about eight blocks so that batch 1 keeps
// every core busy, without making blocks so short that the kernel-row overlap dominates.
struct RowBlocks {
  int64_t rows, count;
};
RowBlocks row_blocks(const ConvGeometry& g) {
  const int64_t rows = std::max<int64_t>(ceil_div(g.out_h, 8), std::min<int64_t>(g.out_h, 2));
  return {rows, ceil_div(g.out_h, rows)};
}

// The input rows that output rows [oy0, oy1) read, zero-padded: padded(c, r, col) is
// x(c, oy0 + r - pad_h, col - pad_w), or zero outside the image. Rows are wide enough for a
// tile of up to kMaxTilePixels that starts before out_w, at any kernel column.
struct PaddedRows {
  int64_t rows, width;

  PaddedRows(const ConvGeometry& g, int64_t out_rows)
      : rows(out_rows + g.dilation * (g.kh - 1)),
        width(g.out_w + kMaxTilePixels + g.dilation * (g.kw - 1)) {}
  int64_t plane() const { return rows * width; }
  int64_t size(const ConvGeometry& g) const { return g.c_in * plane(); }

  void fill(const ConvGeometry& g, const float* x_image, int64_t oy0, float* out) const {
    const int64_t lo = std::clamp<int64_t>(g.pad_w, 0, width);
    const int64_t hi = std::clamp<int64_t>(g.pad_w + g.w, lo, width);
    for (int64_t c = 0; c < g.c_in; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        float* dst = out + c * plane() + r * width;
        const int64_t iy = oy0 + r - g.pad_h;
        if (iy < 0 || iy >= g.h) {
          std::fill(dst, dst + width, 0.0f);
          continue;
        }
        const float* src = x_image + (c * g.h + iy) * g.w;
        std::fill(dst, dst + lo, 0.0f);
        std::copy(src + (lo - g.pad_w), src + (hi - g.pad_w), dst + lo);
        std::fill(dst + hi, dst + width, 0.0f);
      }
    }
  }
};

// Channel blocks (first, count) with count <= limit, as equal as possible (6 channels with
// limit 4: 3 + 3, not 4 + 2), since a small last block has too few independent accumulators to
// hide the multiply-add latency.
std::vector<std::pair<int64_t, int>> channel_blocks(int64_t channels, int limit) {
  const int64_t count = ceil_div(channels, limit);
  std::vector<std::pair<int64_t, int>> blocks;
  for (int64_t b = 0; b < count; ++b) {
    const int64_t first = b * channels / count, last = (b + 1) * channels / count;
    blocks.emplace_back(first, static_cast<int>(last - first));
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// Forward

// Weights of output channels [first, first + CB) rearranged as (c_in, kh, kw, CB), the order in
// which the tile loop reads them.
void pack_weights(const ConvGeometry& g, const float* weight, int64_t first, int cb, float* out) {
  const int64_t patch = g.patch();
  for (int64_t k = 0; k < patch; ++k)
    for (int c = 0; c < cb; ++c) out[k * cb + c] = weight[(first + c) * patch + k];
}

// One output row of CB channels: y_row(c, ox) for ox in [0, out_w).
template <int CB, int NV>
void forward_row(const ConvGeometry& g, const float* padded, const PaddedRows& layout,
                 const float* packed, const float* bias, float* y_row, int64_t y_plane) {
  constexpr int64_t kTile = NV * kLanes;
  for (int64_t ox = 0; ox < g.out_w; ox += kTile) {
    Vec acc[CB][NV];
    for (int c = 0; c < CB; ++c)
      for (int v = 0; v < NV; ++v) acc[c][v] = broadcast(bias != nullptr ? bias[c] : 0.0f);

    const float* w = packed;
    for (int64_t ci = 0; ci < g.c_in; ++ci) {
      for (int64_t ki = 0; ki < g.kh; ++ki) {
        const float* row = padded + ci * layout.plane() + ki * g.dilation * layout.width + ox;
        for (int64_t kj = 0; kj < g.kw; ++kj, w += CB) {
          const float* src = row + kj * g.dilation;
          Vec in[NV];
          for (int v = 0; v < NV; ++v) in[v] = load(src + v * kLanes);
          for (int c = 0; c < CB; ++c) {
            const Vec wc = broadcast(w[c]);
            for (int v = 0; v < NV; ++v) acc[c][v] += wc * in[v];
          }
        }
      }
    }

    const int64_t valid = std::min(kTile, g.out_w - ox);
    for (int c = 0; c < CB; ++c) {
      float* dst = y_row + c * y_plane + ox;
      if (valid == kTile) {
        for (int v = 0; v < NV; ++v) store(dst + v * kLanes, acc[c][v]);
      } else {
        float tail[kTile];
        for (int v = 0; v < NV; ++v) store(tail + v * kLanes, acc[c][v]);
        std::copy(tail, tail + valid, dst);
      }
    }
  }
}

using ForwardRow = void (*)(const ConvGeometry&, const float*, const PaddedRows&, const float*,
                            const float*, float*, int64_t);

// Register tiles of at most 12 accumulators (16 vector registers in AVX2: 12 + inputs).
ForwardRow forward_row_for(int cb) {
  switch (cb) {
    case 1:
      return forward_row<1, 4>;
    case 2:
      return forward_row<2, 4>;
    case 3:
      return forward_row<3, 4>;
    case 4:
      return forward_row<4, 3>;
    case 5:
      return forward_row<5, 2>;
    default:
      return forward_row<6, 2>;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward weight

// out(c, j) += sum over the block of dy(c, r, ox) * padded(ci, r + ki * dilation,
// ox + (kj0 + j) * dilation), for CB output channels and KJ kernel columns.
template <int CB, int KJ>
void weight_tile(const ConvGeometry& g, const float* dy_rows, int64_t dy_width, int64_t dy_plane,
                 const float* x_rows, int64_t x_width, int64_t out_rows, int64_t kj0, float* out,
                 int64_t out_channel_stride) {
  Vec acc[CB][KJ] = {};
  const int64_t full = g.out_w / kLanes * kLanes;
  LaneMask tail_mask;
  for (int l = 0; l < kLanes; ++l) tail_mask[l] = l < g.out_w - full ? -1 : 0;

  for (int64_t r = 0; r < out_rows; ++r) {
    const float* dy_row = dy_rows + r * dy_width;
    const float* x_row = x_rows + r * x_width + kj0 * g.dilation;
    for (int64_t ox = 0; ox < full; ox += kLanes) {
      Vec d[CB], in[KJ];
      for (int c = 0; c < CB; ++c) d[c] = load(dy_row + c * dy_plane + ox);
      for (int j = 0; j < KJ; ++j) in[j] = load(x_row + ox + j * g.dilation);
      for (int c = 0; c < CB; ++c)
        for (int j = 0; j < KJ; ++j) acc[c][j] += d[c] * in[j];
    }
    if (full < g.out_w) {
      // dy is zero past out_w, but the input there may hold inf or NaN, which must not leak
      // into the sum through 0 * inf: those lanes are masked to zero.
      Vec d[CB], in[KJ];
      for (int c = 0; c < CB; ++c) d[c] = load(dy_row + c * dy_plane + full);
      for (int j = 0; j < KJ; ++j)
        in[j] = (Vec)((LaneMask)load(x_row + full + j * g.dilation) & tail_mask);
      for (int c = 0; c < CB; ++c)
        for (int j = 0; j < KJ; ++j) acc[c][j] += d[c] * in[j];
    }
  }

  for (int c = 0; c < CB; ++c)
    for (int j = 0; j < KJ; ++j) {
      float sum = 0.0f;
      for (int l = 0; l < kLanes; ++l) sum += acc[c][j][l];
      out[c * out_channel_stride + j] = sum;
    }
}

using WeightTile = void (*)(const ConvGeometry&, const float*, int64_t, int64_t, const float*,
                            int64_t, int64_t, int64_t, float*, int64_t);

template <int CB>
WeightTile weight_tile_for_columns(int kj) {
  switch (kj) {
    case 1:
      return weight_tile<CB, 1>;
    case 2:
      return weight_tile<CB, 2>;
    default:
      return weight_tile<CB, 3>;
  }
}

WeightTile weight_tile_for(int cb, int kj) {
  switch (cb) {
    case 1:
      return weight_tile_for_columns<1>(kj);
    case 2:
      return weight_tile_for_columns<2>(kj);
    case 3:
      return weight_tile_for_columns<3>(kj);
    default:
      return weight_tile_for_columns<4>(kj);
  }
}

void check_supported(const ConvGeometry& g, const char* op) {
  if (!direct_conv_supports(g))
    throw std::runtime_error(std::string("kernels/cpu/conv_direct: ") + op +
                             ": only stride-1 convolutions that are not 1x1 unpadded are "
                             "supported (stride " +
                             std::to_string(g.stride) + ")");
}

}  // namespace

void direct_conv_forward(const ConvGeometry& g, const float* x, const float* weight,
                         const float* bias, float* y) {
  check_supported(g, "direct_conv_forward");
  const RowBlocks blocks = row_blocks(g);
  const PaddedRows layout(g, blocks.rows);
  const int64_t patch = g.patch();

  const auto channel_tiles = channel_blocks(g.c_out, kMaxBlockChannels);
  std::vector<float> packed(g.c_out * patch);
  for (const auto& [first, count] : channel_tiles)
    pack_weights(g, weight, first, count, packed.data() + first * patch);

  const int64_t scratch_size = layout.size(g);
  std::vector<float> scratch(scratch_size * omp_get_max_threads());
  const int64_t items = g.n * blocks.count;

#pragma omp parallel
  {
    float* padded = scratch.data() + scratch_size * omp_get_thread_num();
#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t image = item / blocks.count;
      const int64_t oy0 = (item % blocks.count) * blocks.rows;
      const int64_t oy1 = std::min(g.out_h, oy0 + blocks.rows);
      layout.fill(g, x + image * g.c_in * g.h * g.w, oy0, padded);

      for (const auto& [first, count] : channel_tiles) {
        const ForwardRow row_kernel = forward_row_for(count);
        const float* block_bias = bias != nullptr ? bias + first : nullptr;
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          float* y_row = y + ((image * g.c_out + first) * g.out_h + oy) * g.out_w;
          row_kernel(g, padded + (oy - oy0) * layout.width, layout, packed.data() + first * patch,
                     block_bias, y_row, g.out_plane());
        }
      }
    }
  }
}

void direct_conv_backward_weight(const ConvGeometry& g, const float* x, const float* dy,
                                 float* dweight) {
  check_supported(g, "direct_conv_backward_weight");
  constexpr int kMaxChannels = 4, kMaxColumns = 3;
  const RowBlocks blocks = row_blocks(g);
  const PaddedRows layout(g, blocks.rows);
  const int64_t dy_width = round_up(g.out_w, kLanes);
  const int64_t dy_plane = blocks.rows * dy_width;
  const int64_t weight_size = g.c_out * g.patch();
  const int64_t items = g.n * blocks.count;

  const int64_t scratch_size = layout.size(g) + g.c_out * dy_plane;
  std::vector<float> scratch(scratch_size * omp_get_max_threads());
  std::vector<float> partials(items * weight_size);
  const auto channel_tiles = channel_blocks(g.c_out, kMaxChannels);

#pragma omp parallel
  {
    float* padded = scratch.data() + scratch_size * omp_get_thread_num();
    float* dy_rows = padded + layout.size(g);
#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t image = item / blocks.count;
      const int64_t oy0 = (item % blocks.count) * blocks.rows;
      const int64_t out_rows = std::min(g.out_h, oy0 + blocks.rows) - oy0;
      layout.fill(g, x + image * g.c_in * g.h * g.w, oy0, padded);

      // dy rows of the block, each zero-padded to a whole number of vectors.
      for (int64_t c = 0; c < g.c_out; ++c)
        for (int64_t r = 0; r < out_rows; ++r) {
          const float* src = dy + ((image * g.c_out + c) * g.out_h + oy0 + r) * g.out_w;
          float* dst = dy_rows + c * dy_plane + r * dy_width;
          std::copy(src, src + g.out_w, dst);
          std::fill(dst + g.out_w, dst + dy_width, 0.0f);
        }

      float* partial = partials.data() + item * weight_size;
      for (const auto& [first, count] : channel_tiles)
        for (int64_t ci = 0; ci < g.c_in; ++ci)
          for (int64_t ki = 0; ki < g.kh; ++ki)
            for (int64_t kj0 = 0; kj0 < g.kw; kj0 += kMaxColumns) {
              const int columns = static_cast<int>(std::min<int64_t>(kMaxColumns, g.kw - kj0));
              const float* x_rows = padded + ci * layout.plane() + ki * g.dilation * layout.width;
              float* out = partial + ((first * g.c_in + ci) * g.kh + ki) * g.kw + kj0;
              weight_tile_for(count, columns)(g, dy_rows + first * dy_plane, dy_width, dy_plane,
                                              x_rows, layout.width, out_rows, kj0, out, g.patch());
            }
    }

#pragma omp for schedule(static)
    for (int64_t e = 0; e < weight_size; ++e) {
      float sum = partials[e];
      for (int64_t item = 1; item < items; ++item) sum += partials[item * weight_size + e];
      dweight[e] = sum;
    }
  }
}

}  // namespace radgal::kernels::cpu
