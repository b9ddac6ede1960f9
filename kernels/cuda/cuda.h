// The CUDA path (compiled when nvcc and cuDNN are found; see CMakeLists.txt): device
// discovery, the transforms (cuDNN), the integer h_s and the lane-parallel rANS coder.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

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
namespace detail {
struct IntegerHsWeights;  // resident.h
}
class IntegerHyperSynthesisGpu {
 public:
  explicit IntegerHyperSynthesisGpu(const IntegerHyperSynthesis& model);  // throws without a GPU
  ~IntegerHyperSynthesisGpu();
  IntegerHyperSynthesis::Output run(const Tensor& z_hat) const;

 private:
  const IntegerHyperSynthesis& model_;
  std::unique_ptr<detail::IntegerHsWeights> w_;
};

// One tile of the codec kept where it runs, from pixels to the two sections' payloads and
// back: latents, means, scale indices and symbols never cross the bus; only the pixels, the
// small z latent (coded on the host: a few thousand symbols) and the y stream do. The same
// arithmetic as the CPU codec (codec/src/codec.cc, models/quantize.h): the integer h_s and
// the coder are exact, so a tile's streams equal the CPU's whenever the float transforms'
// latent rounds the same way, and decoded pixels differ from the CPU's only by the float
// transforms' rounding.
struct TileModel {
  const IntegerHyperSynthesis* hs = nullptr;
  const std::vector<QuantizedCdf>* z_tables = nullptr;  // one per z channel
  const std::vector<QuantizedCdf>* y_tables = nullptr;  // one per scale index
  int N = 0, M = 0;   // z and y channels
  int align = 64;     // tiles are padded to multiples of this; z is 1/align of the tile
};
class TileCodec {
 public:
  // On the GPU, with the transforms (not owned; their last output is reused between calls).
  TileCodec(const TileModel& m, Transform* g_a, Transform* h_a, Transform* g_s);
  // Host emulation: the same pipeline in host memory with the given (CPU) transforms; for
  // testing the pipeline on machines without a GPU.
  using HostTransform = std::function<Tensor(const Tensor&)>;
  TileCodec(const TileModel& m, HostTransform g_a, HostTransform h_a, HostTransform g_s);
  ~TileCodec();
  TileCodec(const TileCodec&) = delete;
  TileCodec& operator=(const TileCodec&) = delete;

  struct Streams {
    std::vector<uint8_t> z, y;  // the HYPER_LATENT and LATENT payloads
  };
  // pixels: w x h x channels (1 or 3) interleaved; gain: the quality's gain per y channel.
  Streams encode(const uint8_t* pixels, int w, int h, int channels, const std::vector<float>& gain);
  // Throws StreamError for a stream the CPU decoder would reject. pixels: w x h x channels.
  void decode(const uint8_t* z, size_t z_size, const uint8_t* y, size_t y_size, int w, int h,
              int channels, const std::vector<float>& inv_gain, uint8_t* pixels);
  // Many tiles (of one image or of many) at once: all their lanes in one rANS launch, the
  // synthesis once per group of equal-sized tiles (as a batch). Returns, per job, "" or the
  // message of the StreamError the CPU decoder throws for that tile (its pixels are then
  // left as they were).
  struct DecodeJob {
    const uint8_t* z;
    size_t z_size;
    const uint8_t* y;
    size_t y_size;
    int w, h, channels;
    const std::vector<float>* inv_gain;
    uint8_t* pixels;  // w x h x channels
  };
  std::vector<std::string> decode(const std::vector<DecodeJob>& jobs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
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
