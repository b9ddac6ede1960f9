#include "models/hyperprior.h"

#include <cmath>
#include <stdexcept>

namespace nlc {

void Sequential::prepare() {
  fused_.assign(layers_.size(), false);
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (auto* c = std::get_if<Conv>(&layers_[i])) {
      bool relu_next = i + 1 < layers_.size() && std::holds_alternative<Relu>(layers_[i + 1]);
      c->fast = std::make_unique<Conv2d>(c->w, relu_next);
      if (relu_next) fused_[i + 1] = true;
    } else if (auto* g = std::get_if<GdnLayer>(&layers_[i])) {
      g->fast = std::make_unique<Gdn>(g->w);
    }
  }
}

Tensor Sequential::forward(const Tensor& x, Backend b) {
  Tensor cur = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    if (auto* c = std::get_if<Conv>(&l)) {
      cur = b == Backend::kReference ? ref::conv2d(cur, c->w) : c->fast->forward(cur);
    } else if (auto* g = std::get_if<GdnLayer>(&l)) {
      cur = b == Backend::kReference ? ref::gdn(cur, g->w) : g->fast->forward(cur);
    } else if (b == Backend::kReference) {
      ref::relu(cur);
    } else if (!fused_[i]) {
      relu_inplace(cur);
    }
  }
  return cur;
}

namespace {

Sequential::Conv conv_layer(const ModelFile& f, const std::string& name, int cin, int cout,
                            int k, int stride, bool transposed) {
  Sequential::Conv c;
  c.w.spec = ConvSpec{cin, cout, k, stride, k / 2, transposed ? stride - 1 : 0, transposed};
  std::vector<int64_t> wd = transposed ? std::vector<int64_t>{cin, cout, k, k}
                                       : std::vector<int64_t>{cout, cin, k, k};
  c.w.weight = f.tensor(name + ".weight", wd).data;
  c.w.bias = f.tensor(name + ".bias", {cout}).data;
  return c;
}

Sequential::GdnLayer gdn_layer(const ModelFile& f, const std::string& name, int c,
                               bool inverse) {
  Sequential::GdnLayer g;
  g.w.channels = c;
  g.w.inverse = inverse;
  g.w.beta = f.tensor(name + ".beta", {c}).data;
  g.w.gamma = f.tensor(name + ".gamma", {c, c}).data;
  return g;
}

}  // namespace

MeanScaleHyperprior::MeanScaleHyperprior(const ModelFile& f, Backend backend)
    : backend_(backend) {
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
  eb_ = EntropyBottleneck(f, N_);
  auto it = f.params.find("h_s_integer");
  if (it != f.params.end() && std::holds_alternative<int64_t>(it->second) &&
      std::get<int64_t>(it->second) == 1)
    int_hs_ = IntegerHyperSynthesis(f, N_, M_);
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
  if (int_hs_.loaded()) {
    integer_params(int_hs_.run(r.z_hat), r.mu, r.sigma);
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
