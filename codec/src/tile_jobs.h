// Between the codec and cuda::TileCodec: the model's description for the tile pipeline and
// the codec's tile decode jobs as TileCodec takes them (internal; for the CUDA accelerator
// and its host-emulation test).
#pragma once

#include <vector>

#include "codec/src/accelerator.h"
#include "kernels/cuda/cuda.h"
#include "models/hyperprior.h"

namespace nlc {

inline cuda::TileModel tile_model(const MeanScaleHyperprior& m,
                                  const std::vector<QuantizedCdf>& z_tables,
                                  const std::vector<QuantizedCdf>& y_tables) {
  cuda::TileModel tm;
  tm.hs = &m.integer_hs();
  tm.z_tables = &z_tables;
  tm.y_tables = &y_tables;
  tm.N = m.N();
  tm.M = m.M();
  tm.align = MeanScaleHyperprior::kAlign;
  return tm;
}

inline std::vector<cuda::TileCodec::DecodeJob> tile_jobs(
    const std::vector<Accelerator::TileDecodeJob>& jobs) {
  std::vector<cuda::TileCodec::DecodeJob> r;
  r.reserve(jobs.size());
  for (const auto& j : jobs)
    r.push_back({j.z, j.z_size, j.y, j.y_size, j.tile->width, j.tile->height, j.tile->channels,
                 j.inv_gain, j.tile->pixels.data()});
  return r;
}

}  // namespace nlc
