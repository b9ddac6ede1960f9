// The CUDA accelerator (built when the CUDA path is): cuDNN transforms, the CUDA integer
// h_s and the GPU rANS coder (kernels/cuda/). Linked by the `nlc` tool, not by libnlc, so the
// installed library needs no GPU stack.
#pragma once

#include <memory>
#include <string>

#include "codec/src/accelerator.h"
#include "nlc/codec.h"

namespace nlc {

// Whether a CUDA device can be used; if not, why ("this nlc was built without CUDA", "no
// CUDA device", the driver's message).
bool cuda_accelerator_usable(std::string* why);
// For Encoder/Decoder::set_accelerator. The transforms run in fp32, or with tensor_cores
// their convolutions on tensor cores (reduced precision, see cuda::Transform; the entropy
// path stays exact either way). whole_tiles: run each tile on the device from pixels to
// streams and back (cuda::TileCodec); false: stage by stage through host memory (the
// slower path, kept for comparison in bench_gpu_codec). The accelerator throws
// std::runtime_error when built where no device is usable.
AcceleratorFactory cuda_accelerator(bool tensor_cores = false, bool whole_tiles = true);

}  // namespace nlc
