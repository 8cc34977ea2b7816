// What the weight averages (train/ema.h, train/swa.h) share: restoring a saved average from a
// checkpoint into the layout of the model it belongs to.
#pragma once

#include <string>

#include "nn/safetensors.h"

namespace radgal {

// A copy of `saved` laid out as `layout` (the same names and shapes, in layout's order), for
// restoring a weight average from a checkpoint. Throws std::runtime_error naming `source` and
// the kind of average (`what`, e.g. "averaged" or "SWA") when a tensor is missing, extra or of
// another shape.
nn::NamedTensors copy_in_layout(const nn::NamedTensors& layout, const nn::NamedTensors& saved,
                                const std::string& source, const std::string& what);

}  // namespace radgal
