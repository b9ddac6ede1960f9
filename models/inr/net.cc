// The INR codec's float model: upsampling, synthesis and the ARM's rate, each with its
// handwritten backward pass (tests/inr_test.cc checks every gradient against finite
// differences). Planar layouts ([channel][pixel]) so the per-pixel loops vectorise.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "models/inr/fastmath.h"
#include "models/inr/inr.h"

namespace nlc::inr {

int level_count(int w, int h) {
  int levels = 1;
  while (levels < kMaxLevels && ((w - 1) >> levels) + ((h - 1) >> levels) > 0) ++levels;
  return levels;
}

std::vector<Grid> grids(int w, int h, int levels) {
  std::vector<Grid> g;
  for (int l = 0; l < levels; ++l) g.push_back({(h + (1 << l) - 1) >> l, (w + (1 << l) - 1) >> l});
  return g;
}

std::vector<std::vector<float>*> Net::tensors() {
  if (!s.learned_up) return {&w1, &b1, &w2, &b2, &wc, &bc, &a1, &c1, &a2, &c2};
  return {&w1, &b1, &w2, &b2, &wc, &bc, &a1, &c1, &a2, &c2, &up};
}
std::vector<const std::vector<float>*> Net::tensors() const {
  if (!s.learned_up) return {&w1, &b1, &w2, &b2, &wc, &bc, &a1, &c1, &a2, &c2};
  return {&w1, &b1, &w2, &b2, &wc, &bc, &a1, &c1, &a2, &c2, &up};
}

void Net::init(const Sizes& sz, std::mt19937& rng) {
  s = sz;
  const int L = s.levels, H = s.hidden, A = s.arm_hidden;
  auto uniform = [&rng](std::vector<float>& v, size_t n, double bound) {
    std::uniform_real_distribution<double> u(-bound, bound);
    v.resize(n);
    for (float& x : v) x = float(u(rng));
  };
  // Small first-layer weights: a latent's quantisation step (1) then moves a pixel by a few
  // levels rather than by half the range, so the fit starts with useful integer precision
  // instead of spending its first hundred steps shrinking them (x0.1 of the He bound gave
  // 15% lower D + lambda R after 300 steps on held-out photographs; x0.3, x0.03 less).
  uniform(w1, size_t(H) * L, 0.1 * std::sqrt(6.0 / L));
  b1.assign(size_t(H), 0.1f);  // positive: every ReLU passes gradient while latents are 0
  uniform(w2, size_t(3) * H, 0.3 * std::sqrt(3.0 / H));
  b2.assign(3, 0.5f);          // mid grey
  wc.assign(81, 0.f);          // the residual starts as the identity
  bc.assign(3, 0.f);
  uniform(a1, size_t(A) * kArmInputs, std::sqrt(3.0 / kArmInputs));
  c1.assign(size_t(A), 0.f);
  uniform(a2, size_t(2) * A, 0.01);
  c2.assign(2, 0.f);
  up.clear();
  if (s.learned_up)
    for (int l = 0; l + 1 < L; ++l) up.insert(up.end(), bicubic_taps().begin(), bicubic_taps().end());
}

void Net::zero_like(const Net& o) {
  s = o.s;
  auto src = o.tensors();
  auto dst = tensors();
  for (size_t i = 0; i < src.size(); ++i) dst[i]->assign(src[i]->size(), 0.f);
}

// ---- synthesis ----
namespace {
inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// The decoder's forward kernels below run their float sums in the order written, never fused
// into multiply-adds, in every clone and with either compiler (GCC: the optimize attribute;
// clang: its fp pragma at the top of the body), so that the pixels do not depend on the build.
#if defined(__clang__)
#define NLC_EXACT_FP
#define NLC_EXACT_FP_BODY _Pragma("clang fp contract(off)")
#else
#define NLC_EXACT_FP __attribute__((optimize("fp-contract=off")))
#define NLC_EXACT_FP_BODY
#endif

// Vectors of 16 floats (GCC's vector extension: one AVX-512 register, two AVX2 or four SSE
// ones, whichever clone runs), loaded and stored unaligned through memcpy.
typedef float vf __attribute__((vector_size(64)));
constexpr int kV = 16;

// residual_row() at one column x, its taps clamped to the row: the same operations in the
// same order as the vectors', and never inlined into a clone that could fuse them.
__attribute__((noinline)) NLC_EXACT_FP void residual_column(const float* const (&rows)[3][3], const float* self,
                                                          const float* wc, float bias, int w, int x, float* out) {
  NLC_EXACT_FP_BODY
  float acc = self[x] + bias;
  for (int t = 0; t < 27; ++t)
    if (wc[t] != 0.f) acc += wc[t] * rows[t / 9][t / 3 % 3][clampi(x + t % 3 - 1, 0, w - 1)];
  out[x] = acc;
}

// Row y of the residual 3x3 convolution (replicate padding), all three outputs:
// rgb = o + bc + conv3x3(o). Per pixel: o + bc, then the taps in (ci, ky, kx) order, those
// with a zero weight skipped; 16 pixels at a time in registers (one store per pixel, not one
// per tap). Without fused multiply-adds in every build, so that the decoder's pixels are the
// same whichever of them runs.
__attribute__((target_clones("avx512f", "avx2", "default"))) NLC_EXACT_FP
void residual_row(const Net& n, const float* o, int h, int w, int y, float* rgb) {
  NLC_EXACT_FP_BODY
  const size_t P = size_t(h) * w;
  const float* rows[3][3];  // [ci][ky]
  for (int ci = 0; ci < 3; ++ci)
    for (int ky = 0; ky < 3; ++ky) rows[ci][ky] = o + size_t(ci) * P + size_t(clampi(y + ky - 1, 0, h - 1)) * w;
  for (int c = 0; c < 3; ++c) {
    float* out = rgb + size_t(c) * P + size_t(y) * w;
    const float* self = o + size_t(c) * P + size_t(y) * w;
    const float* wc = &n.wc[size_t(c) * 27];
    const float bias = n.bc[size_t(c)];
    residual_column(rows, self, wc, bias, w, 0, out);
    if (w > 1) residual_column(rows, self, wc, bias, w, w - 1, out);
    // The taps with a nonzero weight, in order (the vectors' inner loop).
    const float* tp[27];
    float tw[27];
    int nt = 0;
    for (int t = 0; t < 27; ++t)
      if (wc[t] != 0.f) tp[nt] = rows[t / 9][t / 3 % 3] + t % 3 - 1, tw[nt++] = wc[t];
    // Columns 1 .. w-2 in vectors, the last one moved back to end at w-2 (overlapping the one
    // before: the same pixels computed the same way twice); narrower rows column by column.
    if (w - 2 < kV) {
      for (int x = 1; x < w - 1; ++x) residual_column(rows, self, wc, bias, w, x, out);
      continue;
    }
    for (int x0 = 1; x0 < w - 1; x0 += kV) {
      const int x = std::min(x0, w - 1 - kV);
      vf acc;
      std::memcpy(&acc, self + x, sizeof acc);
      acc += bias;
      for (int i = 0; i < nt; ++i) {
        vf r;
        std::memcpy(&r, tp[i] + x, sizeof r);
        acc += tw[i] * r;
      }
      std::memcpy(out + x, &acc, sizeof acc);
    }
  }
}

// residual_row()'s backward for row y: adds to gw (81 weights, then 3 biases) the row's
// share of their gradients, and writes row y of d_o: d_rgb's (the identity) plus what the taps
// carry back to it from the rows that read it (y - 1 .. y + 1; at the edges, replicate
// padding reads row y more than once). Columns 1 .. w-2 in vectors of 16 (the last one moved
// back to end at w-2: for the weights' sums its lanes already counted are zeroed, d_o's
// overlapping columns are computed twice the same way), the two edge columns (clamped taps)
// one by one; rows narrower than 18 column by column.
__attribute__((target_clones("avx512f", "avx2", "default")))
void residual_backward_row(const Net& n, const float* o, const float* d_rgb, int h, int w, int y, double* gw,
                           float* d_o) {
  const size_t P = size_t(h) * w;
  const float* d[3];
  for (int c = 0; c < 3; ++c) {
    d[c] = d_rgb + size_t(c) * P + size_t(y) * w;
    float sb = 0.f;
#pragma omp simd reduction(+ : sb)
    for (int x = 0; x < w; ++x) sb += d[c][x];
    gw[81 + c] += sb;
  }
  const bool vec = w - 2 >= kV;
  auto edge_columns = [&](auto&& f) {  // f(x) for the columns the vectors do not cover
    f(0);
    if (w > 1) f(w - 1);
    if (!vec)
      for (int x = 1; x < w - 1; ++x) f(x);
  };
  // Vector starts: 1, 17, ..., and the last one at w-1-16, with `fresh` lanes not yet covered.
  const int nvec = vec ? (w - 2 + kV - 1) / kV : 0;
  auto vstart = [&](int i) { return std::min(1 + i * kV, w - 1 - kV); };
  vf last_keep = {};  // 1 in the last vector's lanes that the one before did not cover
  if (vec)
    for (int k = 0; k < kV; ++k) last_keep[k] = vstart(nvec - 1) + k >= 1 + (nvec - 1) * kV ? 1.f : 0.f;
  // Weight gradients: for each input row (ci, ky), the 3 x 3 sums d[c][x] * row[x + kx - 1].
  for (int ci = 0; ci < 3; ++ci)
    for (int ky = 0; ky < 3; ++ky) {
      const float* row = o + size_t(ci) * P + size_t(clampi(y + ky - 1, 0, h - 1)) * w;
      vf acc[3][3] = {};
      for (int i = 0; i < nvec; ++i) {
        const int x = vstart(i);
        vf r[3], dv[3];
        for (int k = 0; k < 3; ++k) std::memcpy(&r[k], row + x + k - 1, sizeof(vf));
        for (int c = 0; c < 3; ++c) {
          std::memcpy(&dv[c], d[c] + x, sizeof(vf));
          if (i == nvec - 1) dv[c] *= last_keep;
        }
        for (int c = 0; c < 3; ++c)
          for (int k = 0; k < 3; ++k) acc[c][k] += dv[c] * r[k];
      }
      for (int c = 0; c < 3; ++c)
        for (int kx = 0; kx < 3; ++kx) {
          float a = 0.f;
          for (int k = 0; k < kV; ++k) a += acc[c][kx][k];
          edge_columns([&](int x) { a += d[c][x] * row[clampi(x + kx - 1, 0, w - 1)]; });
          gw[((size_t(c) * 3 + ci) * 3 + ky) * 3 + kx] += a;
        }
    }
  // d_o, row y: the identity path (d_rgb's row), then the terms (c, ys, ky) whose taps land on
  // row y (source row ys of d_rgb's channel c through weight row ky; at the image's top and
  // bottom replicate padding makes more than one ky of a row land there).
  for (int ci = 0; ci < 3; ++ci) {
    const float* src[27];
    const float* wts[27];
    int nt = 0;
    for (int ys = std::max(0, y - 1); ys <= std::min(h - 1, y + 1); ++ys)
      for (int ky = 0; ky < 3; ++ky) {
        if (clampi(ys + ky - 1, 0, h - 1) != y) continue;
        for (int c = 0; c < 3; ++c) {
          src[nt] = d_rgb + size_t(c) * P + size_t(ys) * w;
          wts[nt++] = &n.wc[((size_t(c) * 3 + ci) * 3 + ky) * 3];
        }
      }
    float* out = d_o + size_t(ci) * P + size_t(y) * w;
    const float* self = d_rgb + size_t(ci) * P + size_t(y) * w;
    // Interior column x gathers src[x - kx + 1] through tap kx: four vectors at a time (each
    // term's three weights loaded once for 64 columns), then one at a time.
    int i = 0;
    for (; i + 4 <= nvec && vstart(i + 3) == 1 + (i + 3) * kV; i += 4) {
      const int x = vstart(i);
      vf acc[4];
      for (int v = 0; v < 4; ++v) std::memcpy(&acc[v], self + x + v * kV, sizeof(vf));
      for (int t = 0; t < nt; ++t)
        for (int kx = 0; kx < 3; ++kx) {
          const float wt = wts[t][kx];
          for (int v = 0; v < 4; ++v) {
            vf sv;
            std::memcpy(&sv, src[t] + x + v * kV - kx + 1, sizeof sv);
            acc[v] += wt * sv;
          }
        }
      for (int v = 0; v < 4; ++v) std::memcpy(out + x + v * kV, &acc[v], sizeof(vf));
    }
    for (; i < nvec; ++i) {
      const int x = vstart(i);
      vf acc;
      std::memcpy(&acc, self + x, sizeof acc);
      for (int t = 0; t < nt; ++t)
        for (int kx = 0; kx < 3; ++kx) {
          vf sv;
          std::memcpy(&sv, src[t] + x - kx + 1, sizeof sv);
          acc += wts[t][kx] * sv;
        }
      std::memcpy(out + x, &acc, sizeof acc);
    }
    // Edge columns: every source column whose clamped tap lands there.
    edge_columns([&](int x) {
      float acc = self[x];
      for (int t = 0; t < nt; ++t)
        for (int xs = std::max(0, x - 1); xs <= std::min(w - 1, x + 1); ++xs)
          for (int kx = 0; kx < 3; ++kx)
            if (clampi(xs + kx - 1, 0, w - 1) == x) acc += wts[t][kx] * src[t][xs];
      out[x] = acc;
    });
  }
}

// The synthesis' two 1x1 layers on np pixels (planar, channel stride P), 16 pixels at a time
// in registers (each feature read once, each output written once; the hidden activations
// are not kept: the backward pass recomputes them, cheaper than storing H channels of the
// image and reading them back), built for AVX-512, AVX2 and the baseline and picked at load
// time. Per pixel the sums run in the order a plain loop's would (bias first, then the inputs
// in order), without fused multiply-adds, so every build gives the same pixels.
__attribute__((target_clones("avx512f", "avx2", "default"))) NLC_EXACT_FP
void synthesis_block(const Net& n, const float* feat, size_t P, size_t np, float* o) {
  NLC_EXACT_FP_BODY
  const int L = n.s.levels, H = n.s.hidden;
  size_t q = 0;
  for (; q + kV <= np; q += kV) {
    vf f[kMaxLevels];
    for (int l = 0; l < L; ++l) std::memcpy(&f[l], feat + size_t(l) * P + q, sizeof(vf));
    vf out[3];
    for (int c = 0; c < 3; ++c) out[c] = vf{} + n.b2[size_t(c)];
    for (int k = 0; k < H; ++k) {
      vf acc = vf{} + n.b1[size_t(k)];
      for (int l = 0; l < L; ++l) acc += n.w1[size_t(k) * L + l] * f[l];
      acc = acc > 0.f ? acc : vf{};
      for (int c = 0; c < 3; ++c) out[c] += n.w2[size_t(c) * H + k] * acc;
    }
    for (int c = 0; c < 3; ++c) std::memcpy(o + size_t(c) * P + q, &out[c], sizeof(vf));
  }
  for (; q < np; ++q) {  // the image's last few pixels
    float out[3];
    for (int c = 0; c < 3; ++c) out[c] = n.b2[size_t(c)];
    for (int k = 0; k < H; ++k) {
      float acc = n.b1[size_t(k)];
      for (int l = 0; l < L; ++l) acc += n.w1[size_t(k) * L + l] * feat[size_t(l) * P + q];
      acc = acc > 0.f ? acc : 0.f;
      for (int c = 0; c < 3; ++c) out[c] += n.w2[size_t(c) * H + k] * acc;
    }
    for (int c = 0; c < 3; ++c) o[size_t(c) * P + q] = out[c];
  }
}

// A thread's synthesis weight gradients, 16 partial sums each (one a vector lane), summed
// across lanes once per synthesis_backward() call.
struct alignas(64) SynthGrad {
  vf w1[kMaxHidden][kMaxLevels], b1[kMaxHidden], w2[3][kMaxHidden], b2[3];
};

// S vectors of pixels (16 S) of synthesis_block()'s backward, from q, in three passes over
// data in registers or the L1 cache: (1) per vector, the features and d_o in registers, the
// hidden activations recomputed and their gradients dh, both to small buffers; (2) per hidden
// channel, its weight gradients summed over the S vectors in registers (stored once per
// channel and S vectors: stores a vector were this kernel's bottleneck); (3) d_feat written
// from dh, S sums side by side. LT: the level count when known at compile time (its loops
// unrolled, their sums in registers), 0 for n.s.levels.
template <int LT, int S>
__attribute__((always_inline)) inline void synthesis_sub_backward(const Net& n, const float* feat, const float* d_o,
                                                                  size_t P, size_t q, SynthGrad& g, float* d_feat) {
  const int L = LT ? LT : n.s.levels, H = n.s.hidden;
  vf hb[kMaxHidden][S], dh[kMaxHidden][S], fb[LT ? LT : kMaxLevels][S], d[3][S];
  for (int v = 0; v < S; ++v) {
    vf f[LT ? LT : kMaxLevels];
    for (int l = 0; l < L; ++l) {
      std::memcpy(&f[l], feat + size_t(l) * P + q + size_t(v) * kV, sizeof(vf));
      fb[l][v] = f[l];
    }
    for (int c = 0; c < 3; ++c) {
      std::memcpy(&d[c][v], d_o + size_t(c) * P + q + size_t(v) * kV, sizeof(vf));
      g.b2[c] += d[c][v];
    }
    for (int k = 0; k < H; ++k) {
      vf acc = vf{} + n.b1[size_t(k)];
      for (int l = 0; l < L; ++l) acc += n.w1[size_t(k) * L + l] * f[l];
      const vf val = n.w2[size_t(k)] * d[0][v] + n.w2[size_t(H) + k] * d[1][v] + n.w2[2 * size_t(H) + k] * d[2][v];
      hb[k][v] = acc > 0.f ? acc : vf{};
      dh[k][v] = acc > 0.f ? val : vf{};
    }
  }
  for (int k = 0; k < H; ++k) {
    vf aw2[3] = {}, ab1 = {}, aw1[LT ? LT : kMaxLevels] = {};
    for (int v = 0; v < S; ++v) {
      for (int c = 0; c < 3; ++c) aw2[c] += d[c][v] * hb[k][v];
      ab1 += dh[k][v];
      for (int l = 0; l < L; ++l) aw1[l] += dh[k][v] * fb[l][v];
    }
    for (int c = 0; c < 3; ++c) g.w2[c][k] += aw2[c];
    g.b1[k] += ab1;
    for (int l = 0; l < L; ++l) g.w1[k][l] += aw1[l];
  }
  for (int l = 0; l < L; ++l) {
    vf acc[S] = {};
    for (int k = 0; k < H; ++k) {
      const float wk = n.w1[size_t(k) * L + l];
      for (int v = 0; v < S; ++v) acc[v] += wk * dh[k][v];
    }
    for (int v = 0; v < S; ++v) std::memcpy(d_feat + size_t(l) * P + q + size_t(v) * kV, &acc[v], sizeof(vf));
  }
}

template <int LT>
__attribute__((always_inline)) inline size_t synthesis_vectors_backward(const Net& n, const float* feat,
                                                                        const float* d_o, size_t P, size_t np,
                                                                        SynthGrad& g, float* d_feat) {
  size_t q = 0;
  for (; q + 4 * kV <= np; q += 4 * kV) synthesis_sub_backward<LT, 4>(n, feat, d_o, P, q, g, d_feat);
  for (; q + kV <= np; q += kV) synthesis_sub_backward<LT, 1>(n, feat, d_o, P, q, g, d_feat);
  return q;
}

// synthesis_block()'s backward on np pixels (planar, channel stride P): accumulates the 1x1
// layers' weight gradients into g and writes the features' gradients to d_feat. 64 pixels at
// a time, then 16, then the last few one by one; the level counts of a Kodak-sized image's
// two stages (7 and 6) compiled for their count.
__attribute__((target_clones("avx512f", "avx2", "default")))
void synthesis_block_backward(const Net& n, const float* feat, const float* d_o, size_t P, size_t np,
                              SynthGrad& g, float* d_feat) {
  const int L = n.s.levels, H = n.s.hidden;
  size_t q = L == 7   ? synthesis_vectors_backward<7>(n, feat, d_o, P, np, g, d_feat)
             : L == 6 ? synthesis_vectors_backward<6>(n, feat, d_o, P, np, g, d_feat)
                      : synthesis_vectors_backward<0>(n, feat, d_o, P, np, g, d_feat);
  for (; q < np; ++q) {  // the image's last few pixels, into lane 0
    float d[3];
    for (int c = 0; c < 3; ++c) g.b2[c][0] += d[c] = d_o[size_t(c) * P + q];
    for (int l = 0; l < L; ++l) d_feat[size_t(l) * P + q] = 0.f;
    for (int k = 0; k < H; ++k) {
      float h = n.b1[size_t(k)];
      for (int l = 0; l < L; ++l) h += n.w1[size_t(k) * L + l] * feat[size_t(l) * P + q];
      h = h > 0.f ? h : 0.f;
      for (int c = 0; c < 3; ++c) g.w2[c][k][0] += d[c] * h;
      const float v = n.w2[size_t(k)] * d[0] + n.w2[size_t(H) + k] * d[1] + n.w2[2 * size_t(H) + k] * d[2];
      const float dh = h > 0.f ? v : 0.f;
      g.b1[k][0] += dh;
      for (int l = 0; l < L; ++l) {
        g.w1[k][l][0] += dh * feat[size_t(l) * P + q];
        d_feat[size_t(l) * P + q] += n.w1[size_t(k) * L + l] * dh;
      }
    }
  }
}

// A vector's lanes added in lane order, in double (the per-lane gradient sums' last step).
double lane_sum(const vf& x) {
  double s = 0;
  for (int k = 0; k < kV; ++k) s += double(x[k]);
  return s;
}
}  // namespace

void synthesis(const Net& n, const float* feat, int h, int w, float* rgb, SynthScratch& s) {
  const size_t P = size_t(h) * w;
  s.o.resize(3 * P);
  // The 1x1 layers in blocks of pixels that stay in the L1 cache: the block's L features are
  // read once for all H hidden channels. Per pixel the sums run in the same order as a plain
  // loop would.
  constexpr size_t kPix = 256;
#pragma omp parallel for schedule(static)
  for (long long blk = 0; blk < (long long)((P + kPix - 1) / kPix); ++blk) {
    const size_t p0 = size_t(blk) * kPix;
    synthesis_block(n, feat + p0, P, std::min(kPix, P - p0), &s.o[p0]);
  }
  // rgb = o + bc + conv3x3(o), replicate padding.
#pragma omp parallel for schedule(static)
  for (int y = 0; y < h; ++y) residual_row(n, s.o.data(), h, w, y, rgb);
}

void synthesis_backward(const Net& n, const float* feat, int h, int w, const float* d_rgb,
                        SynthScratch& s, Net& g, float* d_feat) {
  const int L = n.s.levels, H = n.s.hidden;
  const size_t P = size_t(h) * w;
  // Residual conv, a row at a time: its weights' and bias' gradients (per-thread sums in
  // double, added in thread order) and d_o (the identity path, plus the taps' gradients
  // gathered into each row, so that threads write disjoint rows).
  std::vector<float>& d_o = s.d_o;
  d_o.resize(3 * P);  // every row written by residual_backward_row (no zeroing, serial, needed)
  {
    std::vector<std::vector<double>> part(size_t(omp_get_max_threads()), std::vector<double>(84, 0.0));
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; ++y)
      residual_backward_row(n, s.o.data(), d_rgb, h, w, y, part[size_t(omp_get_thread_num())].data(), d_o.data());
    for (const auto& t : part) {
      for (size_t i = 0; i < 81; ++i) g.wc[i] += float(t[i]);
      for (size_t c = 0; c < 3; ++c) g.bc[c] += float(t[81 + c]);
    }
  }
  // The 1x1 layers in blocks of pixels, per-thread sums added in thread order (the same
  // order on every run).
  std::vector<std::unique_ptr<SynthGrad>> part(static_cast<size_t>(omp_get_max_threads()));
  for (auto& t : part) t = std::make_unique<SynthGrad>();
  constexpr size_t kPix = 256;
#pragma omp parallel for schedule(static)
  for (long long blk = 0; blk < (long long)((P + kPix - 1) / kPix); ++blk) {
    const size_t p0 = size_t(blk) * kPix, np = std::min(kPix, P - p0);
    synthesis_block_backward(n, feat + p0, &d_o[p0], P, np, *part[size_t(omp_get_thread_num())], d_feat + p0);
  }
  for (const auto& t : part) {
    for (int k = 0; k < H; ++k) {
      for (int l = 0; l < L; ++l) g.w1[size_t(k) * L + l] += float(lane_sum(t->w1[k][l]));
      g.b1[size_t(k)] += float(lane_sum(t->b1[k]));
      for (int c = 0; c < 3; ++c) g.w2[size_t(c) * H + k] += float(lane_sum(t->w2[c][k]));
    }
    for (int c = 0; c < 3; ++c) g.b2[size_t(c)] += float(lane_sum(t->b2[c]));
  }
}

