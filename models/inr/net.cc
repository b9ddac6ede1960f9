// The INR codec's float model: upsampling, synthesis and the ARM's rate, each with its
// handwritten backward pass (tests/inr_test.cc checks every gradient against finite
// differences). Planar layouts ([channel][pixel]) so the per-pixel loops vectorise.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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
}  // namespace

void synthesis(const Net& n, const float* feat, int h, int w, float* rgb, SynthScratch& s) {
  const int L = n.s.levels, H = n.s.hidden;
  const size_t P = size_t(h) * w;
  s.hid.resize(size_t(H) * P);
  s.o.resize(3 * P);
#pragma omp parallel for schedule(static)
  for (int k = 0; k < H; ++k) {
    float* hk = &s.hid[size_t(k) * P];
    std::fill(hk, hk + P, n.b1[k]);
    for (int l = 0; l < L; ++l) {
      const float wv = n.w1[size_t(k) * L + l];
      const float* f = feat + size_t(l) * P;
      for (size_t p = 0; p < P; ++p) hk[p] += wv * f[p];
    }
    for (size_t p = 0; p < P; ++p) hk[p] = hk[p] > 0.f ? hk[p] : 0.f;
  }
#pragma omp parallel for schedule(static)
  for (int c = 0; c < 3; ++c) {
    float* oc = &s.o[size_t(c) * P];
    std::fill(oc, oc + P, n.b2[c]);
    for (int k = 0; k < H; ++k) {
      const float wv = n.w2[size_t(c) * H + k];
      const float* hk = &s.hid[size_t(k) * P];
      for (size_t p = 0; p < P; ++p) oc[p] += wv * hk[p];
    }
  }
  // rgb = o + bc + conv3x3(o), replicate padding.
#pragma omp parallel for schedule(static)
  for (int y = 0; y < h; ++y)
    for (int c = 0; c < 3; ++c) {
      float* out = rgb + size_t(c) * P + size_t(y) * w;
      const float* self = &s.o[size_t(c) * P + size_t(y) * w];
      for (int x = 0; x < w; ++x) out[x] = self[x] + n.bc[c];
      for (int ci = 0; ci < 3; ++ci)
        for (int ky = 0; ky < 3; ++ky) {
          const float* row = &s.o[size_t(ci) * P + size_t(clampi(y + ky - 1, 0, h - 1)) * w];
          for (int kx = 0; kx < 3; ++kx) {
            const float wv = n.wc[((size_t(c) * 3 + ci) * 3 + ky) * 3 + kx];
            if (wv == 0.f) continue;
            // Interior columns without the clamp (so the loop vectorises), edges apart.
            out[0] += wv * row[clampi(kx - 1, 0, w - 1)];
            for (int x = 1; x < w - 1; ++x) out[x] += wv * row[x + kx - 1];
            if (w > 1) out[w - 1] += wv * row[clampi(w + kx - 2, 0, w - 1)];
          }
        }
    }
}

void synthesis_backward(const Net& n, const float* feat, int h, int w, const float* d_rgb,
                        const SynthScratch& s, Net& g, float* d_feat) {
  const int L = n.s.levels, H = n.s.hidden;
  const size_t P = size_t(h) * w;
  // Residual conv: weights, bias, and d_o (identity path + scatter through the taps).
  std::vector<float> d_o(d_rgb, d_rgb + 3 * P);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < 3; ++c) {
    float sb = 0.f;
#pragma omp simd reduction(+ : sb)
    for (size_t p = 0; p < P; ++p) sb += d_rgb[size_t(c) * P + p];
    g.bc[c] += sb;
    for (int ci = 0; ci < 3; ++ci)
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
          double acc = 0;
          for (int y = 0; y < h; ++y) {
            const float* d = d_rgb + size_t(c) * P + size_t(y) * w;
            const float* row = &s.o[size_t(ci) * P + size_t(clampi(y + ky - 1, 0, h - 1)) * w];
            float a = d[0] * row[clampi(kx - 1, 0, w - 1)];
#pragma omp simd reduction(+ : a)
            for (int x = 1; x < w - 1; ++x) a += d[x] * row[x + kx - 1];
            if (w > 1) a += d[w - 1] * row[clampi(w + kx - 2, 0, w - 1)];
            acc += a;
          }
          g.wc[((size_t(c) * 3 + ci) * 3 + ky) * 3 + kx] += float(acc);
        }
  }
