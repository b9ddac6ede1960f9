// The CUDA path's generic kernels (compiled when nvcc and cuDNN are found; see
// CMakeLists.txt): device discovery and the transforms (cuDNN convolutions, GDN, ReLU). The
// GPU coder is entropy/cuda/rans_gpu.h; each architecture's device pipeline lives beside it
// (models/mshp/cuda/).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"

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
  // The same on device memory: x is an NHWC tensor of shape `in` on the device; returns the
  // output on the device, owned by the Transform and valid until its next forward call.
  const float* forward_device(const float* x, const Shape& in, Shape* out);

  struct Layer;  // (transform.cu)

 private:
  void* handle_ = nullptr;  // cudnnHandle_t
  bool tensor_cores_ = false;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::shared_ptr<void> result_;  // the last forward_device output (a DeviceBuffer<float>)
};

// One convolution or transposed convolution through cuDNN (as nlc::ref::conv2d).
Tensor conv2d(const Tensor& x, const ConvWeights& w);

}  // namespace nlc::cuda
