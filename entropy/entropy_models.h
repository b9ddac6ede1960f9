// Entropy models, likelihood side: the rate the trainer optimises, evaluated on the
// quantised latents. (The coder's CDF tables are built from the same models by the exporter
// and loaded with the model: models/cdf_tables.h.)
#pragma once

#include <vector>

#include "kernels/cpu/tensor.h"

namespace nlc {

inline constexpr double kLikelihoodBound = 1e-9;

// Factorized prior for z (Balle et al. 2018): per channel, a monotone cumulative c(x) built
// from small matrices; P(bin at v) = c(v + 1/2) - c(v - 1/2).
class EntropyBottleneck {
 public:
  EntropyBottleneck() = default;
  // Per layer i (dims = 1, filters..., 1): matrices [C][dims[i+1]][dims[i]], biases
  // [C][dims[i+1]], factors [C][dims[i+1]] (all but the last layer), effective values.
  EntropyBottleneck(int channels, std::vector<int> dims, std::vector<std::vector<float>> matrices,
                    std::vector<std::vector<float>> biases, std::vector<std::vector<float>> factors);
  int channels() const { return channels_; }
  // Logit of the cumulative of channel c at x.
  double logits_cumulative(int c, double x) const;
  double likelihood(int c, double v) const;
  // Total information, in bits, of the integer-valued tensor z_hat (NHWC, C == channels()).
  double bits(const Tensor& z_hat) const;

 private:
  int channels_ = 0;
  std::vector<int> dims_;                           // 1, filters..., 1
  std::vector<std::vector<float>> mats_, biases_, factors_;  // effective values, per layer
};

// y ~ N(mu, sigma^2) convolved with U(-1/2, 1/2), sigma bounded below by `scale_bound`.
struct GaussianConditional {
  double scale_bound = 0.11;
  double likelihood(double y_hat, double mu, double sigma) const;
  // Total bits of y_hat given per-element mu and sigma (all NHWC, same shape).
  double bits(const Tensor& y_hat, const Tensor& mu, const Tensor& sigma) const;
};

}  // namespace nlc
