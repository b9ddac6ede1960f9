// Device selection for Encoder and Decoder (and so for the C API, the FFmpeg filter and the
// CLI): "cpu", "cuda" or "auto". The GPU backends live in a plugin, libnlc_cuda.so
// (codec/src/cuda_plugin.cc), loaded on first use, so that libnlc itself needs neither
// CUDA nor cuDNN to load. Looked for in $NLC_CUDA_PLUGIN, next to libnlc (the shared
// library) or the program, in <libdir>/nlc as installed.
#pragma once

#include <string>

#include "models/architecture.h"
#include "nlc/codec.h"

namespace nlc {

// Puts `model` on `device`. "cpu": the CPU backend. "cuda": the GPU backend, or DeviceError
// saying why not. "auto": the GPU when usable, else the CPU; returns "" or why not.
// Anything else: std::invalid_argument.
std::string select_device(Architecture& model, const std::string& device,
                          const nlc::DeviceOptions& options);

}  // namespace nlc