// ---- the ARM's rate ----
LaplaceBin laplace_bin(double v, double mu, double b) {
  const double lo = v - 0.5 - mu, hi = v + 0.5 - mu;
  // The two exponentials every case needs (exp(-|x|/b) at both ends of the bin).
  const double el = std::exp(-std::abs(lo) / b), eh = std::exp(-std::abs(hi) / b);
  const double flo = el / (2 * b), fhi = eh / (2 * b);
  double p;
  if (lo >= 0)
    p = 0.5 * (el - eh);
  else if (hi <= 0)
    p = 0.5 * (eh - el);
  else
    p = 1.0 - 0.5 * eh - 0.5 * el;
  LaplaceBin r;
  const double floor = 1.0 / 65536;
  if (!(p > floor)) return {floor, 0, 0, 0, true};
  r.p = p;
  r.floored = false;
  r.dp_dv = fhi - flo;
  r.dp_dmu = -(fhi - flo);
  r.dp_db = -(hi * fhi - lo * flo) / b;
  return r;
}

uint32_t arm_lanes(size_t n, size_t lane_latents) { return default_lane_count(n, lane_latents); }

namespace {

// The ARM on a block of up to kBlock latents of one lane, laid out structure-of-arrays
// (context m of latent b at c[m][b]), computed in vectors of 16 latents (GCC's vector
// extension: one AVX-512 register, two AVX2 or four SSE ones, whichever clone runs; the
// compiler's own vectoriser left the sums over a run-time width scalar).
constexpr int kBlock = 64, kVecs = kBlock / kV;
struct alignas(64) ArmBlock {
  int nb = 0;
  alignas(64) float c[kArmInputs][kBlock];
  alignas(64) float v[kBlock];      // the latents' own values
  alignas(64) float h[kMaxHidden][kBlock];
  alignas(64) float mu[kBlock], sv[kBlock], dmu[kBlock], ds[kBlock], dv[kBlock];
};
// A thread's ARM weight gradients, 16 partial sums each (one a vector lane), summed across
// lanes once per arm_rate() call rather than once per block.
struct alignas(64) ArmGrad {
  vf a1[kMaxHidden][kArmInputs], c1[kMaxHidden], a2[2][kMaxHidden], c2[2];
};
inline vf& vec(float* p) { return *reinterpret_cast<vf*>(p); }

// The Laplace bin probability of a block's latents (laplace_bin(), the double reference, in
// float with the fast functions so that the loop vectorises) and its derivatives; returns the
// bits of the first nb. All kBlock lanes are computed (a constant trip count vectorises
// whole), on restrict pointers.
__attribute__((always_inline)) inline float laplace_rates(const float* __restrict sv, const float* __restrict mu,
                                                          const float* __restrict v, int nb, float* __restrict dv,
                                                          float* __restrict dmu, float* __restrict ds) {
  alignas(64) float lane_bits[kBlock];
  // Every operation runs on every lane and selects pick the results: GCC does not turn
  // branches around floating-point arithmetic into selects (it might trap), and a ?: around
  // arithmetic, a && or a select on the lane's index kept this loop scalar.
#pragma omp simd
  for (int b = 0; b < kBlock; ++b) {
    const float s = sv[b];
    const bool inside = (s > float(kLogBMin)) & (s < float(kLogBMax));  // &, not && (a branch)
    const float bb = fast::exp(s < float(kLogBMin) ? float(kLogBMin) : (s > float(kLogBMax) ? float(kLogBMax) : s));
    const float ib = 1.f / bb;
    const float lo = v[b] - 0.5f - mu[b], hi = v[b] + 0.5f - mu[b];
    const float alo = lo < 0.f ? -lo : lo, ahi = hi < 0.f ? -hi : hi;
    const float el = fast::exp(-alo * ib), eh = fast::exp(-ahi * ib);
    const float p_right = 0.5f * (el - eh), p_left = 0.5f * (eh - el), p_mid = 1.f - 0.5f * eh - 0.5f * el;
    const float p = lo >= 0.f ? p_right : (hi <= 0.f ? p_left : p_mid);
    const bool floored = !(p > 1.f / 65536);
    const float pc = floored ? 1.f / 65536 : p;
    lane_bits[b] = -fast::log2(pc);
    const float inv = -1.f / (pc * 0.693147181f);
    const float d = floored ? 0.f : inv;
    const float flo = 0.5f * el * ib, fhi = 0.5f * eh * ib;
    const float dvb = d * (fhi - flo), dsb = -d * (hi * fhi - lo * flo);
    dv[b] = dvb;
    dmu[b] = -dvb;
    ds[b] = inside ? dsb : 0.f;  // d/d log b = b d/db
  }
  float bits = 0.f;  // (a map above and the sum of the first nb here, outside the vector loop)
  for (int b = 0; b < nb; ++b) bits += lane_bits[b];
  return bits;
}

// Forward (and, with g, backward) of one block; returns its bits. Lanes past nb hold finite
// leftovers (of the previous block, or zeros); their gradients are zeroed before use.
__attribute__((target_clones("avx512f", "avx2", "default")))
double arm_block(const Net& n, ArmBlock& B, ArmGrad* g) {
  const int A = n.s.arm_hidden, nb = B.nb;
  for (int v = 0; v < kVecs; ++v) {
    vf m0 = vf{} + n.c2[0], s0 = vf{} + n.c2[1];
    for (int a = 0; a < A; ++a) {
      const float* w = &n.a1[size_t(a) * kArmInputs];
      vf acc = vf{} + n.c1[size_t(a)];
      for (int m = 0; m < kArmInputs; ++m) acc += w[m] * vec(&B.c[m][v * kV]);
      const vf h = acc > 0.f ? acc : vf{};
      vec(&B.h[a][v * kV]) = h;
      m0 += n.a2[size_t(a)] * h;
      s0 += n.a2[size_t(A) + a] * h;
    }
    vec(&B.mu[v * kV]) = m0;
    vec(&B.sv[v * kV]) = s0;
  }
  const float bits = laplace_rates(B.sv, B.mu, B.v, nb, B.dv, B.dmu, B.ds);
  if (!g) return double(bits);
  for (int b = nb; b < kBlock; ++b) B.dv[b] = B.dmu[b] = B.ds[b] = 0.f;
  vf dmu[kVecs], ds[kVecs];
  for (int v = 0; v < kVecs; ++v) {
    dmu[v] = vec(&B.dmu[v * kV]);
    ds[v] = vec(&B.ds[v * kV]);
    g->c2[0] += dmu[v];
    g->c2[1] += ds[v];
  }
  for (int a = 0; a < A; ++a) {
    const float w0 = n.a2[size_t(a)], w1 = n.a2[size_t(A) + a];
    vf dh[kVecs];
    for (int v = 0; v < kVecs; ++v) {
      const vf h = vec(&B.h[a][v * kV]);
      g->a2[0][a] += dmu[v] * h;
      g->a2[1][a] += ds[v] * h;
      dh[v] = h > 0.f ? dmu[v] * w0 + ds[v] * w1 : vf{};
      g->c1[a] += dh[v];
    }
    for (int m = 0; m < kArmInputs; ++m) {
      vf acc = dh[0] * vec(&B.c[m][0]);
      for (int v = 1; v < kVecs; ++v) acc += dh[v] * vec(&B.c[m][v * kV]);
      g->a1[a][m] += acc;
    }
    for (int v = 0; v < kVecs; ++v) vec(&B.h[a][v * kV]) = dh[v];  // h is spent: keep dh there
  }
  // d contexts, left in B.c (no longer needed): dc[m][b] = sum_a a1[a][m] * dh[a][b].
  // (The block's kVecs sums side by side: independent chains, not one waiting on the last.)
  for (int m = 0; m < kArmInputs; ++m) {
    vf acc[kVecs] = {};
    for (int a = 0; a < A; ++a) {
      const float w = n.a1[size_t(a) * kArmInputs + m];
      for (int v = 0; v < kVecs; ++v) acc[v] += w * vec(&B.h[a][v * kV]);
    }
    for (int v = 0; v < kVecs; ++v) vec(&B.c[m][v * kV]) = acc[v];
  }
  return double(bits);
}

// d[i] += s[i] (vectorised: the pointers do not alias), built for AVX-512, AVX2 and the
// baseline (the ARM's partial gradient runs and the threads' reduction).
__attribute__((target_clones("avx512f", "avx2", "default")))
void add_into(float* __restrict d, const float* __restrict s, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] += s[i];
}

