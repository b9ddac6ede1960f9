// The GPU path for the nlc tool: the CUDA accelerator lives in a plugin (libnlc_cuda.so,
// codec/src/cuda_plugin.cc) loaded on first use, so that nlc itself needs neither CUDA nor
// cuDNN to start. Looked for in $NLC_CUDA_PLUGIN, next to the nlc binary (build tree), then
// in <prefix>/<libdir>/nlc (installed).
#pragma once

#include <string>

#include "nlc/codec.h"

namespace nlc::cli {

// True with the accelerator factory when a GPU is usable; else false with why (no plugin,
// a library it needs is missing, no device...).
bool cuda_factory(bool tensor_cores, AcceleratorFactory* factory, std::string* why);

}  // namespace nlc::cli
