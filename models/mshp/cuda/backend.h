// The hyperprior's GPU backend (built with the CUDA path; reached through the GPU plugin,
// codec/src/cuda_plugin.cc): cuDNN transforms, the CUDA integer h_s and the GPU rANS
// coder, each tile kept on the device from pixels to streams and back (cuda::TileCodec).
#pragma once

#include <memory>

#include "models/architecture.h"
#include "models/mshp/hyperprior.h"

namespace nlc::mshp {

// Throws std::runtime_error where no device is usable, ModelError for a model without the
// integer h_s. options.whole_tiles false: stage by stage through host memory (the slower
// path, kept for comparison in bench_gpu_codec); tensor_cores: the convolutions on tensor
// cores (reduced precision, see cuda::Transform; the entropy path stays exact).
std::unique_ptr<ArchBackend> cuda_backend(const MeanScaleHyperprior& model,
                                          const BackendOptions& options);

}  // namespace nlc::mshp
