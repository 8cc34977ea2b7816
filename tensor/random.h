// Seeded random numbers. One Generator is one stream: the same seed gives the same sequence on
// every machine and at every thread count, because every draw happens on the calling thread in a
// fixed order (kernels that need random numbers take them pre-drawn, never draw inside a
// parallel loop).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace radgal {

class Generator {
 public:
  // The whole state, for checkpoints: restoring it continues the stream bit for bit.
  using State = std::array<uint64_t, 5>;

  explicit Generator(uint64_t seed = 0);

  uint64_t next_u64();
  float uniform();                           // [0, 1)
  float uniform(float low, float high);      // [low, high)
  float normal(float mean = 0.f, float stddev = 1.f);
  uint64_t below(uint64_t n);                // uniform integer in [0, n), unbiased
  // Fisher-Yates: for i = n down to 2, swap v[i-1] with v[below(i)]. Every ordering is equally
  // likely, and the draws are the same on every platform (std::shuffle's are not).
  void shuffle(std::vector<size_t>& v);
  // Beta(a, b) for a, b > 0, through two gamma variates drawn in log space (Marsaglia and
  // Tsang's method, boosted for shapes below 1), so that small shapes, whose draws crowd
  // against 0 and 1, neither underflow nor divide 0 by 0. Used for mixup weights.
  double beta(double a, double b);

  State state() const;
  void set_state(const State& state);

 private:
  std::array<uint64_t, 4> s_{};  // xoshiro256** state
  // A cached second Box-Muller value: its float bits in the low word and a presence flag in the
  // high word (so a cached +0.0f is not mistaken for "none"); 0 when nothing is cached.
  uint64_t spare_normal_bits_ = 0;
};

}  // namespace radgal
