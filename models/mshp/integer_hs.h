// Integer hyper-synthesis (docs/integer-hyperprior.md): h_s in int16 weights, int32
// accumulation and 12-bit fixed-point activations, so that mu and the scale index are
// bit-identical on every platform, compiler and thread count. The trainer's exact
// simulation is models/train/nlc_train/integer_hs.py; tests/golden_test.cc checks the two
// agree bit for bit.
#pragma once

#include <cstdint>
#include <vector>
#include <string>

#include "kernels/cpu/tensor.h"
#include "kernels/host_device.h"
#include "models/nlcm.h"

namespace nlc {

class IntegerHyperSynthesis {
 public:
  static constexpr int32_t kActMax = 4095;
  static constexpr int32_t kZClamp = 255;
  static constexpr int kOutFracBits = 8;
  static constexpr int64_t kOutClamp = int64_t(1) << 30;
  static constexpr int64_t kNumScales = 64;
  // mu = mu_q / 256 in float32 (exact while |mu_q| < 2^24); one expression shared by the
  // encoder, the decoder and the estimate path keeps them identical.
  NLC_HOST_DEVICE static float mu_value(int32_t mu_q) { return float(mu_q) / float(1 << kOutFracBits); }

  IntegerHyperSynthesis() = default;
  IntegerHyperSynthesis(const ModelFile& f, int N, int M);
  bool loaded() const { return !layers_.empty(); }

  struct Output {
    int n = 0, h = 0, w = 0, c = 0;  // c = M; arrays in NHWC order
    std::vector<int32_t> mu_q;       // mu = mu_q / 256
    std::vector<int32_t> sigma_q;    // sigma = sigma_q / 256 (before the table)
    std::vector<uint8_t> index;      // scale index in [0, num_scales)
  };
  // z_hat: integer-valued tensor [n,h,w,N]. `hidden`, when given, receives the last layer's
  // input activations (NHWC, 0..kActMax), which CLC's conditional branch reads.
  Output run(const Tensor& z_hat, std::vector<int32_t>* hidden = nullptr) const;
  // The scale index of a sigma_q: how many thresholds it reaches.
  uint8_t scale_index(int32_t sigma_q) const;

  const std::vector<float>& scale_table() const { return scales_; }

  // The layers as loaded (the CUDA path uploads them; models/mshp/cuda/integer_hs.cu).
  struct Layer {
    int cin = 0, cout = 0, k = 0, stride = 1, pad = 0, output_padding = 0;
    bool transposed = false;
    std::vector<int32_t> weight;  // [ky][kx][ci][co]: co contiguous for vectorised loops
    std::vector<int32_t> bias, mul;
    int shift = 0;
  };
  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<int32_t>& thresholds() const { return thresholds_; }
  int M() const { return M_; }
  // z_hat as the first layer's input: truncated and clamped to +-kZClamp.
  static std::vector<int32_t> input(const Tensor& z_hat);

  // One layer: int32 accumulation, then requantisation (see the doc); in: NHWC with l.cin
  // channels. Also CLC's branch (models/mshp/clc.cc).
  static std::vector<int64_t> conv(const Layer& l, const std::vector<int32_t>& in, int n,
                                   int h, int w, int& oh, int& ow);
  // A layer's integer tensors `prefix`.{weight,bias,mul,shift} from a model file, reordered
  // to [ky][kx][ci][co], with the proof that the int32 accumulator cannot overflow for
  // inputs bounded by in_max[ci] (ModelError otherwise).
  static Layer load_layer(const ModelFile& f, const std::string& prefix, Layer geometry,
                          const std::vector<int64_t>& in_max);

 private:
  std::vector<Layer> layers_;
  std::vector<int32_t> thresholds_;
  std::vector<float> scales_;
  int M_ = 0;
};

}  // namespace nlc