// A block's run of floats: a whole block's (most runs) is a copy of constant size, which the
// compiler makes a few vector moves (a copy of run-time size was a `rep movs`, slow to start).
inline void copy_run(float* __restrict d, const float* __restrict s, int n) {
  if (n == kBlock)
    std::memcpy(d, s, sizeof(float) * kBlock);
  else
    std::memcpy(d, s, sizeof(float) * size_t(n));
}
inline void add_run(float* __restrict d, const float* __restrict s, int n) {
  if (n == kBlock)
    for (int i = 0; i < kBlock; ++i) d[i] += s[i];
  else
    add_into(d, s, size_t(n));
}

// Context m of a block (row i, columns j .. j + nb - 1 of a grid w wide, in the lane that
// starts at raster position `begin`) reads the neighbour row ii at columns jj .. jj + nb - 1:
// start = ii w + jj, and the block's latents lo .. hi - 1 have that neighbour inside the grid
// and the lane (a contiguous range: the columns are, and the raster position grows with b).
struct Run {
  int64_t start = 0;
  int lo = 0, hi = 0;
};
inline Run context_run(int ii, int jj, int nb, int w, size_t begin) {
  Run r;
  if (ii < 0) return r;
  r.start = int64_t(ii) * w + jj;
  r.lo = int(std::min<int64_t>(nb, std::max<int64_t>({0, -int64_t(jj), int64_t(begin) - r.start})));
  r.hi = std::max(r.lo, std::min(nb, w - jj));
  return r;
}

