#include "models/mshp/hyperprior.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "models/cdf_tables.h"

namespace nlc {
namespace {

// The factorized prior of z as the trainer exports it (entropy_bottleneck.*; eb_filters).
EntropyBottleneck load_entropy_bottleneck(const ModelFile& f, int channels) {
  auto it = f.params.find("eb_filters");
  if (it == f.params.end() || !std::holds_alternative<std::string>(it->second))
    throw ModelError(f.source + ": model lacks 'eb_filters'");
  std::vector<int> dims = {1};
  std::stringstream ss(std::get<std::string>(it->second));
  for (std::string tok; std::getline(ss, tok, ',');) {
    int v = std::atoi(tok.c_str());
    if (v <= 0 || v > 64) throw ModelError(f.source + ": bad 'eb_filters'");
    dims.push_back(v);
  }
  dims.push_back(1);
  const int64_t C = channels;
  std::vector<std::vector<float>> mats, biases, factors;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    const std::string k = std::to_string(i);
    mats.push_back(f.tensor("entropy_bottleneck.matrices." + k, {C, dims[i + 1], dims[i]}).data);
    biases.push_back(f.tensor("entropy_bottleneck.biases." + k, {C, dims[i + 1], 1}).data);
    if (i + 2 < dims.size())
      factors.push_back(f.tensor("entropy_bottleneck.factors." + k, {C, dims[i + 1], 1}).data);
  }
  return EntropyBottleneck(channels, std::move(dims), std::move(mats), std::move(biases),
                           std::move(factors));
}

}  // namespace


MeanScaleHyperprior::~MeanScaleHyperprior() = default;

MeanScaleHyperprior::MeanScaleHyperprior(const ModelFile& f, Kernels kernels)
    : kernels_(kernels), source_(f.source) {
  if (f.arch != kArch)
    throw ModelError(f.source + ": architecture '" + f.arch + "' is not supported (expected '" +
                     kArch + "')");
  int64_t N = f.param_int("N"), M = f.param_int("M"), Q = f.param_int("num_qualities");
  if (N <= 0 || N > 4096 || M <= 0 || M > 4096 || M % 2 || Q < 2 || Q > 64)
    throw ModelError(f.source + ": implausible model hyperparameters");
  N_ = int(N);
  M_ = int(M);
  lambdas_ = f.param_floats("lambdas");
  if (int64_t(lambdas_.size()) != Q) throw ModelError(f.source + ": lambdas/num_qualities mismatch");
  gc_.scale_bound = f.param_float("scale_bound");
  identity_ = f.identity;
  identity_hex_ = f.identity_hex();
  const int n = N_, m = M_;
  g_a_.add(conv_layer(f, "g_a.0", 3, n, 5, 2, false));
  g_a_.add(gdn_layer(f, "g_a.1", n, false));
  g_a_.add(conv_layer(f, "g_a.2", n, n, 5, 2, false));
  g_a_.add(gdn_layer(f, "g_a.3", n, false));
  g_a_.add(conv_layer(f, "g_a.4", n, n, 5, 2, false));
  g_a_.add(gdn_layer(f, "g_a.5", n, false));
  g_a_.add(conv_layer(f, "g_a.6", n, m, 5, 2, false));

  g_s_.add(conv_layer(f, "g_s.0", m, n, 5, 2, true));
  g_s_.add(gdn_layer(f, "g_s.1", n, true));
  g_s_.add(conv_layer(f, "g_s.2", n, n, 5, 2, true));
  g_s_.add(gdn_layer(f, "g_s.3", n, true));
  g_s_.add(conv_layer(f, "g_s.4", n, n, 5, 2, true));
  g_s_.add(gdn_layer(f, "g_s.5", n, true));
  g_s_.add(conv_layer(f, "g_s.6", n, 3, 5, 2, true));

  h_a_.add(conv_layer(f, "h_a.0", m, n, 3, 1, false));
  h_a_.add(Sequential::Relu{});
  h_a_.add(conv_layer(f, "h_a.2", n, n, 5, 2, false));
  h_a_.add(Sequential::Relu{});
  h_a_.add(conv_layer(f, "h_a.4", n, n, 5, 2, false));

  h_s_.add(conv_layer(f, "h_s.0", n, m, 5, 2, true));
  h_s_.add(Sequential::Relu{});
  h_s_.add(conv_layer(f, "h_s.2", m, m * 3 / 2, 5, 2, true));
  h_s_.add(Sequential::Relu{});
  h_s_.add(conv_layer(f, "h_s.4", m * 3 / 2, 2 * m, 3, 1, false));

  for (Sequential* s : {&g_a_, &g_s_, &h_a_, &h_s_}) s->prepare();

  const auto& g = f.tensor("gain", {Q, M}).data;
  const auto& ig = f.tensor("inv_gain", {Q, M}).data;
  for (int64_t q = 0; q < Q; ++q) {
    gain_.emplace_back(g.begin() + q * M, g.begin() + (q + 1) * M);
    inv_gain_.emplace_back(ig.begin() + q * M, ig.begin() + (q + 1) * M);
    for (int64_t c = 0; c < M; ++c)
      if (!(gain_.back()[c] > 0.f) || !(inv_gain_.back()[c] > 0.f) ||
          !std::isfinite(gain_.back()[c]) || !std::isfinite(inv_gain_.back()[c]))
        throw ModelError(f.source + ": gain vectors must be positive and finite");
  }
  eb_ = load_entropy_bottleneck(f, N_);
  auto it = f.params.find("h_s_integer");
  if (it != f.params.end() && std::holds_alternative<int64_t>(it->second) &&
      std::get<int64_t>(it->second) == 1) {
    int_hs_ = IntegerHyperSynthesis(f, N_, M_);
    z_tables_ = load_cdf_tables(f, "z", size_t(N_));
    y_tables_ = load_cdf_tables(f, "gaussian", int_hs_.scale_table().size());
  }
  if (mshp::ReferenceDictionary::present(f)) {
    if (!int_hs_.loaded()) throw ModelError(f.source + ": a CLC model needs the integer h_s");
    clc_ = std::make_unique<mshp::ReferenceDictionary>(f, M_, M_ * 3 / 2);
  }
  backend_ = std::make_unique<mshp::CpuBackend>(*this);
}