#pragma omp parallel for schedule(static)
  for (int ci = 0; ci < 3; ++ci)
    for (int c = 0; c < 3; ++c)
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
          const float wv = n.wc[((size_t(c) * 3 + ci) * 3 + ky) * 3 + kx];
          if (wv == 0.f) continue;
          for (int y = 0; y < h; ++y) {
            const float* d = d_rgb + size_t(c) * P + size_t(y) * w;
            float* row = &d_o[size_t(ci) * P + size_t(clampi(y + ky - 1, 0, h - 1)) * w];
            row[clampi(kx - 1, 0, w - 1)] += wv * d[0];
            for (int x = 1; x < w - 1; ++x) row[x + kx - 1] += wv * d[x];
            if (w > 1) row[clampi(w + kx - 2, 0, w - 1)] += wv * d[w - 1];
          }
        }
  // The 1x1 layers, in blocks of pixels that stay in cache (one pass over the image instead
  // of one per channel); weight gradients summed per block in float, across blocks in double.
  // Per-thread sums, added in thread order (the same order on every run).
  const size_t nw = size_t(H) * L + size_t(H) + size_t(3) * H + 3;
  std::vector<std::vector<double>> part(size_t(omp_get_max_threads()), std::vector<double>(nw, 0.0));
#pragma omp parallel
  {
    constexpr size_t kPix = 256;
    std::vector<float> dh(size_t(H) * kPix);
    double* tw1 = part[size_t(omp_get_thread_num())].data();
    double* tb1 = tw1 + size_t(H) * L;
    double* tw2 = tb1 + H;
    double* tb2 = tw2 + size_t(3) * H;
#pragma omp for schedule(static)
    for (long long blk = 0; blk < (long long)((P + kPix - 1) / kPix); ++blk) {
      const size_t p0 = size_t(blk) * kPix, np = std::min(kPix, P - p0);
      for (int c = 0; c < 3; ++c) {
        const float* dc = &d_o[size_t(c) * P + p0];
        float sb = 0.f;
#pragma omp simd reduction(+ : sb)
        for (size_t q = 0; q < np; ++q) sb += dc[q];
        tb2[size_t(c)] += sb;
      }
      for (int k = 0; k < H; ++k) {
        const float* hk = &s.hid[size_t(k) * P + p0];
        float* d = &dh[size_t(k) * kPix];
        const float w0 = n.w2[size_t(k)], w1 = n.w2[size_t(H) + k], w2 = n.w2[2 * size_t(H) + k];
        const float* d0 = &d_o[p0];
        const float* d1 = &d_o[P + p0];
        const float* d2 = &d_o[2 * P + p0];
        float g0 = 0.f, g1 = 0.f, g2 = 0.f, sb = 0.f;
#pragma omp simd reduction(+ : g0, g1, g2, sb)
        for (size_t q = 0; q < np; ++q) {
          g0 += d0[q] * hk[q];
          g1 += d1[q] * hk[q];
          g2 += d2[q] * hk[q];
          const float v = w0 * d0[q] + w1 * d1[q] + w2 * d2[q];
          d[q] = hk[q] > 0.f ? v : 0.f;
          sb += d[q];
        }
        tw2[size_t(k)] += g0;
        tw2[size_t(H) + k] += g1;
        tw2[2 * size_t(H) + k] += g2;
        tb1[size_t(k)] += sb;
        for (int l = 0; l < L; ++l) {
          const float* f = feat + size_t(l) * P + p0;
          float acc = 0.f;
#pragma omp simd reduction(+ : acc)
          for (size_t q = 0; q < np; ++q) acc += d[q] * f[q];
          tw1[size_t(k) * L + l] += acc;
        }
      }
      for (int l = 0; l < L; ++l) {
        float* df = d_feat + size_t(l) * P + p0;
        for (int k = 0; k < H; ++k) {
          const float wv = n.w1[size_t(k) * L + l];
          const float* d = &dh[size_t(k) * kPix];
          for (size_t q = 0; q < np; ++q) df[q] += wv * d[q];
        }
      }
    }
  }
  std::vector<double> sum(nw, 0.0);
  for (const auto& t : part)
    for (size_t i = 0; i < nw; ++i) sum[i] += t[i];
  const double* s1 = sum.data();
  for (size_t i = 0; i < g.w1.size(); ++i) g.w1[i] += float(*s1++);
  for (size_t i = 0; i < g.b1.size(); ++i) g.b1[i] += float(*s1++);
  for (size_t i = 0; i < g.w2.size(); ++i) g.w2[i] += float(*s1++);
  for (size_t i = 0; i < 3; ++i) g.b2[i] += float(*s1++);
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