// Adds a thread's lane-wise sums into g's ARM tensors (lanes in order, in double).
void add_arm_grad(const ArmGrad& t, int A, Net& g) {
  for (int a = 0; a < A; ++a) {
    for (int m = 0; m < kArmInputs; ++m) g.a1[size_t(a) * kArmInputs + m] += float(lane_sum(t.a1[a][m]));
    g.c1[size_t(a)] += float(lane_sum(t.c1[a]));
    g.a2[size_t(a)] += float(lane_sum(t.a2[0][a]));
    g.a2[size_t(A) + a] += float(lane_sum(t.a2[1][a]));
  }
  g.c2[0] += float(lane_sum(t.c2[0]));
  g.c2[1] += float(lane_sum(t.c2[1]));
}

}  // namespace

double arm_rate(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y,
                std::vector<std::vector<float>>* dy, Net* g) {
  const int levels = int(gr.size());
  const int T = omp_get_max_threads();
  const bool grads = g && dy;
  std::vector<double> bits(size_t(T), 0.0);
  // A grid's latent gradients from its own contexts stay inside the lane, so the thread that
  // owns the lane adds them to dy directly; the coarser value's gradients land in another
  // grid, in latents that other threads' lanes also read, so they go to per-thread copies of
  // the grids 1 .. L-1 (a quarter of the latents), added in thread order at the end.
  std::vector<std::unique_ptr<ArmGrad>> tg(grads ? size_t(T) : 0);
  std::vector<std::vector<std::vector<float>>> tdy(grads ? size_t(T) : 0);
  for (auto& t : tg) t = std::make_unique<ArmGrad>();
  // Each thread zeroes its own (in parallel, and in memory near it).
#pragma omp parallel for schedule(static, 1)
  for (int t = 0; t < int(tdy.size()); ++t) {
    tdy[size_t(t)].resize(size_t(levels));
    for (int l = 1; l < levels; ++l) tdy[size_t(t)][l].assign(y[l].size(), 0.f);
  }
  for (int l = 0; l < levels; ++l) {
    const Grid G = gr[l];
    const size_t N = size_t(G.h) * G.w;
    const uint32_t lanes = arm_lanes(N);
    const float* yl = y[l].data();
    const float* yc = l + 1 < levels ? y[l + 1].data() : nullptr;
    const int cw = l + 1 < levels ? gr[l + 1].w : 0;
#pragma omp parallel
    {
      const int t = omp_get_thread_num();
      auto B = std::make_unique<ArmBlock>();
      double local = 0;
      // Static: for a given thread count the sums are in the same order on every run.
#pragma omp for schedule(static)
      for (uint32_t k = 0; k < lanes; ++k) {
        const size_t begin = N * k / lanes, end = N * (k + 1) / lanes;
        // Blocks never cross a row's end, so each context of a block is one run of the grid
        // (shifted by its neighbour's offset), cut where it would leave the grid's columns or
        // reach behind the lane's first latent: copied, and its gradients added back, as runs.
        // (Blocks at a row's ends or across two rows used to be gathered latent by latent.)
        for (size_t p0 = begin; p0 < end;) {
          const int i = int(p0 / size_t(G.w)), j = int(p0 % size_t(G.w));
          const int nb = int(std::min<size_t>({size_t(kBlock), end - p0, size_t(G.w - j)}));
          B->nb = nb;
          std::array<Run, kContext> runs;
          for (int m = 0; m < kContext; ++m) {
            runs[size_t(m)] = context_run(i + kNeighbours[m][0], j + kNeighbours[m][1], nb, G.w, begin);
            const Run& r = runs[size_t(m)];
            float* c = B->c[m];
            for (int b = 0; b < r.lo; ++b) c[b] = 0.f;
            copy_run(c + r.lo, yl + r.start + r.lo, r.hi - r.lo);
            for (int b = r.hi; b < nb; ++b) c[b] = 0.f;
          }
          const size_t cr = yc ? size_t(i / 2) * cw : 0;  // the coarser grid's row
          for (int b = 0; b < nb; ++b) B->c[kContext][b] = yc ? yc[cr + size_t(j + b) / 2] : 0.f;
          copy_run(B->v, yl + p0, nb);
          local += arm_block(n, *B, grads ? tg[size_t(t)].get() : nullptr);
          if (grads) {
            float* own = (*dy)[l].data();
            add_run(own + p0, B->dv, nb);
            for (int m = 0; m < kContext; ++m) {
              const Run& r = runs[size_t(m)];
              if (r.hi > r.lo) add_run(own + size_t(r.start + r.lo), B->c[m] + r.lo, r.hi - r.lo);
            }
            if (yc) {
              float* coarse = tdy[size_t(t)][l + 1].data() + cr;
              for (int b = 0; b < nb; ++b) coarse[size_t(j + b) / 2] += B->c[kContext][b];
            }
          }
          p0 += size_t(nb);
        }
      }
      bits[size_t(t)] += local;
    }
  }
  double total = 0;
  for (double b : bits) total += b;
  if (grads) {
    for (const auto& t : tg) add_arm_grad(*t, n.s.arm_hidden, *g);
    // The coarser values' gradients, added in thread order for each element (as a serial loop
    // over the threads would), the elements split over the threads in chunks.
    for (int l = 1; l < levels; ++l) {
      float* d = (*dy)[l].data();
      const size_t N = (*dy)[l].size();
      constexpr size_t kChunk = 4096;
#pragma omp parallel for schedule(static)
      for (size_t c0 = 0; c0 < N; c0 += kChunk)
        for (const auto& t : tdy) add_into(d + c0, t[l].data() + c0, std::min(kChunk, N - c0));
    }
  }
  return total;
}

