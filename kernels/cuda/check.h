// CUDA error checks and a device buffer owner, shared by the CUDA sources.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <stdexcept>
#include <string>

#define NLC_CUDA_CHECK(expr)                                                          \
  do {                                                                                \
    cudaError_t err_ = (expr);                                                        \
    if (err_ != cudaSuccess)                                                          \
      throw std::runtime_error(std::string("CUDA error in ") + #expr + ": " +         \
                               cudaGetErrorString(err_));                             \
  } while (0)

namespace nlc::cuda {

// Device memory from CUDA's stream-ordered pool (cudaMallocAsync on the default stream)
// where the device has one, else cudaMalloc. The codec allocates per call; the pool makes
// that cheap and avoids cudaFree's implicit device-wide synchronisation. The pool keeps
// what is freed for reuse (release threshold set to the maximum once). device.cu.
void* device_alloc(size_t bytes);
void device_free(void* p) noexcept;

// n elements of T in device memory, freed with the object.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n) p_.reset(static_cast<T*>(device_alloc(n * sizeof(T))));
  }
  // A copy of host data.
  DeviceBuffer(const T* host, size_t n) : DeviceBuffer(n) {
    if (n) NLC_CUDA_CHECK(cudaMemcpy(p_.get(), host, n * sizeof(T), cudaMemcpyHostToDevice));
  }
  // n copies of a byte pattern value (0: zero-filled).
  DeviceBuffer(size_t n, int byte) : DeviceBuffer(n) {
    if (n) NLC_CUDA_CHECK(cudaMemset(p_.get(), byte, n * sizeof(T)));
  }
  T* get() const { return p_.get(); }
  size_t size() const { return n_; }
  void to_host(T* host) const {
    if (n_) NLC_CUDA_CHECK(cudaMemcpy(host, p_.get(), n_ * sizeof(T), cudaMemcpyDeviceToHost));
  }

 private:
  struct Free {
    void operator()(T* p) const { device_free(p); }
  };
  size_t n_;
  std::unique_ptr<T, Free> p_;
};

}  // namespace nlc::cuda
