// Between the architecture and cuda::TileCodec: the model's description for the tile
// pipeline and the backend's tile decode jobs as TileCodec takes them (for the CUDA backend
// and its host-emulation test).
#pragma once

#include <vector>

#include "models/mshp/backend.h"
#include "models/mshp/cuda/mshp_cuda.h"
#include "models/mshp/hyperprior.h"

namespace nlc::cuda {

inline TileModel tile_model(const MeanScaleHyperprior& m) {
  TileModel tm;
  tm.hs = &m.integer_hs();
  tm.z_tables = &m.z_tables();
  tm.y_tables = &m.y_tables();
  tm.N = m.N();
  tm.M = m.M();
  return tm;
}

inline std::vector<TileCodec::DecodeJob> tile_jobs(
    const std::vector<mshp::Backend::TileDecodeJob>& jobs) {
  std::vector<TileCodec::DecodeJob> r;
  r.reserve(jobs.size());
  for (const auto& j : jobs)
    r.push_back({j.z, j.z_size, j.y, j.y_size, j.tile->width, j.tile->height, j.tile->channels,
                 j.inv_gain, j.tile->pixels.data()});
  return r;
}

}  // namespace nlc::cuda
