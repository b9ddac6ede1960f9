// The mean-scale hyperprior with per-quality gains (architecture "mshp-gain-v1"), the C++
// twin of models/train/nlc_train/model.py. Layer names match the trainer's.
//
//   x -g_a-> y -*gain(q)-> y_g -h_a-> z -round-> z_hat -h_s-> (mu, sigma)
//   y_hat_g = round(y_g - mu) + mu -*inv_gain(q)-> y_hat -g_s-> x_hat
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "entropy/entropy_models.h"
#include "kernels/cpu/ops.h"
#include "models/integer_hs.h"
#include "models/nlcm.h"

namespace nlc {

enum class Backend { kReference, kOptimized };

// A chain of layers that runs on either backend. The optimised backend fuses a ReLU that
// follows a convolution into it.
class Sequential {
 public:
  struct Conv {
    ConvWeights w;
    std::unique_ptr<Conv2d> fast;
  };
  struct GdnLayer {
    GdnWeights w;
    std::unique_ptr<Gdn> fast;
  };
  struct Relu {};
  using Layer = std::variant<Conv, GdnLayer, Relu>;

  void add(Layer l) { layers_.push_back(std::move(l)); }
  void prepare();  // builds the optimised objects (fusing ReLUs)
  Tensor forward(const Tensor& x, Backend b);
  // The layers, in order (other backends, e.g. the CUDA one, build from them).
  const std::vector<Layer>& layers() const { return layers_; }

 private:
  std::vector<Layer> layers_;
  std::vector<bool> fused_;  // layer i is a ReLU fused into layer i-1
};

class MeanScaleHyperprior {
 public:
  static constexpr const char* kArch = "mshp-gain-v1";
  // Each image dimension is padded to a multiple of this before g_a.
  static constexpr int kAlign = 64;

  explicit MeanScaleHyperprior(const ModelFile& f, Backend backend = Backend::kOptimized);

  int N() const { return N_; }
  int M() const { return M_; }
  int num_qualities() const { return int(lambdas_.size()); }
  const std::vector<double>& lambdas() const { return lambdas_; }
  const std::string& identity_hex() const { return identity_hex_; }
  const std::array<uint8_t, 32>& identity() const { return identity_; }
  Backend backend() const { return backend_; }

  Tensor g_a(const Tensor& x) { return g_a_.forward(x, backend_); }
  Tensor g_s(const Tensor& y_hat) { return g_s_.forward(y_hat, backend_); }
  Tensor h_a(const Tensor& y_g) { return h_a_.forward(y_g, backend_); }
  Tensor h_s(const Tensor& z_hat) { return h_s_.forward(z_hat, backend_); }

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

 private:
  Backend backend_;
  int N_ = 0, M_ = 0;
  std::vector<double> lambdas_;
  std::array<uint8_t, 32> identity_{};
  std::string identity_hex_;
  Sequential g_a_, g_s_, h_a_, h_s_;
  std::vector<std::vector<float>> gain_, inv_gain_;
  EntropyBottleneck eb_;
  GaussianConditional gc_;
  IntegerHyperSynthesis int_hs_;
};

}  // namespace nlc
