// Internal to the CUDA code (.cu files only): arrays that live where the work runs, for the
// coder on such arrays (entropy/cuda/) and the architectures' device pipelines
// (models/*/cuda/).
//
// Every piece runs in one of two places chosen at run time: on the GPU (device memory,
// kernels) or in host emulation (host memory, the same __host__ __device__ functions in
// loops). Host emulation is how machines without a GPU (CI) test the kernels' arithmetic and
// the pipeline's indexing; the CUDA tests run the same code on a device.
#pragma once

#include <memory>
#include <vector>

#include "kernels/cuda/check.h"

namespace nlc::cuda::detail {

// n elements of T in device memory (gpu) or host memory.
template <class T>
class Array {
 public:
  Array() = default;
  Array(size_t n, bool gpu) : gpu_(gpu), n_(n) {
    if (gpu)
      dev_ = std::make_unique<DeviceBuffer<T>>(n);
    else
      host_.resize(n);
  }
  Array(const T* src, size_t n, bool gpu) : Array(n, gpu) { upload(src, n); }
  T* get() { return gpu_ ? dev_->get() : host_.data(); }
  const T* get() const { return gpu_ ? dev_->get() : host_.data(); }
  size_t size() const { return n_; }
  bool gpu() const { return gpu_; }
  void upload(const T* src, size_t n) {
    if (n > n_) throw std::logic_error("Array::upload past the end");
    if (!n) return;
    if (gpu_)
      NLC_CUDA_CHECK(cudaMemcpy(dev_->get(), src, n * sizeof(T), cudaMemcpyHostToDevice));
    else
      std::copy(src, src + n, host_.begin());
  }
  void download(T* dst, size_t first, size_t n) const {
    if (first + n > n_) throw std::logic_error("Array::download past the end");
    if (!n) return;
    if (gpu_)
      NLC_CUDA_CHECK(cudaMemcpy(dst, dev_->get() + first, n * sizeof(T), cudaMemcpyDeviceToHost));
    else
      std::copy(host_.begin() + long(first), host_.begin() + long(first + n), dst);
  }
  std::vector<T> to_vector() const {
    std::vector<T> v(n_);
    download(v.data(), 0, n_);
    return v;
  }

 private:
  bool gpu_ = false;
  size_t n_ = 0;
  std::unique_ptr<DeviceBuffer<T>> dev_;
  std::vector<T> host_;
};

#ifdef __CUDACC__
template <class F>
__global__ void for_each_kernel(F f, long long total) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < total) f(i);
}

// f(i) for i in [0, total): a kernel with one thread per element, or a loop on the host.
// F: a copyable struct with `__host__ __device__ void operator()(long long) const` whose
// pointers name memory where it runs.
template <class F>
void for_each(bool gpu, long long total, const F& f) {
  if (total <= 0) return;
  if (gpu) {
    constexpr unsigned kThreads = 256;
    for_each_kernel<<<unsigned((total + kThreads - 1) / kThreads), kThreads>>>(f, total);
    NLC_CUDA_CHECK(cudaGetLastError());
  } else {
    for (long long i = 0; i < total; ++i) f(i);
  }
}
#endif

}  // namespace nlc::cuda::detail
