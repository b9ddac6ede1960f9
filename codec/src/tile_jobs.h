// The codec's tile decode jobs (Accelerator::TileDecodeJob) as cuda::TileCodec takes them
// (internal; for the CUDA accelerator and its host-emulation test).
#pragma once

#include <vector>

#include "codec/src/accelerator.h"
#include "kernels/cuda/cuda.h"

namespace nlc {

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
