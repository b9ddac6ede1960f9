// Internal to kernels/cuda (.cu files only): arrays that live where the work runs, and the
// coder and integer h_s on such arrays, for the tile pipeline (tile.cu).
//
// Every piece runs in one of two places chosen at run time: on the GPU (device memory,
// kernels) or in host emulation (host memory, the same __host__ __device__ functions in
// loops). Host emulation is how machines without a GPU (CI) test the kernels' arithmetic and
// the pipeline's indexing; the CUDA tests run the same code on a device.
#pragma once

#include <memory>
#include <vector>

#include "entropy/rans.h"
#include "kernels/cuda/check.h"
#include "models/integer_hs.h"

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

// A set of rANS tables where the lanes run: flattened CDFs for the encoder, the lookup
// tables of the fast decoders for the decoder. Built once per table set (rans.cu).
struct RansTables {
  bool gpu = false;
  size_t count = 0;  // tables
  Array<uint32_t> cdf, base, lut, sym, bias;
  Array<int32_t> nsym, offset;
};
std::unique_ptr<RansTables> make_rans_tables(const std::vector<QuantizedCdf>& tables, bool gpu);

// The lane coder on arrays where it runs (values, table_index: device memory on the GPU).
// Table indices must name tables (the callers' come from the integer h_s, whose scale
// indices are checked against the table count once). The stream is in host memory.
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const RansTables& tables, uint32_t lanes);
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const RansTables& tables, int32_t* values);
// Several streams in one launch (all their lanes in parallel): stream j's n symbols take
// their table indices from, and write their values to, [sym_base, sym_base + n) of the
// shared arrays. Returns, per stream, "" or the message the CPU decoder throws for it.
struct LaneStream {
  const uint8_t* data;
  size_t size, n, sym_base;
};
std::vector<std::string> rans_decode_many(const std::vector<LaneStream>& streams,
                                          const uint16_t* table_index, const RansTables& tables,
                                          int32_t* values);

// The integer h_s on arrays where it runs: `in` = IntegerHyperSynthesis::input of z_hat
// ([n,h,w,N]); writes mu_q and the scale index as a table index ([n,4h,4w,M]); sigma_q
// when not null. `weights`: the model's integer weights where it runs (IntegerHsWeights).
struct IntegerHsWeights {
  bool gpu = false;
  std::vector<Array<int32_t>> weight, bias, mul;
  Array<int32_t> thresholds;
};
std::unique_ptr<IntegerHsWeights> make_integer_hs_weights(const IntegerHyperSynthesis& model,
                                                          bool gpu);
// Output geometry for an input of h x w.
void integer_hs_output_size(const IntegerHyperSynthesis& model, int h, int w, int& oh, int& ow);
void integer_hs(const IntegerHyperSynthesis& model, const IntegerHsWeights& weights,
                const int32_t* in, int n, int h, int w, int32_t* mu_q, int32_t* sigma_q,
                uint16_t* table_index);
// The same, with the scale index as IntegerHyperSynthesis::Output holds it.
void integer_hs(const IntegerHyperSynthesis& model, const IntegerHsWeights& weights,
                const int32_t* in, int n, int h, int w, int32_t* mu_q, int32_t* sigma_q,
                uint8_t* index);

}  // namespace nlc::cuda::detail
