// GDN/IGDN on NHWC float32: one thread block per group of pixels; the block stages gamma
// in shared memory when it fits and each thread computes one output channel of one pixel.
#include <cuda_runtime.h>


#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda.h"

namespace nlc::cuda {
namespace {

__global__ void gdn_kernel(const float* __restrict__ x, float* __restrict__ y,
                           const float* __restrict__ beta, const float* __restrict__ gamma,
                           long long pixels, int C, bool inverse) {
  extern __shared__ float sx[];  // the block's pixel: C squared inputs
  long long p = blockIdx.x;
  if (p >= pixels) return;
  const float* in = x + p * C;
  for (int j = threadIdx.x; j < C; j += blockDim.x) sx[j] = in[j] * in[j];
  __syncthreads();
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    float norm = beta[i];
    const float* g = gamma + (size_t)i * C;
    for (int j = 0; j < C; ++j) norm = fmaf(g[j], sx[j], norm);
    y[p * C + i] = inverse ? in[i] * sqrtf(norm) : in[i] * rsqrtf(norm);
  }
}

}  // namespace

Tensor gdn(const Tensor& x, const GdnWeights& g) {
  g.validate();
  if (x.c() != g.channels) throw std::invalid_argument("GDN channel count mismatch");
  if (!available()) throw std::runtime_error("no usable CUDA device");
  Tensor y(x.shape());
  if (x.empty()) return y;
  DeviceBuffer<float> dx(x.data(), x.numel()), dbeta(g.beta.data(), g.beta.size()),
      dgamma(g.gamma.data(), g.gamma.size()), dy(x.numel());
  const long long pixels = (long long)(x.numel() / size_t(g.channels));
  gdn_kernel<<<(unsigned)pixels, 128, g.channels * sizeof(float)>>>(
      dx.get(), dy.get(), dbeta.get(), dgamma.get(), pixels, g.channels, g.inverse);
  NLC_CUDA_CHECK(cudaGetLastError());
  dy.to_host(y.data());
  return y;
}

}  // namespace nlc::cuda
