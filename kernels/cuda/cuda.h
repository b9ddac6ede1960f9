// The CUDA path (compiled when nvcc and cuDNN are found; see CMakeLists.txt): device
// discovery, the transforms (cuDNN), the integer h_s and the lane-parallel rANS coder.
#pragma once

#include <memory>
#include <string>

#include "entropy/rans.h"
#include "kernels/cpu/ops.h"
#include "models/integer_hs.h"

namespace nlc::cuda {

// True when a CUDA device can be used (driver present, at least one device).
bool available();
// "NVIDIA H100 80GB HBM3, compute 9.0, cuDNN 9.x" or why no device is usable.
std::string describe();

// GDN/IGDN on the GPU (NHWC, float32; the Transform's GDN layer): same definition as
// nlc::ref::gdn. Throws std::runtime_error when no device is usable.
Tensor gdn(const Tensor& x, const GdnWeights& g);

// A chain of convolutions (cuDNN, fp32), GDN/IGDN and ReLUs run on the GPU with one upload
// and one download per forward: the transforms g_a, h_a, g_s. Same semantics as the CPU
// layers (ops.h); results within float rounding of them.
class Transform {
 public:
  // tensor_cores: let cuDNN run the convolutions on tensor cores in reduced precision
  // (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: fp32 tensors, fp16 products); otherwise strict
  // fp32 FMA. Throws std::runtime_error without a usable GPU.
  explicit Transform(bool tensor_cores = false);
  ~Transform();
  Transform(const Transform&) = delete;
  Transform& operator=(const Transform&) = delete;
  void add_conv(const ConvWeights& w, bool relu_after);
  void add_gdn(const GdnWeights& g);
  void add_relu();  // after a convolution
  Tensor forward(const Tensor& x);

 private:
  struct Layer;
  void* handle_ = nullptr;  // cudnnHandle_t
  bool tensor_cores_ = false;
  std::vector<std::unique_ptr<Layer>> layers_;
};

// One convolution or transposed convolution through cuDNN (as nlc::ref::conv2d).
Tensor conv2d(const Tensor& x, const ConvWeights& w);

// One stream to decode: its bytes, its n symbols' table indices, where the values go.
struct RansDecodeJob {
  const uint8_t* data;
  size_t size;
  const uint16_t* table_index;
  size_t n;
  int32_t* values;
};

// rANS on the GPU, one thread per lane: the same streams as nlc::rans_encode and the same
// values (or the same StreamError) as nlc::rans_decode, for any input. Throws
// std::runtime_error when no device is usable.
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes);
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values);
// Many streams sharing one set of tables in one launch (all their lanes in parallel: the
// way to keep a GPU busy, since one image has few lanes). A bad stream throws StreamError
// naming it ("stream j: ...").
void rans_decode_batch(const std::vector<RansDecodeJob>& jobs,
                       const std::vector<QuantizedCdf>& tables);

// The integer hyper-synthesis on the GPU: mu_q, sigma_q and scale indices identical to
// IntegerHyperSynthesis::run. Holds the model's integer weights in device memory.
class IntegerHyperSynthesisGpu {
 public:
  explicit IntegerHyperSynthesisGpu(const IntegerHyperSynthesis& model);  // throws without a GPU
  ~IntegerHyperSynthesisGpu();
  IntegerHyperSynthesis::Output run(const Tensor& z_hat) const;

 private:
  struct Weights;
  const IntegerHyperSynthesis& model_;
  std::unique_ptr<Weights> w_;
};

// The same per-lane and per-element functions the kernels run, run in loops on the CPU:
// lets machines without a GPU (CI) test the kernels' arithmetic; the CUDA tests check the
// kernels themselves.
namespace host_emulation {
IntegerHyperSynthesis::Output integer_hs(const IntegerHyperSynthesis& model, const Tensor& z_hat);
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes);
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values);
// Many streams sharing one set of tables in one launch (all their lanes in parallel: the
// way to keep a GPU busy, since one image has few lanes). A bad stream throws StreamError
// naming it ("stream j: ...").
void rans_decode_batch(const std::vector<RansDecodeJob>& jobs,
                       const std::vector<QuantizedCdf>& tables);
}  // namespace host_emulation

}  // namespace nlc::cuda
