// The mean-scale hyperprior with per-quality gains (architecture "mshp-gain-v1"), the C++
// twin of models/train/nlc_train/model.py. Layer names match the trainer's.
//
//   x -g_a-> y -*gain(q)-> y_g -h_a-> z -round-> z_hat -h_s-> (mu, sigma)
//   y_hat_g = round(y_g - mu) + mu -*inv_gain(q)-> y_hat -g_s-> x_hat
//
// As an Architecture (models/architecture.h) a tile is coded into two sections:
// HYPER_LATENT (z_hat, rANS lanes, one table per channel) and LATENT (round(y_g - mu), rANS
// lanes, one table per scale index of the integer h_s); models/mshp/codec.cc. A model with a
// CLC dictionary (models/mshp/clc.h) writes a REFERENCE section between the two and
// conditions mu and the scale index on the reference it names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "entropy/entropy_models.h"
#include "entropy/rans.h"
#include "models/architecture.h"
#include "models/mshp/backend.h"
#include "models/mshp/clc.h"
#include "models/mshp/geometry.h"
#include "models/mshp/integer_hs.h"
#include "models/nlcm.h"
#include "models/sequential.h"

namespace nlc {

namespace mshp {
// Section types (docs/bitstream.md).
inline constexpr uint8_t kHyperLatent = 0x01;  // a tile's z symbols (rANS lanes)
inline constexpr uint8_t kLatent = 0x02;       // a tile's y symbols (rANS lanes)
// A tile's sections, in order: without CLC, and with it (every type the architecture
// writes: the registry's list, for `nlc info`).
const std::vector<SectionKind>& section_kinds();
const std::vector<SectionKind>& clc_section_kinds();
}  // namespace mshp

class MeanScaleHyperprior final : public Architecture {
 public:
  static constexpr const char* kArch = mshp::kArch;
  static constexpr int kAlign = mshp::kAlign;

  explicit MeanScaleHyperprior(const ModelFile& f, Kernels kernels = Kernels::kOptimized);
  ~MeanScaleHyperprior() override;

  int N() const { return N_; }
  int M() const { return M_; }
  int num_qualities() const { return int(lambdas_.size()); }
  const std::vector<double>& lambdas() const { return lambdas_; }
  Kernels kernels() const { return kernels_; }

  // The model's own transforms on the CPU kernels it was loaded with.
  Tensor g_a(const Tensor& x) { return g_a_.forward(x, kernels_); }
  Tensor g_s(const Tensor& y_hat) { return g_s_.forward(y_hat, kernels_); }
  Tensor h_a(const Tensor& y_g) { return h_a_.forward(y_g, kernels_); }
  Tensor h_s(const Tensor& z_hat) { return h_s_.forward(z_hat, kernels_); }

  // Gain and inverse gain for continuous quality q in [0, Q-1]: exact trained vectors at
  // integer q, geometric interpolation between neighbours otherwise.
  struct Gains {
    std::vector<float> gain, inv_gain;
  };
  Gains gains(double q) const;

  struct Result {
    Tensor y, y_g, z, z_hat, mu, sigma, y_hat_g, y_hat, x_hat;
    double bits_z = 0, bits_y = 0;
  };
  // The whole model on x ([1,H,W,3] in [0,1], H and W multiples of kAlign), with rates
  // estimated from the entropy models' likelihoods. The entropy parameters come from the
  // integer h_s when the model has one (as the codec will use them), else from float h_s.
  Result forward(const Tensor& x, double q);
  bool has_integer_hs() const { return int_hs_.loaded(); }
  const IntegerHyperSynthesis& integer_hs() const { return int_hs_; }
  // mu and sigma tensors from the integer h_s output.
  void integer_params(const IntegerHyperSynthesis::Output& o, Tensor& mu, Tensor& sigma) const;

  // Helpers the forward pass is made of, exposed for stage-wise golden tests.
  static Tensor scale_channels(const Tensor& t, const std::vector<float>& g);
  // Splits h_s's output into mu (first M channels) and sigma (last M).
  void split_params(const Tensor& params, Tensor& mu, Tensor& sigma) const;
  // round-half-to-even, as torch.round.
  static Tensor round(const Tensor& t);
  static Tensor quantize_mean_subtracted(const Tensor& y_g, const Tensor& mu);

  // The transforms' layers (for other backends).
  const Sequential& g_a_layers() const { return g_a_; }
  const Sequential& h_a_layers() const { return h_a_; }
  const Sequential& g_s_layers() const { return g_s_; }

  const EntropyBottleneck& entropy_bottleneck() const { return eb_; }
  const GaussianConditional& gaussian_conditional() const { return gc_; }
  // The coder's quantised CDFs (present when has_integer_hs()): one per z channel, one per
  // scale index of the integer h_s.
  const std::vector<QuantizedCdf>& z_tables() const { return z_tables_; }
  const std::vector<QuantizedCdf>& y_tables() const { return y_tables_; }
  // The CLC dictionary and branch, when the model has them (else null).
  const mshp::ReferenceDictionary* clc() const { return clc_.get(); }

  // --- Architecture ---
  std::string arch() const override { return kArch; }
  double max_quality() const override { return num_qualities() - 1; }
  int align() const override { return kAlign; }
  int latent_stride() const override { return mshp::kLatentStride; }
  int stream_minor() const override { return clc_ ? 3 : 0; }
  const std::vector<SectionKind>& tile_sections() const override;
  std::vector<uint8_t> recognised_sections() const override;
  std::string mismatch_note(const bitstream::Parsed& p) const override;
  std::vector<std::pair<std::string, std::string>> describe() const override;
  void set_backend(std::unique_ptr<ArchBackend> b) override;
  const ArchBackend& backend() const override { return *backend_; }
  std::unique_ptr<ArchBackend> cpu_backend() const override;
  void encode_tile(const Image& tile, double q, std::vector<bitstream::Section>& out) override;
  std::vector<std::string> decode_tiles(const std::vector<TileJob>& jobs) override;
  Latent decode_latent(const bitstream::SectionView* sections, double q, int w, int h) override;
  Estimate estimate(const Image& img, double q) override;

 private:
  // Coding needs the integer h_s and the CDF tables; throws ModelError without them.
  void require_coding() const;
  // mu_q and the scale indices the coder uses for z_hat: the integer h_s on the backend, or,
  // with CLC, conditioned on the reference of `indices` (one routine for encoder, decoder
  // and estimate).
  IntegerHyperSynthesis::Output entropy_params(const Tensor& z_hat, const std::vector<int32_t>& indices) const;
  // The dequantised latent y_hat of one tile from its sections, on the backend.
  Tensor decode_y_hat(const bitstream::SectionView* sections, const Gains& gains, int w, int h);

  Kernels kernels_;
  std::string source_;
  int N_ = 0, M_ = 0;
  std::vector<double> lambdas_;
  Sequential g_a_, g_s_, h_a_, h_s_;
  std::vector<std::vector<float>> gain_, inv_gain_;
  EntropyBottleneck eb_;
  GaussianConditional gc_;
  IntegerHyperSynthesis int_hs_;
  std::vector<QuantizedCdf> z_tables_, y_tables_;
  std::unique_ptr<mshp::ReferenceDictionary> clc_;
  std::unique_ptr<mshp::Backend> backend_;
};

}  // namespace nlc
