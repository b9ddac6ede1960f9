// The integer hyper-synthesis on the GPU (docs/integer-hyperprior.md): one thread per output
// element, int32 accumulation over the same taps as the CPU (models/integer_hs.cc; with the
// load-time no-overflow bound the sum is exact in any order), the same requantisation, ReLU
// clamp, output clamp and threshold search, so mu_q and the scale index are identical.
// The per-element functions are __host__ __device__: host_emulation runs them in loops on
// the CPU, so machines without a GPU test the arithmetic too.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda.h"

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
  if (l.transposed) {
    oh = (h - 1) * l.stride - 2 * l.pad + l.k + l.output_padding;
    ow = (w - 1) * l.stride - 2 * l.pad + l.k + l.output_padding;
  } else {
    oh = (h + 2 * l.pad - l.k) / l.stride + 1;
    ow = (w + 2 * l.pad - l.k) / l.stride + 1;
  }
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
      int iy, ix;
      if (a.transposed) {
        const int ty = oy + a.pad - ky, tx = ox + a.pad - kx;
        if (ty < 0 || tx < 0 || ty % a.stride || tx % a.stride) continue;
        iy = ty / a.stride;
        ix = tx / a.stride;
      } else {
        iy = oy * a.stride - a.pad + ky;
        ix = ox * a.stride - a.pad + kx;
      }
      if (iy < 0 || ix < 0 || iy >= a.h || ix >= a.w) continue;
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

// Last layer output [pixels][2M] -> mu_q, sigma_q, scale index for element e = p * M + c.
__host__ __device__ void finish_element(const long long* r, int M, const int32_t* thresholds,
                                        int nthresholds, long long e, int32_t* mu_q,
                                        int32_t* sigma_q, uint8_t* index) {
  const long long p = e / M, c = e % M;
  auto clamp = [](long long v) {
    return v < -IHS::kOutClamp ? -IHS::kOutClamp : v > IHS::kOutClamp ? IHS::kOutClamp : v;
  };
  const long long mu = clamp(r[p * 2 * M + c]), sg = clamp(r[p * 2 * M + M + c]);
  mu_q[e] = int32_t(mu);
  sigma_q[e] = int32_t(sg);
  int k = 0;  // how many thresholds sigma_q reaches (as std::upper_bound)
  while (k < nthresholds && thresholds[k] <= int32_t(sg)) ++k;
  index[e] = uint8_t(k);
}

__global__ void conv_kernel(LayerArgs a, const int32_t* in, long long* out, long long total) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e < total) out[e] = conv_element(a, in, e);
}
__global__ void activation_kernel(const long long* r, int32_t* a, long long total) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e < total) a[e] = activation(r[e]);
}
__global__ void finish_kernel(const long long* r, int M, const int32_t* thresholds, int nt,
                              long long total, int32_t* mu_q, int32_t* sigma_q, uint8_t* index) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e < total) finish_element(r, M, thresholds, nt, e, mu_q, sigma_q, index);
}

unsigned grid(long long total, unsigned threads) { return unsigned((total + threads - 1) / threads); }

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

}  // namespace

struct IntegerHyperSynthesisGpu::Weights {
  std::vector<DeviceBuffer<int32_t>> weight, bias, mul;
  std::unique_ptr<DeviceBuffer<int32_t>> thresholds;
};

IntegerHyperSynthesisGpu::IntegerHyperSynthesisGpu(const IHS& model) : model_(model) {
  if (!available()) throw std::runtime_error("no usable CUDA device");
  w_ = std::make_unique<Weights>();
  for (const auto& l : model.layers()) {
    w_->weight.emplace_back(l.weight.data(), l.weight.size());
    w_->bias.emplace_back(l.bias.data(), l.bias.size());
    w_->mul.emplace_back(l.mul.data(), l.mul.size());
  }
  w_->thresholds = std::make_unique<DeviceBuffer<int32_t>>(model.thresholds().data(),
                                                           model.thresholds().size());
}
IntegerHyperSynthesisGpu::~IntegerHyperSynthesisGpu() = default;

