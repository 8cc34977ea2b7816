// Static splitting of dense 1-D work over OpenMP threads. Every element is produced by exactly
// one thread with the same arithmetic whatever the thread count, so results are reproducible.
#pragma once

#include <algorithm>
#include <cstdint>

namespace radgal::kernels::cpu {

// Below this many elements a loop runs on the calling thread: waking the pool costs more.
constexpr int64_t kParallelGrain = 1 << 15;

// Calls body(begin, end) over [0, n) in blocks of at least kParallelGrain elements.
template <class Body>
void parallel_range(int64_t n, Body body) {
  if (n < 2 * kParallelGrain) {
    if (n > 0) body(int64_t{0}, n);
    return;
  }
  const int64_t blocks = (n + kParallelGrain - 1) / kParallelGrain;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    body(blk * kParallelGrain, std::min(n, (blk + 1) * kParallelGrain));
  }
}

}  // namespace radgal::kernels::cpu
