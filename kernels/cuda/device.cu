#include <cudnn.h>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda.h"

namespace nlc::cuda {

bool available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

std::string describe() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device";
  cudaDeviceProp p{};
  NLC_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  size_t v = cudnnGetVersion();
  return std::string(p.name) + ", compute " + std::to_string(p.major) + "." +
         std::to_string(p.minor) + ", cuDNN " + std::to_string(v);
}

}  // namespace nlc::cuda
