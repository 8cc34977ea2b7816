// Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): a training batch is
// blended with a shuffled copy of itself. Image i becomes lambda x_i + (1 - lambda) x_partner(i)
// with one lambda ~ Beta(alpha, alpha) for the whole batch, and its loss the same blend of the
// losses against both labels. Small alphas (0.1-0.4) keep most blends close to one image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace radgal {

struct Mixup {
  float lambda = 1;             // the weight of image i itself
  std::vector<size_t> partner;  // a permutation of the batch: i is blended with partner[i]
};

// Draws lambda, then a uniformly random permutation (Fisher-Yates), from `gen`. alpha > 0.
Mixup draw_mixup(Generator& gen, size_t batch_size, double alpha);

// images (B, ...) -> lambda * images[i] + (1 - lambda) * images[partner[i]], a new contiguous
// tensor that autograd does not record (inputs need no gradient).
Tensor blend_images(const Tensor& images, const Mixup& mixup);

// The labels of the partners: targets[partner[i]].
std::vector<int64_t> partner_targets(const std::vector<int64_t>& targets, const Mixup& mixup);

}  // namespace radgal
