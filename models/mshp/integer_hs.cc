#include "models/mshp/integer_hs.h"
#include "models/mshp/quantize.h"
#include "kernels/conv_geometry.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace nlc {

IntegerHyperSynthesis::Layer IntegerHyperSynthesis::load_layer(const ModelFile& f,
                                                               const std::string& p, Layer l,
                                                               const std::vector<int64_t>& in_max) {
  if (in_max.size() != size_t(l.cin)) throw std::logic_error("load_layer: in_max size");
  std::vector<int64_t> wd = l.transposed ? std::vector<int64_t>{l.cin, l.cout, l.k, l.k}
                                         : std::vector<int64_t>{l.cout, l.cin, l.k, l.k};
  const auto& w = f.int_tensor(p + ".weight", wd);
  l.bias = f.int_tensor(p + ".bias", {l.cout});
  l.mul = f.int_tensor(p + ".mul", {l.cout});
  l.shift = f.int_tensor(p + ".shift", {1})[0];
  if (l.shift < 1 || l.shift > 31) throw ModelError(f.source + ": bad shift in " + p);
  for (int32_t m : l.mul)
    if (m < 0) throw ModelError(f.source + ": negative multiplier in " + p);
  // Reorder PyTorch's layout to [ky][kx][ci][co].
  l.weight.resize(w.size());
  const int K = l.k;
  for (int co = 0; co < l.cout; ++co)
    for (int ci = 0; ci < l.cin; ++ci)
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx) {
          size_t src = l.transposed ? ((size_t(ci) * l.cout + co) * K + ky) * K + kx
                                    : ((size_t(co) * l.cin + ci) * K + ky) * K + kx;
          l.weight[((size_t(ky) * K + kx) * l.cin + ci) * l.cout + co] = w[src];
        }
  // The accumulation must not overflow for any input: check the exporter's bound
  // |bias| + sum |w| * max|input| < 2^31 over the taps that meet in one output (for a
  // stride-s transposed convolution: one output phase, ky = kx = const mod s).
  const int phases = l.transposed ? l.stride : 1;
  for (int co = 0; co < l.cout; ++co)
    for (int py = 0; py < phases; ++py)
      for (int px = 0; px < phases; ++px) {
        int64_t sum = std::abs(int64_t(l.bias[co]));
        for (int ky = py; ky < K; ky += phases)
          for (int kx = px; kx < K; kx += phases)
            for (int ci = 0; ci < l.cin; ++ci)
              sum += std::abs(int64_t(l.weight[((size_t(ky) * K + kx) * l.cin + ci) * l.cout + co])) * in_max[ci];
        if (sum >= (int64_t(1) << 31))
          throw ModelError(f.source + ": integer layer " + p + " could overflow its int32 accumulator");
      }
  return l;
}

IntegerHyperSynthesis::IntegerHyperSynthesis(const ModelFile& f, int N, int M) : M_(M) {
  struct Spec {
    int cin, cout, k, stride, pad, op;
    bool transposed;
  };
  const Spec specs[3] = {{N, M, 5, 2, 2, 1, true},
                         {M, M * 3 / 2, 5, 2, 2, 1, true},
                         {M * 3 / 2, 2 * M, 3, 1, 1, 0, false}};
  for (int li = 0; li < 3; ++li) {
    const Spec& s = specs[li];
    Layer g;
    g.cin = s.cin;
    g.cout = s.cout;
    g.k = s.k;
    g.stride = s.stride;
    g.pad = s.pad;
    g.output_padding = s.op;
    g.transposed = s.transposed;
    const std::vector<int64_t> in_max(size_t(s.cin), li == 0 ? kZClamp : kActMax);
    layers_.push_back(load_layer(f, "h_s_int." + std::to_string(li), g, in_max));
  }
  // docs/model-format.md fixes the table at kNumScales scales (kNumScales - 1 thresholds).
  thresholds_ = f.int_tensor("h_s_int.thresholds", {kNumScales - 1});
  for (size_t i = 1; i < thresholds_.size(); ++i)
    if (thresholds_[i] < thresholds_[i - 1]) throw ModelError(f.source + ": unsorted thresholds");
  scales_ = f.tensor("scale_table", {kNumScales}).data;
}

