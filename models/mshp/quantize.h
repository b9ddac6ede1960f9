// The codec's per-element arithmetic between the transforms and the coder, in one place for
// the CPU codec (models/mshp/codec.cc) and the GPU tile pipeline (models/mshp/cuda/tile.cu), so
// that both compute the same symbols from the same latent and the same latent from the same
// symbols. Every function is a handful of IEEE float32 operations that no compiler may fuse
// (mul_rn, add_rn, sub_rn; divisions are IEEE-rounded on both), and float -> int
// conversions are explicit and saturating, so a CUDA kernel and g++ agree bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"
#include "models/mshp/integer_hs.h"

namespace nlc::quant {

// Single IEEE operations, rounded to nearest, that the CUDA compiler may not fuse into a
// multiply-add with a neighbouring operation (nvcc contracts a * b + c by default; g++
// without -march does not, so plain operators would differ where a product is inexact).
NLC_HOST_DEVICE inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NLC_HOST_DEVICE inline float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
NLC_HOST_DEVICE inline float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// Round half to even (as torch.round) in the default rounding mode.
NLC_HOST_DEVICE inline float round_half_even(float v) {
#ifdef __CUDA_ARCH__
  return rintf(v);
#else
  return std::nearbyint(v);
#endif
}

// A rounded float as a coded symbol: saturates to the int32 range (the coder escapes any
// int32), NaN (only a broken model produces it) codes as 0.
NLC_HOST_DEVICE inline int32_t symbol(float rounded) {
  if (rounded >= 2147483520.f) return INT32_MAX;  // the largest float below 2^31
  if (rounded <= -2147483648.f) return INT32_MIN;
  if (!(rounded == rounded)) return 0;
  return int32_t(rounded);
}

// y symbol: round(y_g - mu).
NLC_HOST_DEVICE inline int32_t residual_symbol(float y_g, int32_t mu_q) {
  return symbol(round_half_even(sub_rn(y_g, IntegerHyperSynthesis::mu_value(mu_q))));
}

// y_hat = (symbol + mu) / gain: the synthesis input.
NLC_HOST_DEVICE inline float dequantize(int32_t sym, int32_t mu_q, float inv_gain) {
  return mul_rn(add_rn(float(sym), IntegerHyperSynthesis::mu_value(mu_q)), inv_gain);
}

// A decoded or rounded z value as the integer h_s reads it (IntegerHyperSynthesis::input).
NLC_HOST_DEVICE inline int32_t hs_input(int32_t z) {
  const int32_t c = IntegerHyperSynthesis::kZClamp;
  return z > c ? c : z < -c ? -c : z;
}

// Pixel value of a synthesised sample: clamp to [0, 1] (NaN -> 0), scale to 255 and round
// half to even (tensor_to_image).
NLC_HOST_DEVICE inline float pixel_scale(float f) {
  return mul_rn(f > 0.f ? (f < 1.f ? f : 1.f) : 0.f, 255.f);
}
NLC_HOST_DEVICE inline uint8_t pixel(float scaled) { return uint8_t(round_half_even(scaled)); }
// A grayscale source's pixel: the mean of the three scaled channels.
NLC_HOST_DEVICE inline uint8_t gray_pixel(float r, float g, float b) {
  return uint8_t(round_half_even(add_rn(add_rn(r, g), b) / 3.f));
}

// A source sample as the analysis reads it.
NLC_HOST_DEVICE inline float sample(uint8_t v) { return float(v) / 255.f; }

}  // namespace nlc::quant
