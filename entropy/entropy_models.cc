#include "entropy/entropy_models.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace nlc {

EntropyBottleneck::EntropyBottleneck(const ModelFile& f, int channels) : channels_(channels) {
  auto it = f.params.find("eb_filters");
  if (it == f.params.end() || !std::holds_alternative<std::string>(it->second))
    throw ModelError(f.source + ": model lacks 'eb_filters'");
  dims_ = {1};
  std::stringstream ss(std::get<std::string>(it->second));
  for (std::string tok; std::getline(ss, tok, ',');) {
    int v = std::atoi(tok.c_str());
    if (v <= 0 || v > 64) throw ModelError(f.source + ": bad 'eb_filters'");
    dims_.push_back(v);
  }
  dims_.push_back(1);
  const int64_t C = channels;
  for (size_t i = 0; i + 1 < dims_.size(); ++i) {
    const std::string k = std::to_string(i);
    mats_.push_back(
        f.tensor("entropy_bottleneck.matrices." + k, {C, dims_[i + 1], dims_[i]}).data);
    biases_.push_back(f.tensor("entropy_bottleneck.biases." + k, {C, dims_[i + 1], 1}).data);
    if (i + 2 < dims_.size())
      factors_.push_back(
          f.tensor("entropy_bottleneck.factors." + k, {C, dims_[i + 1], 1}).data);
  }
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
