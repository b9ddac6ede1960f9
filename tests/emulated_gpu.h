// The hyperprior's GPU backend run without a GPU: the integer h_s and the rANS coder are
// the CUDA kernels' own per-element and per-lane functions in host emulation, whole tiles go
// through cuda::TileCodec in host memory, and the float transforms are the CPU's (a second
// copy of the model). For tests: accelerator_test holds it to the CPU codec, and
// gpu_codec_test can run its GPU checks' logic on it (NLC_GPU_TEST_EMULATE=1).
#pragma once

#include <memory>
#include <string>

#include "codec/src/codec_impl.h"
#include "entropy/cuda/rans_gpu.h"
#include "models/mshp/backend.h"
#include "models/mshp/cuda/mshp_cuda.h"
#include "models/mshp/cuda/tile_jobs.h"
#include "models/mshp/hyperprior.h"
#include "nlc/codec.h"

namespace nlc {

class EmulatedGpu final : public mshp::Backend {
 public:
  EmulatedGpu(const MeanScaleHyperprior& m, const std::string& model_path, bool whole_tiles)
      : codec_model_(m), model_(load_model_file(model_path), Kernels::kOptimized),
        whole_tiles_(whole_tiles) {}
  std::string describe() const override { return "CUDA kernels in host emulation"; }
  uint64_t batch_pixels() const override { return uint64_t(1) << 25; }  // as the GPU's
  Tensor g_a(const Tensor& x) override { return model_.g_a(x); }
  Tensor h_a(const Tensor& y) override { return model_.h_a(y); }
  Tensor g_s(const Tensor& y) override { return model_.g_s(y); }
  IntegerHyperSynthesis::Output integer_hs(const Tensor& z) override {
    ++calls;
    return cuda::host_emulation::integer_hs(codec_model_.integer_hs(), z);
  }
  std::vector<uint8_t> rans_encode(const int32_t* v, const uint16_t* t, size_t n,
                                   const std::vector<QuantizedCdf>& tables, uint32_t lanes) override {
    ++calls;
    return cuda::host_emulation::rans_encode(v, t, n, tables, lanes);
  }
  void rans_decode(const uint8_t* d, size_t size, const uint16_t* t, size_t n,
                   const std::vector<QuantizedCdf>& tables, int32_t* v) override {
    ++calls;
    cuda::host_emulation::rans_decode(d, size, t, n, tables, v);
  }
  bool encode_tile(const Image& tile, const std::vector<float>& gain, std::vector<uint8_t>& z,
                   std::vector<uint8_t>& y) override {
    if (!whole_tiles_) return false;
    ++tile_calls;
    auto s = tiles().encode(tile.pixels.data(), tile.width, tile.height, tile.channels, gain);
    z = std::move(s.z);
    y = std::move(s.y);
    return true;
  }
  bool decode_tiles(const std::vector<TileDecodeJob>& jobs, std::vector<std::string>& errors) override {
    if (!whole_tiles_) return false;
    tile_calls += int(jobs.size());
    errors = tiles().decode(cuda::tile_jobs(jobs));
    return true;
  }
  static inline int calls = 0, tile_calls = 0;

 private:
  cuda::TileCodec& tiles() {
    if (!tiles_) {
      tiles_ = std::make_unique<cuda::TileCodec>(
          cuda::tile_model(codec_model_), [this](const Tensor& x) { return model_.g_a(x); },
          [this](const Tensor& x) { return model_.h_a(x); },
          [this](const Tensor& x) { return model_.g_s(x); });
    }
    return *tiles_;
  }
  const MeanScaleHyperprior& codec_model_;  // the codec's: integer h_s, tables, geometry
  MeanScaleHyperprior model_;               // its own copy of the CPU transforms
  bool whole_tiles_;
  std::unique_ptr<cuda::TileCodec> tiles_;
};

// Puts an Encoder's or Decoder's model on the emulated GPU (whole tiles, or stage by stage).
template <class Codec>
void use_emulated_gpu(Codec& c, const std::string& model_path, bool whole_tiles) {
  Architecture& a = internal::architecture(c);
  a.set_backend(std::make_unique<EmulatedGpu>(static_cast<MeanScaleHyperprior&>(a), model_path,
                                              whole_tiles));
}

}  // namespace nlc
