// The INR codec's upsampling of its grids to the image (docs/bitstream.md, "Reconstruction").
//
// Learned (payload version 2, what the encoder writes), Cool-chic style: coarse to fine, the
// stack of grids l+1 .. L-1 at grid l+1's size is upsampled 2x by stage l's filter (a 4-tap
// kernel k per output phase, the even phase its mirror, so 4 parameters; separable: rows then
// columns; edges replicated; initialised to Keys' bicubic, which reproduces the half-pixel
// geometry of direct bilinear upsampling), cropped to grid l's size, and grid l joins it.
// After stage 0 the stack holds the L features of every pixel.
//
// Bilinear (payload version 1, decoded for streams written before the filters were learned):
// each grid directly to the image.
#include <omp.h>

#include <algorithm>
#include <memory>

#include "models/inr/inr.h"

namespace nlc::inr {

const std::array<float, 4>& bicubic_taps() {
  // Keys' cubic (a = -1/2) at distances 1.25, 0.25, 0.75, 1.75: output 2i + 1 lies at input
  // coordinate i + 1/4 and reads inputs i - 1 .. i + 2. Exact in 2^-7 steps.
  static const std::array<float, 4> k = {-0.0703125f, 0.8671875f, 0.2265625f, -0.0234375f};
  return k;
}

namespace {

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// Phase weights: output 2i + 1 = sum_t k[t] in[i - 1 + t]; output 2i = sum_t k[3 - t] in[i - 2 + t].
// One row (or column of rows) of n_in inputs to n_out outputs, inputs clamped to the edges.
// `pin` is a scratch of n_in + 5 (the row with 2 replicated values before and 3 after).
void up2_row(const float* in, int n_in, int n_out, const float* k, float* out, float* pin) {
  for (int j = -2; j < n_in + 3; ++j) pin[j + 2] = in[clampi(j, 0, n_in - 1)];
  const int half = n_out / 2;
  // out[2i] reads pin[i .. i+3], out[2i+1] reads pin[i+1 .. i+4] (pin index = input index + 2).
  for (int i = 0; i < half; ++i) {
    out[2 * i] = k[3] * pin[i] + k[2] * pin[i + 1] + k[1] * pin[i + 2] + k[0] * pin[i + 3];
    out[2 * i + 1] = k[0] * pin[i + 1] + k[1] * pin[i + 2] + k[2] * pin[i + 3] + k[3] * pin[i + 4];
  }
  if (n_out & 1) {
    const int i = half;
    out[2 * i] = k[3] * pin[i] + k[2] * pin[i + 1] + k[1] * pin[i + 2] + k[0] * pin[i + 3];
  }
}

// The transpose of up2_row (d_in += U^T d_out) and the kernel's gradient (dk += d out / d k).
// Gathered rather than scattered, so that the loops vectorise: with E[i] = d_out[2i] and
// O[i] = d_out[2i + 1] (zero outside), d pin[j] = k3 E[j] + k2 E[j-1] + k1 E[j-2] + k0 E[j-3]
// + k0 O[j-1] + k1 O[j-2] + k2 O[j-3] + k3 O[j-4]. Scratch: pin and dpin n_in + 5 long,
// ep and op n_in + 9 (E and O with 4 zeros in front).
__attribute__((target_clones("avx512f", "avx2", "default")))
void up2_row_backward(const float* in, int n_in, int n_out, const float* k, const float* d_out,
                      float* d_in, double* dk, float* pin, float* dpin, float* ep, float* op) {
  for (int j = -2; j < n_in + 3; ++j) pin[j + 2] = in[clampi(j, 0, n_in - 1)];
  const int ne = (n_out + 1) / 2, no = n_out / 2, m = n_in + 9;
  for (int i = 0; i < m; ++i) ep[i] = op[i] = 0.f;
  for (int i = 0; i < ne; ++i) ep[i + 4] = d_out[2 * i];
  for (int i = 0; i < no; ++i) op[i + 4] = d_out[2 * i + 1];
  const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3];
  const float *E = ep + 4, *O = op + 4;  // E[-4 .. n_in + 4]
  for (int j = 0; j < n_in + 5; ++j)
    dpin[j] = k3 * E[j] + k2 * E[j - 1] + k1 * E[j - 2] + k0 * E[j - 3] + k0 * O[j - 1] + k1 * O[j - 2] +
              k2 * O[j - 3] + k3 * O[j - 4];
  // Even output i reads pin[i .. i+3] with k3 .. k0, odd output i pin[i+1 .. i+4] with k0 .. k3.
  // In 16 lanes of partial sums, added up at the end (each lane a plain sum, so the loop
  // vectorises with GCC and clang alike, without reassociating anything).
  constexpr int kLanes = 16;
  float g[4][kLanes] = {};
  int i = 0;
  for (; i + kLanes <= ne; i += kLanes)
    for (int q = 0; q < kLanes; ++q) {
      const int x = i + q;
      g[0][q] += O[x] * pin[x + 1] + E[x] * pin[x + 3];
      g[1][q] += O[x] * pin[x + 2] + E[x] * pin[x + 2];
      g[2][q] += O[x] * pin[x + 3] + E[x] * pin[x + 1];
      g[3][q] += O[x] * pin[x + 4] + E[x] * pin[x];
    }
  for (; i < ne; ++i) {  // the tail, into lane 0
    g[0][0] += O[i] * pin[i + 1] + E[i] * pin[i + 3];
    g[1][0] += O[i] * pin[i + 2] + E[i] * pin[i + 2];
    g[2][0] += O[i] * pin[i + 3] + E[i] * pin[i + 1];
    g[3][0] += O[i] * pin[i + 4] + E[i] * pin[i];
  }
  for (int t = 0; t < 4; ++t) {
    double sum = 0;
    for (int q = 0; q < kLanes; ++q) sum += g[t][q];
    dk[t] += sum;
  }
  for (int j = -2; j < n_in + 3; ++j) d_in[clampi(j, 0, n_in - 1)] += dpin[j + 2];
}

// The columns pass' backward for one tap of one output row: dr += wt d; returns sum d * mr.
__attribute__((target_clones("avx512f", "avx2", "default")))
float column_backward(float* dr, const float* d, const float* mr, float wt, int n) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int x = 0; x < n; ++x) {
    dr[x] += wt * d[x];
    acc += d[x] * mr[x];
  }
  return acc;
}

