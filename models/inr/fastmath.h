// Float exp, log2 and tanh for the INR fit's inner loops: branch-free (selects only) so that a
// loop over latents that calls them vectorises, unlike libm's calls. They serve the fit only:
// its rate and distortion are estimates that steer gradient descent, so ~1e-7 relative
// error is harmless. Nothing the entropy coder depends on uses them (coding.cc is integer and
// builds its tables with det_exp). tests/inr_test.cc checks them against libm.
#pragma once

#include <cstdint>
#include <cstring>

namespace nlc::inr::fast {

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

// e^x for x in [-87, 88] (clamped outside): x = k ln2 + r, |r| <= ln2/2, e^r by a degree-6
// Taylor polynomial (relative error < 2e-7), 2^k through the exponent bits.
inline float exp(float x) {
  x = x < -87.f ? -87.f : (x > 88.f ? 88.f : x);
  const float k = __builtin_rintf(x * 1.44269504f);
  const float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
  float p = 1.f / 720;
  p = p * r + 1.f / 120;
  p = p * r + 1.f / 24;
  p = p * r + 1.f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  return p * bits_to_float((int32_t(k) + 127) << 23);
}

// log2(x) for normal positive x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) from
// atanh: 2 (s + s^3/3 + ... + s^9/9), s = (m-1)/(m+1) (|s| < 0.172, error < 1e-8).
inline float log2(float x) {
  const int32_t i = float_to_bits(x);
  int32_t e = ((i >> 23) & 255) - 127;
  float m = bits_to_float((i & 0x007fffff) | 0x3f800000);  // [1, 2)
  const bool big = m > 1.41421356f;
  const float half = m * 0.5f;  // outside the select: GCC keeps a ?: around arithmetic a branch
  m = big ? half : m;
  e = big ? e + 1 : e;
  const float s = (m - 1.f) / (m + 1.f), s2 = s * s;
  float p = 1.f / 9;
  p = p * s2 + 1.f / 7;
  p = p * s2 + 1.f / 5;
  p = p * s2 + 1.f / 3;
  p = p * s2 + 1.f;
  return float(e) + 2.f * s * p * 1.44269504f;
}

// tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error < 3e-7.
inline float tanh(float x) {
  const float a = x < 0.f ? -x : x;
  const float t = 1.f - 2.f / (exp(2.f * a) + 1.f);
  return x < 0.f ? -t : t;
}

}  // namespace nlc::inr::fast
