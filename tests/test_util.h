#pragma once

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/cpu/ops.h"

namespace nlc::test {

inline Tensor random_tensor(Shape s, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  Tensor t(s);
  std::uniform_real_distribution<float> d(lo, hi);
  for (size_t i = 0; i < t.numel(); ++i) t.data()[i] = d(rng);
  return t;
}

inline std::vector<float> random_vector(size_t n, std::mt19937& rng, float lo, float hi) {
  std::vector<float> v(n);
  std::uniform_real_distribution<float> d(lo, hi);
  for (auto& x : v) x = d(rng);
  return v;
}

inline float max_abs(const Tensor& t) {
  float m = 0;
  for (size_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data()[i]));
  return m;
}

// max |a - b| / max(|b|_inf, floor): the error relative to the tensor's own scale.
inline double max_rel_error(const Tensor& a, const Tensor& b, double floor = 1e-6) {
  double m = 0;
  for (size_t i = 0; i < a.numel(); ++i)
    m = std::max(m, double(std::fabs(a.data()[i] - b.data()[i])));
  return m / std::max(double(max_abs(b)), floor);
}

// GDN parameters in the range training produces: beta around 1, small non-negative gamma.
inline GdnWeights random_gdn(int c, bool inverse, std::mt19937& rng) {
  GdnWeights g;
  g.channels = c;
  g.inverse = inverse;
  g.beta = random_vector(size_t(c), rng, 0.5f, 1.5f);
  g.gamma = random_vector(size_t(c) * c, rng, 0.f, 0.2f);
  return g;
}

// Convolution weights at the scale training produces (variance-preserving).
inline ConvWeights random_conv(const ConvSpec& s, std::mt19937& rng) {
  ConvWeights w;
  w.spec = s;
  float scale = 1.f / std::sqrt(float(s.cin * s.k * s.k));
  w.weight = random_vector(size_t(s.cin) * s.cout * s.k * s.k, rng, -scale, scale);
  w.bias = random_vector(size_t(s.cout), rng, -0.5f, 0.5f);
  return w;
}

}  // namespace nlc::test