// Vertical taps of output row y of a 2x upsampling of n_in rows: rows r[t], weights w[t].
void vtaps(int y, int n_in, const float* k, int r[4], float w[4]) {
  const int i = y >> 1;
  for (int t = 0; t < 4; ++t) {
    r[t] = clampi((y & 1) ? i - 1 + t : i - 2 + t, 0, n_in - 1);
    w[t] = (y & 1) ? k[t] : k[3 - t];
  }
}

// Stage l: `in` holds c channels at grid gi (= l + 1), `out` c channels at grid go (= l);
// `mid` keeps the rows pass (c channels, gi.h x go.w) for the backward pass.
void stage_forward(const float* k, const float* in, const Grid& gi, const Grid& go, int c, float* mid, float* out) {
  const size_t ni = size_t(gi.h) * gi.w, nm = size_t(gi.h) * go.w, no = size_t(go.h) * go.w;
#pragma omp parallel
  {
    std::vector<float> pin(size_t(gi.w) + 5);
#pragma omp for schedule(static)
    for (long long cr = 0; cr < (long long)c * gi.h; ++cr) {
      const size_t ch = size_t(cr / gi.h), r = size_t(cr % gi.h);
      up2_row(in + ch * ni + r * gi.w, gi.w, go.w, k, mid + ch * nm + r * go.w, pin.data());
    }
#pragma omp for schedule(static)
    for (long long cy = 0; cy < (long long)c * go.h; ++cy) {
      const size_t ch = size_t(cy / go.h);
      const int y = int(cy % go.h);
      int r[4];
      float wt[4];
      vtaps(y, gi.h, k, r, wt);
      const float* m = mid + ch * nm;
      const float *m0 = m + size_t(r[0]) * go.w, *m1 = m + size_t(r[1]) * go.w, *m2 = m + size_t(r[2]) * go.w,
                  *m3 = m + size_t(r[3]) * go.w;
      float* o = out + ch * no + size_t(y) * go.w;
#pragma omp simd
      for (int x = 0; x < go.w; ++x) o[x] = wt[0] * m0[x] + wt[1] * m1[x] + wt[2] * m2[x] + wt[3] * m3[x];
    }
  }
}

