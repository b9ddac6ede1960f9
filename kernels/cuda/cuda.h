// The CUDA path (compiled when nvcc and cuDNN are found; see CMakeLists.txt).
// For now: device discovery and the GDN/IGDN kernel; cuDNN transforms follow (issue 5).
#pragma once

#include <string>

#include "kernels/cpu/ops.h"

namespace nlc::cuda {

// True when a CUDA device can be used (driver present, at least one device).
bool available();
// "NVIDIA H100 80GB HBM3, compute 9.0, cuDNN 9.x" or why no device is usable.
std::string describe();

// GDN/IGDN on the GPU (NHWC, float32): same definition as nlc::ref::gdn.
// Throws std::runtime_error when no device is usable.
Tensor gdn(const Tensor& x, const GdnWeights& g);

}  // namespace nlc::cuda
