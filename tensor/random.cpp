// Generator: xoshiro256** seeded through splitmix64, Box-Muller normals, rejection-sampled
// bounded integers. Everything is integer arithmetic or IEEE double, so a seed gives the same
// stream on every x86-64 machine.
#include "tensor/random.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace radgal {

namespace {

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The cached second normal is stored as its float bits plus a presence flag in the high word,
// so a cached +0.0f is still distinguishable from "nothing cached".
constexpr uint64_t kSpareFlag = uint64_t{1} << 32;

// A uniform double in (0, 1] from 53 random bits: never 0, so its logarithm is finite.
double open_unit(Generator& gen) {
  return (static_cast<double>(gen.next_u64() >> 11) + 1.0) * 0x1.0p-53;
}

}  // namespace

Generator::Generator(uint64_t seed) {
  uint64_t x = seed;
  for (auto& word : s_) word = splitmix64(x);
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Generator::uniform() {
  // The top 24 bits fill a float mantissa exactly: values k / 2^24, k in [0, 2^24).
  return static_cast<float>(next_u64() >> 40) * (1.f / 16777216.f);
}

float Generator::uniform(float low, float high) {
  const float r = low + (high - low) * uniform();
  // Rounding can land exactly on high; keep the interval half-open.
  return r < high ? r : std::nextafter(high, low);
}

float Generator::normal(float mean, float stddev) {
  if (spare_normal_bits_ & kSpareFlag) {
    const uint32_t bits = static_cast<uint32_t>(spare_normal_bits_);
    spare_normal_bits_ = 0;
    float z;
    std::memcpy(&z, &bits, sizeof z);
    return mean + stddev * z;
  }
  // u1 in (0, 1] keeps the logarithm finite; 53-bit doubles keep the tails smooth.
  const double u1 = open_unit(*this);
  const double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * M_PI * u2;
  const float z0 = static_cast<float>(radius * std::cos(angle));
  const float z1 = static_cast<float>(radius * std::sin(angle));
  uint32_t bits;
  std::memcpy(&bits, &z1, sizeof bits);
  spare_normal_bits_ = kSpareFlag | bits;
  return mean + stddev * z0;
}

namespace {

// log of a Gamma(shape, 1) variate. Marsaglia and Tsang (2000) for shape >= 1; below 1 the draw
// of Gamma(shape + 1) is scaled by U^(1/shape), added here as log(U) / shape.
double log_gamma_variate(Generator& gen, double shape) {
  double boost = 0;
  if (shape < 1) {
    boost = std::log(open_unit(gen)) / shape;
    shape += 1;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = gen.normal();
    const double t = 1.0 + c * x;
    if (t <= 0) continue;
    const double v = t * t * t;
    if (std::log(open_unit(gen)) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      return std::log(d) + std::log(v) + boost;
    }
  }
}

}  // namespace

double Generator::beta(double a, double b) {
  if (!(a > 0) || !(b > 0) || !std::isfinite(a) || !std::isfinite(b)) {
    throw std::invalid_argument("Generator::beta: both shapes must be positive and finite");
  }
  const double log_x = log_gamma_variate(*this, a);
  const double log_y = log_gamma_variate(*this, b);
  // X / (X + Y) = 1 / (1 + exp(log Y - log X)).
  return 1.0 / (1.0 + std::exp(log_y - log_x));
}

void Generator::shuffle(std::vector<size_t>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
}

uint64_t Generator::below(uint64_t n) {
  if (n == 0) throw std::invalid_argument("Generator::below: n must be positive");
  // Reject the lowest (2^64 mod n) values so every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = next_u64();
    if (r >= threshold) return r % n;
  }
}

Generator::State Generator::state() const {
  return {s_[0], s_[1], s_[2], s_[3], spare_normal_bits_};
}

void Generator::set_state(const State& state) {
  if ((state[0] | state[1] | state[2] | state[3]) == 0) {
    throw std::invalid_argument("Generator::set_state: an all-zero xoshiro state is invalid");
  }
  for (int i = 0; i < 4; ++i) s_[i] = state[i];
  spare_normal_bits_ = state[4];
}

}  // namespace radgal
