#include <cudnn.h>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda.h"

namespace nlc::cuda {

namespace {
// Whether device 0 has a stream-ordered memory pool; on first use, its release threshold
// is raised so that freed blocks stay in the pool.
bool use_pool() {
  static const bool pool = [] {
    int supported = 0;
    if (cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, 0) != cudaSuccess ||
        !supported)
      return false;
    cudaMemPool_t p;
    if (cudaDeviceGetDefaultMemPool(&p, 0) != cudaSuccess) return false;
    uint64_t keep = UINT64_MAX;
    return cudaMemPoolSetAttribute(p, cudaMemPoolAttrReleaseThreshold, &keep) == cudaSuccess;
  }();
  return pool;
}
}  // namespace

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  if (use_pool())
    NLC_CUDA_CHECK(cudaMallocAsync(&p, bytes, 0));
  else
    NLC_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void device_free(void* p) noexcept {
  if (!p) return;
  if (use_pool())
    cudaFreeAsync(p, 0);
  else
    cudaFree(p);
}

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