// The plain reference of arm_rate(): one latent at a time, in double, with laplace_bin();
// tests hold the fast path to it and its gradients to finite differences.
double arm_rate_ref(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y,
                    std::vector<std::vector<float>>* dy, Net* g) {
  const int levels = int(gr.size()), A = n.s.arm_hidden;
  double total = 0;
  for (int l = 0; l < levels; ++l) {
    const Grid G = gr[l];
    const size_t N = size_t(G.h) * G.w;
    const uint32_t lanes = arm_lanes(N);
    for (uint32_t k = 0; k < lanes; ++k) {
      const size_t begin = N * k / lanes, end = N * (k + 1) / lanes;
      for (size_t p = begin; p < end; ++p) {
        const int i = int(p / size_t(G.w)), j = int(p % size_t(G.w));
        double c[kArmInputs];
        int lv[kArmInputs];
        int64_t pos[kArmInputs];
        for (int m = 0; m < kContext; ++m) {
          const int ii = i + kNeighbours[m][0], jj = j + kNeighbours[m][1];
          const bool ok = ii >= 0 && jj >= 0 && jj < G.w && size_t(ii) * G.w + jj >= begin;
          pos[m] = ok ? int64_t(size_t(ii) * G.w + jj) : -1;
          lv[m] = l;
        }
        pos[kContext] = l + 1 < levels ? int64_t(size_t(i / 2) * gr[l + 1].w + j / 2) : -1;
        lv[kContext] = l + 1;
        for (int m = 0; m < kArmInputs; ++m) c[m] = pos[m] >= 0 ? y[lv[m]][size_t(pos[m])] : 0.0;
        double h[kMaxHidden], mu = n.c2[0], sv = n.c2[1];
        for (int a = 0; a < A; ++a) {
          double acc = n.c1[a];
          for (int m = 0; m < kArmInputs; ++m) acc += double(n.a1[size_t(a) * kArmInputs + m]) * c[m];
          h[a] = std::max(acc, 0.0);
          mu += double(n.a2[a]) * h[a];
          sv += double(n.a2[size_t(A) + a]) * h[a];
        }
        const bool inside = sv > kLogBMin && sv < kLogBMax;
        const double b = std::exp(std::clamp(sv, kLogBMin, kLogBMax));
        const LaplaceBin lb = laplace_bin(y[l][p], mu, b);
        total += -std::log2(lb.p);
        if (!g || !dy) continue;
        const double d = lb.floored ? 0.0 : -1.0 / (lb.p * std::log(2.0));
        const double dmu = d * lb.dp_dmu, ds = inside ? d * lb.dp_db * b : 0.0;
        (*dy)[l][p] += float(d * lb.dp_dv);
        g->c2[0] += float(dmu);
        g->c2[1] += float(ds);
        for (int a = 0; a < A; ++a) {
          g->a2[a] += float(dmu * h[a]);
          g->a2[size_t(A) + a] += float(ds * h[a]);
          if (h[a] <= 0) continue;
          const double dh = dmu * n.a2[a] + ds * n.a2[size_t(A) + a];
          g->c1[a] += float(dh);
          for (int m = 0; m < kArmInputs; ++m) {
            g->a1[size_t(a) * kArmInputs + m] += float(dh * c[m]);
            if (pos[m] >= 0) (*dy)[lv[m]][size_t(pos[m])] += float(dh * n.a1[size_t(a) * kArmInputs + m]);
          }
        }
      }
    }
  }
  return total;
}

