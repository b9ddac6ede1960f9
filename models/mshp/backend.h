// Where the mean-scale hyperprior's stages run: a backend runs the transforms (g_a, h_a,
// g_s), the integer hyper-synthesis and the rANS coder, and may run whole tiles
// (encode_tile/decode_tiles: only pixels and streams cross to the host), which the
// architecture then prefers. The CPU is one backend (CpuBackend, below); the CUDA one is
// models/mshp/cuda/backend.cc, loaded through the GPU plugin.
//
// The integer h_s and the coder must be exact: the same mu_q, scale indices and streams as
// the CPU, so that streams decode identically wherever they are decoded. The float
// transforms may differ from the CPU's in the last bits (decoded pixels then differ by at
// most about one step of 8-bit rounding; an encoder may pick another latent where a value
// sits on a rounding boundary, which still gives a valid stream).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "entropy/rans.h"
#include "kernels/cpu/tensor.h"
#include "models/architecture.h"
#include "models/mshp/integer_hs.h"
#include "nlc/image.h"

namespace nlc {
class MeanScaleHyperprior;
}

namespace nlc::mshp {

inline constexpr const char* kArch = "mshp-gain-v1";

class Backend : public ArchBackend {
 public:
  std::string arch() const final { return kArch; }
  virtual Tensor g_a(const Tensor& x) = 0;
  virtual Tensor h_a(const Tensor& y_g) = 0;
  virtual Tensor g_s(const Tensor& y_hat) = 0;
  virtual IntegerHyperSynthesis::Output integer_hs(const Tensor& z_hat) = 0;
  virtual std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index,
                                           size_t n, const std::vector<QuantizedCdf>& tables,
                                           uint32_t lanes) = 0;
  virtual void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index,
                           size_t n, const std::vector<QuantizedCdf>& tables, int32_t* values) = 0;

  // Whole tiles. Same results as the stages above; false: not provided (the architecture
  // then runs the stages). One tile: pixels -> the HYPER_LATENT and LATENT payloads (gain:
  // the quality's).
  virtual bool encode_tile(const Image& /*tile*/, const std::vector<float>& /*gain*/,
                           std::vector<uint8_t>& /*z*/, std::vector<uint8_t>& /*y*/) {
    return false;
  }
  // Many tiles (of one or many images) at once: fills each job's tile and sets errors[j] to
  // "" or the message of the StreamError the CPU decoder throws for that tile.
  struct TileDecodeJob {
    const uint8_t* z;
    size_t z_size;
    const uint8_t* y;
    size_t y_size;
    const std::vector<float>* inv_gain;  // the stream's quality
    Image* tile;                         // width, height, channels set; pixels sized
  };
  virtual bool decode_tiles(const std::vector<TileDecodeJob>& /*jobs*/,
                            std::vector<std::string>& /*errors*/) {
    return false;
  }
};

// The CPU: the model's own transforms (reference or optimised kernels, as it was loaded),
// the integer h_s and the CPU rANS coder.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(MeanScaleHyperprior& m) : m_(m) {}
  std::string describe() const override { return "CPU"; }
  Tensor g_a(const Tensor& x) override;
  Tensor h_a(const Tensor& y_g) override;
  Tensor g_s(const Tensor& y_hat) override;
  IntegerHyperSynthesis::Output integer_hs(const Tensor& z_hat) override;
  std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                   const std::vector<QuantizedCdf>& tables,
                                   uint32_t lanes) override;
  void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                   const std::vector<QuantizedCdf>& tables, int32_t* values) override;

 private:
  MeanScaleHyperprior& m_;
};

}  // namespace nlc::mshp