IHS::Output IntegerHyperSynthesisGpu::run(const Tensor& z_hat) const {
  check_input(model_, z_hat);
  constexpr unsigned kThreads = 256;
  int n = z_hat.n(), h = z_hat.h(), w = z_hat.w();
  const std::vector<int32_t> in = IHS::input(z_hat);
  auto a = std::make_unique<DeviceBuffer<int32_t>>(in.data(), in.size());
  std::unique_ptr<DeviceBuffer<long long>> r;
  const auto& layers = model_.layers();
  for (size_t li = 0; li < layers.size(); ++li) {
    const LayerArgs la = args(layers[li], w_->weight[li].get(), w_->bias[li].get(),
                              w_->mul[li].get(), n, h, w);
    const long long total = (long long)n * la.oh * la.ow * la.cout;
    r = std::make_unique<DeviceBuffer<long long>>(size_t(total));
    if (total) conv_kernel<<<grid(total, kThreads), kThreads>>>(la, a->get(), r->get(), total);
    NLC_CUDA_CHECK(cudaGetLastError());
    h = la.oh;
    w = la.ow;
    if (li + 1 < layers.size()) {
      a = std::make_unique<DeviceBuffer<int32_t>>(size_t(total));
      if (total) activation_kernel<<<grid(total, kThreads), kThreads>>>(r->get(), a->get(), total);
      NLC_CUDA_CHECK(cudaGetLastError());
    }
  }
  IHS::Output o;
  o.n = n, o.h = h, o.w = w, o.c = model_.M();
  const long long total = (long long)n * h * w * o.c;
  DeviceBuffer<int32_t> mu(size_t(total), 0), sg(size_t(total), 0);
  DeviceBuffer<uint8_t> idx(size_t(total), 0);
  if (total)
    finish_kernel<<<grid(total, kThreads), kThreads>>>(
        r->get(), o.c, w_->thresholds->get(), int(model_.thresholds().size()), total, mu.get(),
        sg.get(), idx.get());
  NLC_CUDA_CHECK(cudaGetLastError());
  o.mu_q.resize(size_t(total));
  o.sigma_q.resize(size_t(total));
  o.index.resize(size_t(total));
  mu.to_host(o.mu_q.data());
  sg.to_host(o.sigma_q.data());
  idx.to_host(o.index.data());
  return o;
}

namespace host_emulation {
IHS::Output integer_hs(const IHS& model, const Tensor& z_hat) {
  check_input(model, z_hat);
  int n = z_hat.n(), h = z_hat.h(), w = z_hat.w();
  std::vector<int32_t> a = IHS::input(z_hat);
  std::vector<long long> r;
  const auto& layers = model.layers();
  for (size_t li = 0; li < layers.size(); ++li) {
    const auto& l = layers[li];
    const LayerArgs la = args(l, l.weight.data(), l.bias.data(), l.mul.data(), n, h, w);
    const long long total = (long long)n * la.oh * la.ow * la.cout;
    r.assign(size_t(total), 0);
    for (long long e = 0; e < total; ++e) r[size_t(e)] = conv_element(la, a.data(), e);
    h = la.oh;
    w = la.ow;
    if (li + 1 < layers.size()) {
      a.resize(size_t(total));
      for (long long e = 0; e < total; ++e) a[size_t(e)] = activation(r[size_t(e)]);
    }
  }
  IHS::Output o;
  o.n = n, o.h = h, o.w = w, o.c = model.M();
  const long long total = (long long)n * h * w * o.c;
  o.mu_q.resize(size_t(total));
  o.sigma_q.resize(size_t(total));
  o.index.resize(size_t(total));
  for (long long e = 0; e < total; ++e)
    finish_element(r.data(), o.c, model.thresholds().data(), int(model.thresholds().size()), e,
                   o.mu_q.data(), o.sigma_q.data(), o.index.data());
  return o;
}
}  // namespace host_emulation

}  // namespace nlc::cuda