// In bands of rows (with the 3x3 convolution's one-row halo), so that the decoder's memory is
// that of the image and the grids, not of every hidden activation at once. The arithmetic is
// synthesis()'s on the band's rows (same operations, same order per pixel).
std::vector<float> reconstruct(const Net& n, const std::vector<Grid>& gr,
                               const std::vector<std::vector<float>>& y, int w, int h,
                               double* upsample_ms) {
  const size_t P = size_t(w) * h;
  const int L = int(gr.size());
  std::vector<float> rgb(3 * P);
  // Each grid upsampled once (the whole stack is L floats a pixel).
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> feat(size_t(L) * P);
  upsample(n, gr, y, feat.data());
  if (upsample_ms)
    *upsample_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  constexpr int kBand = 32;
  SynthScratch s;
  for (int y0 = 0; y0 < h; y0 += kBand) {
    const int y1 = std::min(h, y0 + kBand);
    const int a = std::max(0, y0 - 1), b = std::min(h, y1 + 1), bh = b - a;  // with halo
    const size_t BP = size_t(bh) * w;
    std::vector<float> bf(size_t(L) * BP), brgb(3 * BP);
    for (int l = 0; l < L; ++l)
      std::copy_n(&feat[size_t(l) * P + size_t(a) * w], BP, &bf[size_t(l) * BP]);
    synthesis(n, bf.data(), bh, w, brgb.data(), s);
    // The band's own rows; their conv taps read the halo rows, which replicate the image's
    // edge exactly where the band touches it (a == 0 or b == h), as the whole-image pass does.
    for (int c = 0; c < 3; ++c)
      std::copy_n(&brgb[size_t(c) * BP + size_t(y0 - a) * w], size_t(y1 - y0) * w,
                  &rgb[size_t(c) * P + size_t(y0) * w]);
  }
  return rgb;
}

}  // namespace nlc::inr
