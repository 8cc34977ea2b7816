#include "train/mixup.h"

#include <stdexcept>
#include <string>

namespace radgal {

Mixup draw_mixup(Generator& gen, size_t batch_size, double alpha) {
  Mixup m;
  m.lambda = static_cast<float>(gen.beta(alpha, alpha));
  m.partner.resize(batch_size);
  for (size_t i = 0; i < batch_size; ++i) m.partner[i] = i;
  gen.shuffle(m.partner);
  return m;
}

Tensor blend_images(const Tensor& images_in, const Mixup& m) {
  if (images_in.dim() < 1 || images_in.size(0) != static_cast<int64_t>(m.partner.size())) {
    throw std::invalid_argument("blend_images: " + std::to_string(m.partner.size()) +
                                " partners for a batch of shape " +
                                shape_to_string(images_in.shape()));
  }
  const Tensor images = images_in.contiguous();
  const int64_t n = images.size(0);
  const int64_t per_image = n > 0 ? images.numel() / n : 0;
  Tensor out = Tensor::empty(images.shape());
  const float* src = images.data();
  float* dst = out.data();
  const float keep = m.lambda, take = 1.f - m.lambda;
  for (int64_t i = 0; i < n; ++i) {
    const size_t j = m.partner[static_cast<size_t>(i)];
    if (j >= m.partner.size()) throw std::invalid_argument("blend_images: partner out of range");
    const float* a = src + i * per_image;
    const float* b = src + static_cast<int64_t>(j) * per_image;
    float* o = dst + i * per_image;
    for (int64_t k = 0; k < per_image; ++k) o[k] = keep * a[k] + take * b[k];
  }
  return out;
}

std::vector<int64_t> partner_targets(const std::vector<int64_t>& targets, const Mixup& m) {
  if (targets.size() != m.partner.size()) {
    throw std::invalid_argument("partner_targets: " + std::to_string(targets.size()) +
                                " targets for " + std::to_string(m.partner.size()) + " partners");
  }
  std::vector<int64_t> out(targets.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = targets[m.partner[i]];
  return out;
}

}  // namespace radgal
