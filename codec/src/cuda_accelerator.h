// The CUDA accelerator (built when the CUDA path is): cuDNN transforms, the CUDA integer
// h_s and the GPU rANS coder (kernels/cuda/). Linked by the `nlc` tool, not by libnlc, so the
// installed library needs no GPU stack.
#pragma once

#include <memory>
#include <string>

#include "codec/src/accelerator.h"

namespace nlc {

// Whether a CUDA device can be used; if not, why ("this nlc was built without CUDA", "no
// CUDA device", the driver's message).
bool cuda_accelerator_usable(std::string* why);
// Throws std::runtime_error when no device is usable.
std::unique_ptr<Accelerator> make_cuda_accelerator(const MeanScaleHyperprior& model);

}  // namespace nlc