// d_out (c channels at go) -> d_in (written, c channels at gi) and dk (added).
void stage_backward(const float* k, const float* in, const float* mid, const Grid& gi, const Grid& go, int c,
                    const float* d_out, float* d_in, float* dk_out) {
  const size_t ni = size_t(gi.h) * gi.w, nm = size_t(gi.h) * go.w, no = size_t(go.h) * go.w;
  // Uninitialised here; each thread zeroes the channels it owns below.
  std::unique_ptr<float[]> d_mid(new float[size_t(c) * nm]);
  const int T = omp_get_max_threads();
  std::vector<std::array<double, 4>> part(size_t(T), {0, 0, 0, 0});
#pragma omp parallel
  {
    std::array<double, 4>& dk = part[size_t(omp_get_thread_num())];
    // Columns pass: each thread owns whole channels' d_mid (rows are shared between outputs).
#pragma omp for schedule(static)
    for (int ch = 0; ch < c; ++ch) {
      const float* m = mid + size_t(ch) * nm;
      float* dm = &d_mid[size_t(ch) * nm];
      std::fill(dm, dm + nm, 0.f);
      for (int y = 0; y < go.h; ++y) {
        int r[4];
        float wt[4];
        vtaps(y, gi.h, k, r, wt);
        const float* d = d_out + size_t(ch) * no + size_t(y) * go.w;
        for (int t = 0; t < 4; ++t)
          dk[(y & 1) ? t : 3 - t] += column_backward(dm + size_t(r[t]) * go.w, d, m + size_t(r[t]) * go.w, wt[t], go.w);
      }
    }
    std::vector<float> pin(size_t(gi.w) + 5), dpin(size_t(gi.w) + 5), ep(size_t(gi.w) + 9), op(size_t(gi.w) + 9);
#pragma omp for schedule(static)
    for (long long cr = 0; cr < (long long)c * gi.h; ++cr) {
      const size_t ch = size_t(cr / gi.h), r = size_t(cr % gi.h);
      float* di = d_in + ch * ni + r * gi.w;  // this row's alone (up2_row_backward adds to it)
      std::fill(di, di + gi.w, 0.f);
      up2_row_backward(in + ch * ni + r * gi.w, gi.w, go.w, k, &d_mid[ch * nm + r * go.w], di, dk.data(), pin.data(),
                       dpin.data(), ep.data(), op.data());
    }
  }
  for (const auto& p : part)
    for (int t = 0; t < 4; ++t) dk_out[t] += float(p[size_t(t)]);
}

// Bilinear, one grid straight to the image (payload version 1).
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w0, w1;
};
Taps taps(int n_out, int n_in, int level) {
  Taps t;
  const double f = double(1 << level);
  for (int o = 0; o < n_out; ++o) {
    const double s = (o + 0.5) / f - 0.5;
    const int a = int(std::floor(s));
    const float frac = float(s - a);
    t.i0.push_back(std::clamp(a, 0, n_in - 1));
    t.i1.push_back(std::clamp(a + 1, 0, n_in - 1));
    t.w0.push_back(1.f - frac);
    t.w1.push_back(frac);
  }
  return t;
}

}  // namespace

void upsample_bilinear(const float* g, const Grid& gg, int level, int h, int w, float* out) {
  if (level == 0) {
    std::copy(g, g + size_t(h) * w, out);
    return;
  }
  const Taps tx = taps(w, gg.w, level), ty = taps(h, gg.h, level);
  std::vector<float> tmp(size_t(gg.h) * w);  // rows of the grid, columns at full width
  for (int r = 0; r < gg.h; ++r)
    for (int x = 0; x < w; ++x)
      tmp[size_t(r) * w + x] = tx.w0[x] * g[size_t(r) * gg.w + tx.i0[x]] + tx.w1[x] * g[size_t(r) * gg.w + tx.i1[x]];
#pragma omp parallel for schedule(static)
  for (int y = 0; y < h; ++y) {
    const float* r0 = &tmp[size_t(ty.i0[y]) * w];
    const float* r1 = &tmp[size_t(ty.i1[y]) * w];
    float* o = out + size_t(y) * w;
    for (int x = 0; x < w; ++x) o[x] = ty.w0[y] * r0[x] + ty.w1[y] * r1[x];
  }
}

