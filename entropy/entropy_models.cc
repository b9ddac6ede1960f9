#include "entropy/entropy_models.h"

#include <cmath>
#include <stdexcept>
#include <utility>

namespace nlc {

EntropyBottleneck::EntropyBottleneck(int channels, std::vector<int> dims,
                                     std::vector<std::vector<float>> matrices,
                                     std::vector<std::vector<float>> biases,
                                     std::vector<std::vector<float>> factors)
    : channels_(channels), dims_(std::move(dims)), mats_(std::move(matrices)),
      biases_(std::move(biases)), factors_(std::move(factors)) {
  bool ok = channels_ > 0 && dims_.size() >= 2 && dims_.front() == 1 && dims_.back() == 1 &&
            mats_.size() + 1 == dims_.size() && biases_.size() == mats_.size() &&
            factors_.size() + 1 == mats_.size();
  for (size_t i = 0; ok && i + 1 < dims_.size(); ++i) {
    const size_t in = size_t(dims_[i]), out = size_t(dims_[i + 1]), C = size_t(channels_);
    ok = dims_[i + 1] > 0 && dims_[i + 1] <= 64 && mats_[i].size() == C * out * in &&
         biases_[i].size() == C * out && (i + 2 >= dims_.size() || factors_[i].size() == C * out);
  }
  if (!ok) throw std::invalid_argument("EntropyBottleneck: inconsistent parameters");
}

double EntropyBottleneck::logits_cumulative(int c, double x) const {
  double cur[64], next[64];
  cur[0] = x;
  for (size_t l = 0; l + 1 < dims_.size(); ++l) {
    const int in = dims_[l], out = dims_[l + 1];
    const float* m = mats_[l].data() + size_t(c) * out * in;
    const float* b = biases_[l].data() + size_t(c) * out;
    for (int o = 0; o < out; ++o) {
      double acc = b[o];
      for (int i = 0; i < in; ++i) acc += double(m[o * in + i]) * cur[i];
      if (l < factors_.size()) acc += double(factors_[l][size_t(c) * out + o]) * std::tanh(acc);
      next[o] = acc;
    }
    for (int o = 0; o < out; ++o) cur[o] = next[o];
  }
  return cur[0];
}

static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double EntropyBottleneck::likelihood(int c, double v) const {
  double lower = logits_cumulative(c, v - 0.5), upper = logits_cumulative(c, v + 0.5);
  // Evaluate on the side of the median where the sigmoids are far from 1 (as the trainer).
  double s = lower + upper > 0 ? -1.0 : (lower + upper < 0 ? 1.0 : 0.0);
  double lik = std::fabs(sigmoid(s * upper) - sigmoid(s * lower));
  return std::max(lik, kLikelihoodBound);
}

double EntropyBottleneck::bits(const Tensor& z_hat) const {
  if (z_hat.c() != channels_) throw std::invalid_argument("EntropyBottleneck channel mismatch");
  double total = 0;
  const size_t pixels = z_hat.numel() / size_t(channels_);
  for (size_t p = 0; p < pixels; ++p)
    for (int c = 0; c < channels_; ++c)
      total -= std::log2(likelihood(c, z_hat.data()[p * channels_ + c]));
  return total;
}

double GaussianConditional::likelihood(double y_hat, double mu, double sigma) const {
  sigma = std::max(sigma, scale_bound);
  double v = std::fabs(y_hat - mu);
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  return std::max(cdf((0.5 - v) / sigma) - cdf((-0.5 - v) / sigma), kLikelihoodBound);
}

double GaussianConditional::bits(const Tensor& y_hat, const Tensor& mu,
                                 const Tensor& sigma) const {
  if (!(y_hat.shape() == mu.shape()) || !(y_hat.shape() == sigma.shape()))
    throw std::invalid_argument("GaussianConditional shape mismatch");
  double total = 0;
  for (size_t i = 0; i < y_hat.numel(); ++i)
    total -= std::log2(likelihood(y_hat.data()[i], mu.data()[i], sigma.data()[i]));
  return total;
}

}  // namespace nlc
