// The CUDA accelerator as a plugin (libnlc_cuda.so) that the nlc tool loads at run time
// (cli/cuda_plugin.cc), so that the tool starts on machines without CUDA or cuDNN and only
// --device cuda|auto look for them. Built from the same tree as the tool, so C++ types cross
// the boundary; the entry points have C names so dlsym finds them.
#include "codec/src/cuda_accelerator.h"

#define NLC_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

NLC_PLUGIN_EXPORT bool nlc_cuda_plugin_usable(std::string* why) {
  return nlc::cuda_accelerator_usable(why);
}

NLC_PLUGIN_EXPORT void nlc_cuda_plugin_factory(bool tensor_cores, bool whole_tiles,
                                               nlc::AcceleratorFactory* out) {
  *out = nlc::cuda_accelerator(tensor_cores, whole_tiles);
}
