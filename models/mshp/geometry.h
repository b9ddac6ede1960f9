// The hyperprior's geometry, in one place for the CPU codec and the GPU tile pipeline: each
// side of a tile is padded to a multiple of kAlign (by edge replication) before g_a; y is
// 1/16 of the padded tile, z 1/64.
#pragma once

namespace nlc::mshp {

inline constexpr int kAlign = 64;
inline constexpr int kLatentStride = 16;

struct LatentGeometry {
  int yh, yw, zh, zw;
};
// The latents' sizes for a tile of w x h pixels.
inline LatentGeometry latent_geometry(int w, int h) {
  const int pad_h = (h + kAlign - 1) / kAlign * kAlign, pad_w = (w + kAlign - 1) / kAlign * kAlign;
  return {pad_h / kLatentStride, pad_w / kLatentStride, pad_h / kAlign, pad_w / kAlign};
}

}  // namespace nlc::mshp
