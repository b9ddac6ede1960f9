// The GPU backends as a plugin (libnlc_cuda.so) that libnlc loads at run time
// (codec/src/device.cc), so that libnlc and the programs linking it start on machines
// without CUDA or cuDNN and only device cuda|auto look for them. Built from the same tree
// as libnlc, so C++ types cross the boundary; the entry points have C names so dlsym finds
// them. One line per architecture that has a GPU backend.
#include <memory>
#include <string>

#include "kernels/cuda/cuda.h"
#include "models/architecture.h"
#include "models/mshp/cuda/backend.h"
#include "models/mshp/hyperprior.h"

#define NLC_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

NLC_PLUGIN_EXPORT bool nlc_cuda_plugin_usable(std::string* why) {
  if (nlc::cuda::available()) return true;
  *why = nlc::cuda::describe();
  return false;
}

NLC_PLUGIN_EXPORT bool nlc_cuda_plugin_backend(const nlc::Architecture* model,
                                               const nlc::BackendOptions* options,
                                               std::unique_ptr<nlc::ArchBackend>* out,
                                               std::string* why) {
  try {
    // arch() names the class: the cast is to the very type the loader made.
    if (model->arch() == nlc::mshp::kArch) {
      *out = nlc::mshp::cuda_backend(static_cast<const nlc::MeanScaleHyperprior&>(*model), *options);
      return true;
    }
    *why = "the GPU path does not run '" + model->arch() + "' models";
  } catch (const std::exception& e) {
    *why = e.what();
  }
  return false;
}