namespace {

// Output row `row` (= b * oh + oy) of one layer, requantised into out. Exact int32 arithmetic,
// so every instruction set gives the same result; built twice (target_clones: AVX2, where
// the co loop becomes 8-lane vpmulld/vpaddd, and the baseline, whose SSE2 has no 32-bit
// multiply) and picked at load time by the CPU.
__attribute__((target_clones("avx2", "default")))
void conv_row(const IntegerHyperSynthesis::Layer& l, const int32_t* in, int h, int w, int oh,
              int ow, int row, int32_t* acc, int64_t* out) {
  const int K = l.k, S = l.stride, C = l.cout;
  const int b = row / oh, oy = row % oh;
  for (int ox = 0; ox < ow; ++ox) {
    std::copy(l.bias.begin(), l.bias.end(), acc);
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) {
        const int iy = conv_tap_input(oy, ky, S, l.pad, l.transposed, h);
        const int ix = conv_tap_input(ox, kx, S, l.pad, l.transposed, w);
        if (iy < 0 || ix < 0) continue;
        const int32_t* a = &in[((size_t(b) * h + iy) * w + ix) * l.cin];
        const int32_t* wt = &l.weight[(size_t(ky) * K + kx) * l.cin * C];
        for (int ci = 0; ci < l.cin; ++ci) {
          const int32_t av = a[ci];
          if (av == 0) continue;  // common after ReLU; skipping changes nothing exact
          const int32_t* wr = wt + size_t(ci) * C;
          // No overflow: the exporter bounds |bias| + sum|w| * max|a| below 2^31.
          for (int co = 0; co < C; ++co) acc[co] += wr[co] * av;
        }
      }
    int64_t* o = &out[(size_t(row) * ow + ox) * C];
    for (int co = 0; co < C; ++co)
      o[co] = (int64_t(acc[co]) * l.mul[co] + (int64_t(1) << (l.shift - 1))) >> l.shift;
  }
}

}  // namespace

std::vector<int64_t> IntegerHyperSynthesis::conv(const Layer& l, const std::vector<int32_t>& in,
                                                 int n, int h, int w, int& oh, int& ow) {
  const int K = l.k, S = l.stride, C = l.cout;
  oh = conv_output_size(h, K, S, l.pad, l.output_padding, l.transposed);
  ow = conv_output_size(w, K, S, l.pad, l.output_padding, l.transposed);
  std::vector<int64_t> out(size_t(n) * oh * ow * C);
  const int rows = n * oh;
#pragma omp parallel
  {
    std::vector<int32_t> acc(static_cast<size_t>(C));
#pragma omp for schedule(static)
    for (int row = 0; row < rows; ++row) conv_row(l, in.data(), h, w, oh, ow, row, acc.data(), out.data());
  }
  return out;
}

std::vector<int32_t> IntegerHyperSynthesis::input(const Tensor& z_hat) {
  std::vector<int32_t> a(z_hat.numel());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = quant::hs_input(quant::symbol(z_hat.data()[i]));  // as the GPU pipeline
  }
  return a;
}

uint8_t IntegerHyperSynthesis::scale_index(int32_t sigma_q) const {
  return uint8_t(std::upper_bound(thresholds_.begin(), thresholds_.end(), sigma_q) - thresholds_.begin());
}

IntegerHyperSynthesis::Output IntegerHyperSynthesis::run(const Tensor& z_hat,
                                                         std::vector<int32_t>* hidden) const {
  if (!loaded()) throw std::logic_error("integer h_s not loaded");
  if (z_hat.c() != layers_[0].cin) throw std::invalid_argument("integer h_s: wrong channels");
  int n = z_hat.n(), h = z_hat.h(), w = z_hat.w();
  std::vector<int32_t> a = input(z_hat);
  std::vector<int64_t> r;
  for (size_t li = 0; li < layers_.size(); ++li) {
    int oh = 0, ow = 0;
    r = conv(layers_[li], a, n, h, w, oh, ow);
    h = oh;
    w = ow;
    if (li + 1 < layers_.size()) {
      a.resize(r.size());
      for (size_t i = 0; i < r.size(); ++i) a[i] = int32_t(std::clamp<int64_t>(r[i], 0, kActMax));
      if (hidden && li + 2 == layers_.size()) *hidden = a;
    }
  }
  Output o;
  o.n = n;
  o.h = h;
  o.w = w;
  o.c = M_;
  const size_t pixels = size_t(n) * h * w;
  o.mu_q.resize(pixels * M_);
  o.sigma_q.resize(pixels * M_);
  o.index.resize(pixels * M_);
  for (size_t p = 0; p < pixels; ++p)
    for (int c = 0; c < M_; ++c) {
      int64_t mu = std::clamp(r[p * 2 * M_ + c], -kOutClamp, kOutClamp);
      int64_t sg = std::clamp(r[p * 2 * M_ + M_ + c], -kOutClamp, kOutClamp);
      o.mu_q[p * M_ + c] = int32_t(mu);
      o.sigma_q[p * M_ + c] = int32_t(sg);
      o.index[p * M_ + c] = scale_index(int32_t(sg));
    }
  return o;
}

}  // namespace nlc