void upsample_bilinear_backward(const float* dout, const Grid& gg, int level, int h, int w, float* dg) {
  if (level == 0) {
    for (size_t i = 0; i < size_t(h) * w; ++i) dg[i] += dout[i];
    return;
  }
  const Taps tx = taps(w, gg.w, level), ty = taps(h, gg.h, level);
  std::vector<float> tmp(size_t(gg.h) * w, 0.f);
  for (int y = 0; y < h; ++y) {
    float* r0 = &tmp[size_t(ty.i0[y]) * w];
    float* r1 = &tmp[size_t(ty.i1[y]) * w];
    const float* d = dout + size_t(y) * w;
    for (int x = 0; x < w; ++x) {
      r0[x] += ty.w0[y] * d[x];
      r1[x] += ty.w1[y] * d[x];
    }
  }
  for (int r = 0; r < gg.h; ++r)
    for (int x = 0; x < w; ++x) {
      const float v = tmp[size_t(r) * w + x];
      dg[size_t(r) * gg.w + tx.i0[x]] += tx.w0[x] * v;
      dg[size_t(r) * gg.w + tx.i1[x]] += tx.w1[x] * v;
    }
}

void upsample(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y, float* feat,
              UpScratch* scratch) {
  const int L = int(gr.size());
  const size_t P = size_t(gr[0].h) * gr[0].w;
  if (!n.s.learned_up) {
    for (int l = 0; l < L; ++l) upsample_bilinear(y[l].data(), gr[l], l, gr[0].h, gr[0].w, feat + size_t(l) * P);
    return;
  }
  UpScratch local;
  UpScratch& s = scratch ? *scratch : local;
  s.in.resize(size_t(L));
  s.mid.resize(size_t(L));
  // The stack entering stage l: grids l+1 .. L-1 at grid l+1's size, grid l+1 first.
  std::vector<float> cur(y[L - 1]);
  for (int l = L - 2; l >= 0; --l) {
    const Grid gi = gr[l + 1], go = gr[l];
    const int c = L - 1 - l;
    const size_t no = size_t(go.h) * go.w;
    s.in[l] = std::move(cur);
    s.mid[l].resize(size_t(c) * gi.h * go.w);
    // Stage 0 writes straight into the features (channels 1 .. L-1).
    std::vector<float> out;
    float* dst = feat + P;
    if (l > 0) {
      out.resize(size_t(c + 1) * no);
      std::copy(y[l].begin(), y[l].end(), out.begin());
      dst = out.data() + no;
    }
    stage_forward(&n.up[size_t(l) * 4], s.in[l].data(), gi, go, c, s.mid[l].data(), dst);
    cur = std::move(out);
  }
  const float* y0 = y[0].data();
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < P; ++i) feat[i] = y0[i];
}

void upsample_backward(const Net& n, const std::vector<Grid>& gr, const float* d_feat, const UpScratch& s,
                       std::vector<std::vector<float>>& dy, Net* g) {
  const int L = int(gr.size());
  const size_t P = size_t(gr[0].h) * gr[0].w;
  if (!n.s.learned_up) {
    for (int l = 0; l < L; ++l)
      upsample_bilinear_backward(d_feat + size_t(l) * P, gr[l], l, gr[0].h, gr[0].w, dy[l].data());
    return;
  }
  float* d0 = dy[0].data();
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < P; ++i) d0[i] += d_feat[i];
  // d of the stage-l output stack (channels l+1 .. L-1 at grid l): the features' channels
  // 1 .. L-1 for stage 0, then what stage l-1 gave its input past channel 0 (read in place).
  const float* d_out = d_feat + P;
  std::vector<float> d_in, d_prev;
  for (int l = 0; l <= L - 2; ++l) {
    const Grid gi = gr[l + 1], go = gr[l];
    const int c = L - 1 - l;
    const size_t ni = size_t(gi.h) * gi.w;
    d_in.resize(size_t(c) * ni);  // written by stage_backward
    stage_backward(&n.up[size_t(l) * 4], s.in[l].data(), s.mid[l].data(), gi, go, c, d_out, d_in.data(),
                   &g->up[size_t(l) * 4]);
    // Channel 0 of stage l's input is grid l+1 itself; the rest came out of stage l+1.
    float* dl = dy[l + 1].data();
    const float* di = d_in.data();
#pragma omp parallel for simd schedule(static) if (ni > 16384)
    for (size_t i = 0; i < ni; ++i) dl[i] += di[i];
    std::swap(d_in, d_prev);
    d_out = d_prev.data() + ni;
  }
}

}  // namespace nlc::inr