void MeanScaleHyperprior::integer_params(const IntegerHyperSynthesis::Output& o, Tensor& mu,
                                         Tensor& sigma) const {
  Shape s{o.n, o.h, o.w, o.c};
  mu = Tensor::uninitialized(s);
  sigma = Tensor::uninitialized(s);
  const auto& table = int_hs_.scale_table();
  for (size_t i = 0; i < s.numel(); ++i) {
    mu.data()[i] = IntegerHyperSynthesis::mu_value(o.mu_q[i]);
    sigma.data()[i] = table[o.index[i]];
  }
}

MeanScaleHyperprior::Gains MeanScaleHyperprior::gains(double q) const {
  const int Q = num_qualities();
  if (!(q >= 0.0 && q <= Q - 1))
    throw std::invalid_argument("quality " + std::to_string(q) + " is outside [0, " +
                                std::to_string(Q - 1) + "]");
  int lo = std::min(int(std::floor(q)), Q - 2);
  double t = q - lo;
  Gains r;
  if (t == 0.0) return {gain_[lo], inv_gain_[lo]};
  if (t == 1.0) return {gain_[lo + 1], inv_gain_[lo + 1]};
  r.gain.resize(M_);
  r.inv_gain.resize(M_);
  for (int c = 0; c < M_; ++c) {
    r.gain[c] = float(std::exp((1 - t) * std::log(gain_[lo][c]) + t * std::log(gain_[lo + 1][c])));
    r.inv_gain[c] = float(
        std::exp((1 - t) * std::log(inv_gain_[lo][c]) + t * std::log(inv_gain_[lo + 1][c])));
  }
  return r;
}

Tensor MeanScaleHyperprior::scale_channels(const Tensor& t, const std::vector<float>& g) {
  if (size_t(t.c()) != g.size()) throw std::invalid_argument("gain size mismatch");
  Tensor r(t.shape());
  const size_t C = g.size();
  for (size_t i = 0; i < t.numel(); ++i) r.data()[i] = t.data()[i] * g[i % C];
  return r;
}

void MeanScaleHyperprior::split_params(const Tensor& params, Tensor& mu, Tensor& sigma) const {
  if (params.c() != 2 * M_) throw std::invalid_argument("h_s output has the wrong channels");
  Shape s{params.n(), params.h(), params.w(), M_};
  mu = Tensor(s);
  sigma = Tensor(s);
  const size_t pixels = s.numel() / M_;
  for (size_t p = 0; p < pixels; ++p)
    for (int c = 0; c < M_; ++c) {
      mu.data()[p * M_ + c] = params.data()[p * 2 * M_ + c];
      sigma.data()[p * M_ + c] = params.data()[p * 2 * M_ + M_ + c];
    }
}

Tensor MeanScaleHyperprior::round(const Tensor& t) {
  Tensor r(t.shape());
  for (size_t i = 0; i < t.numel(); ++i) r.data()[i] = std::nearbyint(t.data()[i]);
  return r;
}

Tensor MeanScaleHyperprior::quantize_mean_subtracted(const Tensor& y_g, const Tensor& mu) {
  if (!(y_g.shape() == mu.shape())) throw std::invalid_argument("y/mu shape mismatch");
  Tensor r(y_g.shape());
  for (size_t i = 0; i < r.numel(); ++i)
    r.data()[i] = std::nearbyint(y_g.data()[i] - mu.data()[i]) + mu.data()[i];
  return r;
}

MeanScaleHyperprior::Result MeanScaleHyperprior::forward(const Tensor& x, double q) {
  if (x.c() != 3 || x.n() != 1 || x.h() % kAlign || x.w() % kAlign || x.h() == 0 || x.w() == 0)
    throw std::invalid_argument("forward expects [1,H,W,3] with H, W multiples of 64, got " +
                                x.shape().str());
  Gains g = gains(q);
  Result r;
  r.y = g_a(x);
  r.y_g = scale_channels(r.y, g.gain);
  r.z = h_a(r.y_g);
  r.z_hat = round(r.z);
  if (int_hs_.loaded()) {  // the entropy parameters the codec codes with
    integer_params(entropy_params(r.z_hat, clc_ ? clc_->match(r.y) : std::vector<int32_t>{}), r.mu, r.sigma);
  } else {
    split_params(h_s(r.z_hat), r.mu, r.sigma);
  }
  r.y_hat_g = quantize_mean_subtracted(r.y_g, r.mu);
  r.y_hat = scale_channels(r.y_hat_g, g.inv_gain);
  r.x_hat = g_s(r.y_hat);
  r.bits_z = eb_.bits(r.z_hat);
  r.bits_y = gc_.bits(r.y_hat_g, r.mu, r.sigma);
  return r;
}

}  // namespace nlc