uint32_t arm_lanes(size_t n) { return default_lane_count(n); }

namespace {

// The ARM on a block of up to kBlock latents of one lane, laid out structure-of-arrays
// (context m of latent b at c[m][b]) so that every layer is a loop over the block that the
// compiler vectorises (built for AVX2 and the baseline, picked at load time).
constexpr int kBlock = 64, kLanes = 16;  // kLanes: a register tile (one AVX-512 vector)
struct ArmBlock {
  int nb = 0;
  float c[kArmInputs][kBlock];
  int64_t pos[kArmInputs][kBlock];  // where context m of latent b came from (-1: none)
  float v[kBlock];                  // the latents' own values
  float h[kMaxHidden][kBlock], dh[kMaxHidden][kBlock];
  float dmu[kBlock], ds[kBlock], dv[kBlock];
};

// Forward (and, with g, backward) of one block; returns its bits.
__attribute__((target_clones("avx512f", "avx2", "default")))
double arm_block(const Net& n, ArmBlock& B, Net* g) {
  const int A = n.s.arm_hidden, nb = B.nb;
  // Loops over the block's latents outermost (vectorised), the sums over inputs inside, so
  // each sum stays in a register (summing row by row through memory stalled on the stores).
  for (int a = 0; a < A; ++a) {
    const float* w = &n.a1[size_t(a) * kArmInputs];
    const float bias = n.c1[a];
    float* h = B.h[a];
#pragma omp simd
    for (int b = 0; b < nb; ++b) {
      float acc = bias;
      for (int m = 0; m < kArmInputs; ++m) acc += w[m] * B.c[m][b];
      h[b] = acc > 0.f ? acc : 0.f;
    }
  }
  // Sums over a run-time count (A) go through a register tile of kLanes latents: the compiler
  // does not vectorise an outer loop whose inner trip count is unknown. A partial block's
  // last tile also computes a few stale lanes (finite leftovers of the previous block, and
  // zero in a new ArmBlock), which nothing reads.
  float mu[kBlock], sv[kBlock];
  for (int b0 = 0; b0 < nb; b0 += kLanes) {
    float m0[kLanes], s0[kLanes];
    for (int k = 0; k < kLanes; ++k) m0[k] = n.c2[0], s0[k] = n.c2[1];
    for (int a = 0; a < A; ++a) {
      const float w0 = n.a2[a], w1 = n.a2[size_t(A) + a];
      const float* h = &B.h[a][b0];
      for (int k = 0; k < kLanes; ++k) {
        m0[k] += w0 * h[k];
        s0[k] += w1 * h[k];
      }
    }
    for (int k = 0; k < kLanes; ++k) mu[b0 + k] = m0[k], sv[b0 + k] = s0[k];
  }
  // The Laplace bin probability (laplace_bin(), the double reference, in float with the fast
  // functions so that the loop vectorises) and its derivatives.
  float bits = 0.f;
#pragma omp simd reduction(+ : bits)
  for (int b = 0; b < nb; ++b) {
    const float s = sv[b];
    const bool inside = s > float(kLogBMin) && s < float(kLogBMax);
    const float bb = fast::exp(s < float(kLogBMin) ? float(kLogBMin) : (s > float(kLogBMax) ? float(kLogBMax) : s));
    const float ib = 1.f / bb;
    const float lo = B.v[b] - 0.5f - mu[b], hi = B.v[b] + 0.5f - mu[b];
    const float el = fast::exp(-(lo < 0.f ? -lo : lo) * ib), eh = fast::exp(-(hi < 0.f ? -hi : hi) * ib);
    const float p = lo >= 0.f ? 0.5f * (el - eh) : (hi <= 0.f ? 0.5f * (eh - el) : 1.f - 0.5f * eh - 0.5f * el);
    const bool floored = !(p > 1.f / 65536);
    const float pc = floored ? 1.f / 65536 : p;
    bits += -fast::log2(pc);
    const float d = floored ? 0.f : -1.f / (pc * 0.693147181f);
    const float flo = 0.5f * el * ib, fhi = 0.5f * eh * ib;
    B.dv[b] = d * (fhi - flo);
    B.dmu[b] = -B.dv[b];
    B.ds[b] = inside ? -d * (hi * fhi - lo * flo) : 0.f;  // d/d log b = b d/db
  }
  if (!g) return double(bits);
  // Reductions with `omp simd`: the compiler may reorder them into vector lanes (the same
  // order on every run), which it may not do for a plain float sum.
  float sm = 0.f, ss = 0.f;
#pragma omp simd reduction(+ : sm, ss)
  for (int b = 0; b < nb; ++b) {
    sm += B.dmu[b];
    ss += B.ds[b];
  }
  g->c2[0] += sm;
  g->c2[1] += ss;
  for (int a = 0; a < A; ++a) {
    const float w0 = n.a2[a], w1 = n.a2[size_t(A) + a];
    const float* h = B.h[a];
    float* dh = B.dh[a];
    float g0 = 0.f, g1 = 0.f, gb = 0.f;
#pragma omp simd reduction(+ : g0, g1, gb)
    for (int b = 0; b < nb; ++b) {
      g0 += B.dmu[b] * h[b];
      g1 += B.ds[b] * h[b];
      dh[b] = h[b] > 0.f ? B.dmu[b] * w0 + B.ds[b] * w1 : 0.f;
      gb += dh[b];
    }
    g->a2[a] += g0;
    g->a2[size_t(A) + a] += g1;
    g->c1[a] += gb;
    for (int m = 0; m < kArmInputs; ++m) {
      const float* c = B.c[m];
      float acc = 0.f;
#pragma omp simd reduction(+ : acc)
      for (int b = 0; b < nb; ++b) acc += dh[b] * c[b];
      g->a1[size_t(a) * kArmInputs + m] += acc;
    }
  }
  // d contexts, left in B.c (no longer needed): dc[m][b] = sum_a a1[a][m] * dh[a][b].
  for (int m = 0; m < kArmInputs; ++m)
    for (int b0 = 0; b0 < nb; b0 += kLanes) {
      float acc[kLanes] = {};
      for (int a = 0; a < A; ++a) {
        const float w = n.a1[size_t(a) * kArmInputs + m];
        const float* dh = &B.dh[a][b0];
        for (int k = 0; k < kLanes; ++k) acc[k] += w * dh[k];
      }
      for (int k = 0; k < kLanes; ++k) B.c[m][b0 + k] = acc[k];
    }
  return double(bits);
}

}  // namespace

