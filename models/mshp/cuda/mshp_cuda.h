// The mean-scale hyperprior on the GPU (built with the CUDA path): the integer h_s on the
// device and the tile pipeline that keeps a tile there from pixels to streams and back.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "entropy/rans.h"
#include "kernels/cuda/cuda.h"
#include "models/mshp/integer_hs.h"

namespace nlc::cuda {

// The integer hyper-synthesis on the GPU: mu_q, sigma_q and scale indices identical to
// IntegerHyperSynthesis::run. Holds the model's integer weights in device memory.
namespace detail {
struct IntegerHsWeights;  // integer_hs_resident.h
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
// arithmetic as the CPU codec (models/mshp/codec.cc, quantize.h): the integer h_s and
// the coder are exact, so a tile's streams equal the CPU's whenever the float transforms'
// latent rounds the same way, and decoded pixels differ from the CPU's only by the float
// transforms' rounding.
struct TileModel {
  const IntegerHyperSynthesis* hs = nullptr;
  const std::vector<QuantizedCdf>* z_tables = nullptr;  // one per z channel
  const std::vector<QuantizedCdf>* y_tables = nullptr;  // one per scale index
  int N = 0, M = 0;  // z and y channels (geometry: models/mshp/geometry.h)
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

// The kernels' per-element functions run in loops on the CPU (see entropy/cuda/rans_gpu.h).
namespace host_emulation {
IntegerHyperSynthesis::Output integer_hs(const IntegerHyperSynthesis& model, const Tensor& z_hat);
}  // namespace host_emulation

}  // namespace nlc::cuda
