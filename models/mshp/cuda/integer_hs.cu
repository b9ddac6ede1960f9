// The integer hyper-synthesis on the GPU (docs/integer-hyperprior.md): one thread per output
// element, int32 accumulation over the same taps as the CPU (models/mshp/integer_hs.cc; with the
// load-time no-overflow bound the sum is exact in any order), the same requantisation, ReLU
// clamp, output clamp and threshold search, so mu_q and the scale index are identical.
// The per-element functions are __host__ __device__: host_emulation runs them in loops on
// the CPU, so machines without a GPU test the arithmetic too.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>

#include "kernels/conv_geometry.h"
#include "kernels/cuda/check.h"
#include "models/mshp/cuda/integer_hs_resident.h"
#include "models/mshp/cuda/mshp_cuda.h"

namespace nlc::cuda {
namespace {

using IHS = nlc::IntegerHyperSynthesis;

struct LayerArgs {
  int cin, cout, k, stride, pad, transposed;
  const int32_t *weight, *bias, *mul;  // weight [ky][kx][ci][co]
  int shift;
  int n, h, w, oh, ow;                  // input and output geometry
};

__host__ __device__ void output_size(const IHS::Layer& l, int h, int w, int& oh, int& ow) {
  oh = conv_output_size(h, l.k, l.stride, l.pad, l.output_padding, l.transposed);
  ow = conv_output_size(w, l.k, l.stride, l.pad, l.output_padding, l.transposed);
}

// Output element e = ((b * oh + oy) * ow + ox) * cout + co, requantised.
__host__ __device__ long long conv_element(const LayerArgs& a, const int32_t* in, long long e) {
  const int co = int(e % a.cout);
  long long r = e / a.cout;
  const int ox = int(r % a.ow);
  r /= a.ow;
  const int oy = int(r % a.oh);
  const int b = int(r / a.oh);
  int32_t acc = a.bias[co];
  for (int ky = 0; ky < a.k; ++ky)
    for (int kx = 0; kx < a.k; ++kx) {
      const int iy = conv_tap_input(oy, ky, a.stride, a.pad, a.transposed != 0, a.h);
      const int ix = conv_tap_input(ox, kx, a.stride, a.pad, a.transposed != 0, a.w);
      if (iy < 0 || ix < 0) continue;
      const int32_t* x = in + ((long long)(b * a.h + iy) * a.w + ix) * a.cin;
      const int32_t* wt = a.weight + (long long)(ky * a.k + kx) * a.cin * a.cout + co;
      for (int ci = 0; ci < a.cin; ++ci) acc += wt[(long long)ci * a.cout] * x[ci];
    }
  return ((long long)acc * a.mul[co] + (1ll << (a.shift - 1))) >> a.shift;
}

// Between layers: clamp to the 12-bit activation range (ReLU included).
__host__ __device__ int32_t activation(long long v) {
  return int32_t(v < 0 ? 0 : v > IHS::kActMax ? IHS::kActMax : v);
}

// Last layer output [pixels][2M] -> mu_q, sigma_q (if wanted), scale index for element
// e = p * M + c.
template <class Index>
__host__ __device__ void finish_element(const long long* r, int M, const int32_t* thresholds,
                                        int nthresholds, long long e, int32_t* mu_q,
                                        int32_t* sigma_q, Index* index) {
  const long long p = e / M, c = e % M;
  auto clamp = [](long long v) {
    return v < -IHS::kOutClamp ? -IHS::kOutClamp : v > IHS::kOutClamp ? IHS::kOutClamp : v;
  };
  const long long mu = clamp(r[p * 2 * M + c]), sg = clamp(r[p * 2 * M + M + c]);
  mu_q[e] = int32_t(mu);
  if (sigma_q) sigma_q[e] = int32_t(sg);
  int k = 0;  // how many thresholds sigma_q reaches (as std::upper_bound)
  while (k < nthresholds && thresholds[k] <= int32_t(sg)) ++k;
  index[e] = Index(k);
}

// The three per-element steps as functors for detail::for_each (kernel or host loop).
struct ConvStep {
  LayerArgs a;
  const int32_t* in;
  long long* out;
  __host__ __device__ void operator()(long long e) const { out[e] = conv_element(a, in, e); }
};
struct ActivationStep {
  const long long* r;
  int32_t* out;
  __host__ __device__ void operator()(long long e) const { out[e] = activation(r[e]); }
};
template <class Index>
struct FinishStep {
  const long long* r;
  int M;
  const int32_t* thresholds;
  int nthresholds;
  int32_t *mu_q, *sigma_q;
  Index* index;
  __host__ __device__ void operator()(long long e) const {
    finish_element(r, M, thresholds, nthresholds, e, mu_q, sigma_q, index);
  }
};

LayerArgs args(const IHS::Layer& l, const int32_t* weight, const int32_t* bias, const int32_t* mul,
               int n, int h, int w) {
  LayerArgs a{l.cin, l.cout, l.k, l.stride, l.pad, l.transposed ? 1 : 0, weight, bias, mul,
              l.shift, n, h, w, 0, 0};
  output_size(l, h, w, a.oh, a.ow);
  return a;
}

void check_input(const IHS& model, const Tensor& z_hat) {
  if (!model.loaded()) throw std::logic_error("integer h_s not loaded");
  if (z_hat.c() != model.layers()[0].cin) throw std::invalid_argument("integer h_s: wrong channels");
}

template <class Index>
void run_layers(const IHS& model, const detail::IntegerHsWeights& wt, const int32_t* in, int n,
                int h, int w, int32_t* mu_q, int32_t* sigma_q, Index* index) {
  if (!model.loaded()) throw std::logic_error("integer h_s not loaded");
  const bool gpu = wt.gpu;
  const auto& layers = model.layers();
  detail::Array<int32_t> act;  // the activations between layers
  detail::Array<long long> r;  // a layer's requantised output
  const int32_t* a = in;
  for (size_t li = 0; li < layers.size(); ++li) {
    const LayerArgs la = args(layers[li], wt.weight[li].get(), wt.bias[li].get(),
                              wt.mul[li].get(), n, h, w);
    const long long total = (long long)n * la.oh * la.ow * la.cout;
    r = detail::Array<long long>(size_t(total), gpu);
    detail::for_each(gpu, total, ConvStep{la, a, r.get()});
    h = la.oh;
    w = la.ow;
    if (li + 1 < layers.size()) {
      act = detail::Array<int32_t>(size_t(total), gpu);  // the previous one is no longer read
      detail::for_each(gpu, total, ActivationStep{r.get(), act.get()});
      a = act.get();
    }
  }
  const int M = model.M();
  detail::for_each(gpu, (long long)n * h * w * M,
                   FinishStep<Index>{r.get(), M, wt.thresholds.get(),
                                     int(model.thresholds().size()), mu_q, sigma_q, index});
}

}  // namespace

namespace detail {

std::unique_ptr<IntegerHsWeights> make_integer_hs_weights(const IHS& model, bool gpu) {
  if (!model.loaded()) throw std::logic_error("integer h_s not loaded");
  if (gpu && !available()) throw std::runtime_error("no usable CUDA device");
  auto w = std::make_unique<IntegerHsWeights>();
  w->gpu = gpu;
  for (const auto& l : model.layers()) {
    w->weight.emplace_back(l.weight.data(), l.weight.size(), gpu);
    w->bias.emplace_back(l.bias.data(), l.bias.size(), gpu);
    w->mul.emplace_back(l.mul.data(), l.mul.size(), gpu);
  }
  w->thresholds = Array<int32_t>(model.thresholds().data(), model.thresholds().size(), gpu);
  return w;
}

void integer_hs_output_size(const IHS& model, int h, int w, int& oh, int& ow) {
  for (const auto& l : model.layers()) {
    output_size(l, h, w, oh, ow);
    h = oh;
    w = ow;
  }
}

void integer_hs(const IHS& model, const IntegerHsWeights& weights, const int32_t* in, int n,
                int h, int w, int32_t* mu_q, int32_t* sigma_q, uint16_t* table_index) {
  run_layers(model, weights, in, n, h, w, mu_q, sigma_q, table_index);
}
void integer_hs(const IHS& model, const IntegerHsWeights& weights, const int32_t* in, int n,
                int h, int w, int32_t* mu_q, int32_t* sigma_q, uint8_t* index) {
  run_layers(model, weights, in, n, h, w, mu_q, sigma_q, index);
}

}  // namespace detail

namespace {
// IntegerHyperSynthesis::run on z_hat with the weights where they are.
IHS::Output run_on(const IHS& model, const detail::IntegerHsWeights& wt, const Tensor& z_hat) {
  check_input(model, z_hat);
  const bool gpu = wt.gpu;
  const std::vector<int32_t> in = IHS::input(z_hat);
  detail::Array<int32_t> din(in.data(), in.size(), gpu);
  IHS::Output o;
  o.n = z_hat.n(), o.c = model.M();
  detail::integer_hs_output_size(model, z_hat.h(), z_hat.w(), o.h, o.w);
  const size_t total = size_t(o.n) * o.h * o.w * o.c;
  detail::Array<int32_t> mu(total, gpu), sg(total, gpu);
  detail::Array<uint8_t> idx(total, gpu);
  detail::integer_hs(model, wt, din.get(), z_hat.n(), z_hat.h(), z_hat.w(), mu.get(), sg.get(),
                     idx.get());
  o.mu_q = mu.to_vector();
  o.sigma_q = sg.to_vector();
  o.index = idx.to_vector();
  return o;
}
}  // namespace

IntegerHyperSynthesisGpu::IntegerHyperSynthesisGpu(const IHS& model)
    : model_(model), w_(detail::make_integer_hs_weights(model, true)) {}
IntegerHyperSynthesisGpu::~IntegerHyperSynthesisGpu() = default;

IHS::Output IntegerHyperSynthesisGpu::run(const Tensor& z_hat) const { return run_on(model_, *w_, z_hat); }

namespace host_emulation {
IHS::Output integer_hs(const IHS& model, const Tensor& z_hat) {
  return run_on(model, *detail::make_integer_hs_weights(model, false), z_hat);
}
}  // namespace host_emulation

}  // namespace nlc::cuda