double arm_rate(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y,
                std::vector<std::vector<float>>* dy, Net* g) {
  const int levels = int(gr.size());
  const int T = omp_get_max_threads();
  const bool grads = g && dy;
  std::vector<double> bits(size_t(T), 0.0);
  // Per-thread gradients (contexts cross lanes' owners through the coarser grid).
  std::vector<Net> tg(grads ? size_t(T) : 0);
  std::vector<std::vector<std::vector<float>>> tdy(grads ? size_t(T) : 0);
  for (auto& t : tg) t.zero_like(n);
  for (auto& t : tdy) {
    t.resize(size_t(levels));
    for (int l = 0; l < levels; ++l) t[l].assign(y[l].size(), 0.f);
  }
  for (int l = 0; l < levels; ++l) {
    const Grid G = gr[l];
    const size_t N = size_t(G.h) * G.w;
    const uint32_t lanes = arm_lanes(N);
    const float* yl = y[l].data();
    const float* yc = l + 1 < levels ? y[l + 1].data() : nullptr;
    const int cw = l + 1 < levels ? gr[l + 1].w : 0;
    // Raster offsets of the neighbours (all behind: dy < 0, or dy = 0 and dx < 0).
    std::array<int64_t, kContext> off;
    for (int m = 0; m < kContext; ++m) off[size_t(m)] = int64_t(kNeighbours[m][0]) * G.w + kNeighbours[m][1];
#pragma omp parallel
    {
      const int t = omp_get_thread_num();
      auto B = std::make_unique<ArmBlock>();
      double local = 0;
      // Static: for a given thread count the sums are in the same order on every run.
#pragma omp for schedule(static)
      for (uint32_t k = 0; k < lanes; ++k) {
        const size_t begin = N * k / lanes, end = N * (k + 1) / lanes;
        for (size_t p0 = begin; p0 < end; p0 += kBlock) {
          B->nb = int(std::min<size_t>(kBlock, end - p0));
          int i = int(p0 / size_t(G.w)), j = int(p0 % size_t(G.w));  // then stepped, not divided
          for (int b = 0; b < B->nb; ++b) {
            const size_t p = p0 + size_t(b);
            // Interior latents (the whole neighbourhood inside the grid and the lane: the
            // farthest neighbour back is 3 rows up, the columns span j - 3 .. j + 2) skip the
            // per-neighbour checks.
            if (j >= 3 && j + 3 <= G.w && p >= begin + 3 * size_t(G.w)) {
              for (int m = 0; m < kContext; ++m) {
                const size_t q = p - size_t(-off[m]);
                B->pos[m][b] = int64_t(q);
                B->c[m][b] = yl[q];
              }
            } else {
              for (int m = 0; m < kContext; ++m) {
                const int ii = i + kNeighbours[m][0], jj = j + kNeighbours[m][1];
                const bool ok = ii >= 0 && jj >= 0 && jj < G.w && size_t(ii) * G.w + jj >= begin;
                B->pos[m][b] = ok ? int64_t(size_t(ii) * G.w + jj) : -1;
                B->c[m][b] = ok ? yl[size_t(ii) * G.w + jj] : 0.f;
              }
            }
            B->pos[kContext][b] = yc ? int64_t(size_t(i / 2) * cw + j / 2) : -1;
            B->c[kContext][b] = yc ? yc[size_t(i / 2) * cw + j / 2] : 0.f;
            B->v[b] = yl[p];
            if (++j == G.w) j = 0, ++i;
          }
          local += arm_block(n, *B, grads ? &tg[size_t(t)] : nullptr);
          if (!grads) continue;
          auto& D = tdy[size_t(t)];
          for (int b = 0; b < B->nb; ++b) {
            D[l][p0 + size_t(b)] += B->dv[b];
            for (int m = 0; m < kArmInputs; ++m)
              if (B->pos[m][b] >= 0) D[m < kContext ? l : l + 1][size_t(B->pos[m][b])] += B->c[m][b];
          }
        }
      }
      bits[size_t(t)] += local;
    }
  }
  double total = 0;
  for (double b : bits) total += b;
  if (grads) {
    auto dst = g->tensors();
    for (const Net& t : tg) {
      auto src = t.tensors();
      for (size_t i = 0; i < src.size(); ++i)
        for (size_t e = 0; e < src[i]->size(); ++e) (*dst[i])[e] += (*src[i])[e];
    }
    for (const auto& t : tdy)
      for (int l = 0; l < levels; ++l)
        for (size_t e = 0; e < t[l].size(); ++e) (*dy)[l][e] += t[l][e];
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
