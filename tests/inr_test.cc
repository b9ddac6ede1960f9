// The INR codec (models/inr/): every handwritten backward pass against finite differences,
// the integer ARM's symbols decoding to exactly what was coded (several lanes, any thread
// count), the weights' serialisation, and the codec end to end through the public API: a
// short fit on small images, decoded by any Decoder, damaged streams refused, Ctrl-C's
// stop flag.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include "bitstream/container.h"
#include "bitstream/crc32c.h"
#include "models/inr/fastmath.h"
#include "models/inr/inr.h"
#include "nlc/codec.h"

namespace nlc {
namespace {

using namespace inr;

const std::string kModel = std::string(NLC_TEST_DATA) + "/tiny.nlcm";

std::vector<float> randv(size_t n, std::mt19937& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0, scale);
  std::vector<float> v(n);
  for (float& x : v) x = float(d(rng));
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// Analytic vs central difference: |a - n| <= atol + rtol * max(|a|, |n|).
void expect_close(double analytic, double numeric, double rtol, double atol, const std::string& what) {
  EXPECT_LE(std::abs(analytic - numeric), atol + rtol * std::max(std::abs(analytic), std::abs(numeric)))
      << what << ": analytic " << analytic << ", numeric " << numeric;
}

// Finite-difference checks of a function with kinks (ReLU, clamps, the probability floor):
// where the two one-sided differences disagree, a kink lies within eps and the point is
// skipped; elsewhere the analytic derivative must match the central difference. At most a
// quarter of the points may be skipped.
struct FdCheck {
  double rtol, atol;
  int checked = 0, skipped = 0;
  void operator()(double analytic, double lp, double l0, double lm, double eps, const std::string& what) {
    const double fp = (lp - l0) / eps, fm = (l0 - lm) / eps;
    if (std::abs(fp - fm) > atol + rtol * std::max(std::abs(fp), std::abs(fm))) {
      ++skipped;
      return;
    }
    ++checked;
    expect_close(analytic, (lp - lm) / (2 * eps), rtol, atol, what);
  }
  ~FdCheck() {
    EXPECT_GT(checked, 0);
    EXPECT_LE(skipped * 3, checked) << skipped << " points skipped as kinks, " << checked << " checked";
  }
};

TEST(Inr, BilinearUpsamplingBackwardIsItsTranspose) {
  std::mt19937 rng(1);
  for (int level = 0; level < 4; ++level)
    for (auto [w, h] : {std::pair{17, 9}, std::pair{32, 24}, std::pair{5, 3}}) {
      const Grid g = grids(w, h, level + 1)[level];
      const auto x = randv(size_t(g.h) * g.w, rng), d = randv(size_t(h) * w, rng);
      std::vector<float> ux(size_t(h) * w), utd(x.size(), 0.f);
      upsample_bilinear(x.data(), g, level, h, w, ux.data());
      upsample_bilinear_backward(d.data(), g, level, h, w, utd.data());
      EXPECT_NEAR(dot(ux, d), dot(x, utd), 1e-4 * (1 + std::abs(dot(ux, d)))) << level << " " << w << "x" << h;
    }
  // A constant grid upsamples to the same constant (weights sum to 1, edges replicated).
  const Grid g = grids(19, 11, 3)[2];
  std::vector<float> c(size_t(g.h) * g.w, 2.5f), out(19 * 11);
  upsample_bilinear(c.data(), g, 2, 11, 19, out.data());
  for (float v : out) ASSERT_NEAR(v, 2.5f, 1e-6);
}

std::vector<std::vector<float>> random_grids(const std::vector<Grid>& gr, std::mt19937& rng, double scale) {
  std::vector<std::vector<float>> y;
  for (const Grid& g : gr) y.push_back(randv(size_t(g.h) * g.w, rng, scale));
  return y;
}

// The learned upsampling: its backward pass is the transpose of the forward (for the grids)
// and matches finite differences (for the filters), on odd and even sizes.
TEST(Inr, LearnedUpsamplingGradients) {
  std::mt19937 rng(11);
  for (auto [w, h] : {std::pair{37, 21}, std::pair{64, 48}, std::pair{9, 70}}) {
    const auto gr = grids(w, h, level_count(w, h));
    const int L = int(gr.size());
    const size_t P = size_t(w) * h;
    Net n;
    n.init({L, 4, 4}, rng);
    for (float& k : n.up) k += float(std::normal_distribution<double>(0, 0.1)(rng));
    const auto y = random_grids(gr, rng, 1.0);
    const auto d = randv(size_t(L) * P, rng);
    std::vector<float> feat(size_t(L) * P);
    UpScratch s;
    upsample(n, gr, y, feat.data(), &s);
    std::vector<std::vector<float>> dy;
    for (const auto& v : y) dy.emplace_back(v.size(), 0.f);
    Net g;
    g.zero_like(n);
    upsample_backward(n, gr, d.data(), s, dy, &g);
    double lhs = dot(feat, d), rhs = 0;
    for (int l = 0; l < L; ++l) rhs += dot(y[l], dy[l]);
    EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::abs(lhs))) << w << "x" << h;
    auto loss = [&](const Net& m) {
      std::vector<float> f(size_t(L) * P);
      upsample(m, gr, y, f.data());
      return dot(f, d);
    };
    const double eps = 1e-3, l0 = loss(n);
    FdCheck check{1e-2, 1e-2};
    for (size_t e = 0; e < n.up.size(); ++e) {
      Net np = n, nm = n;
      np.up[e] += float(eps);
      nm.up[e] -= float(eps);
      check(g.up[e], loss(np), l0, loss(nm), eps, "d up[" + std::to_string(e) + "]");
    }
  }
}

// The bicubic start keeps the half-pixel geometry of direct upsampling: a constant stays
// constant and a linear ramp along x is reproduced away from the edges (cubic interpolation
// is exact on linear functions), at every level of the cascade.
TEST(Inr, LearnedUpsamplingStartsAsBicubic) {
  const int w = 256, h = 40;
  const auto gr = grids(w, h, level_count(w, h));
  const int L = int(gr.size());
  const size_t P = size_t(w) * h;
  std::mt19937 rng(12);
  Net n;
  n.init({L, 4, 4}, rng);
  std::vector<std::vector<float>> y(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) {
    y[size_t(l)].resize(size_t(gr[l].h) * gr[l].w);
    for (int r = 0; r < gr[l].h; ++r)
      for (int c = 0; c < gr[l].w; ++c)  // grid l's sample c sits at image x = (c + 1/2) 2^l - 1/2
        y[size_t(l)][size_t(r) * gr[l].w + c] = float((c + 0.5) * (1 << l) - 0.5);
  }
  std::vector<float> feat(size_t(L) * P);
  upsample(n, gr, y, feat.data());
  for (int l = 0; l < L; ++l) {
    const int margin = 3 << l;  // replicated edges bend the ramp near the borders
    for (int x = margin; x < w - margin; ++x)
      ASSERT_NEAR(feat[size_t(l) * P + size_t(h / 2) * w + x], float(x), 1e-3) << "level " << l << " x " << x;
  }
}

Net random_net(int L, int H, int A, std::mt19937& rng) {
  Net n;
  n.init({L, H, A}, rng);
  n.wc = randv(81, rng, 0.2);  // a nonzero residual, so its gradients are exercised
  n.bc = randv(3, rng, 0.1);
  n.a2 = randv(size_t(2) * A, rng, 0.3);
  n.c1 = randv(size_t(A), rng, 0.3);  // (0 would put latents with an empty context on the ReLU's kink)
  n.c2 = {0.2f, 0.5f};
  return n;
}

void synthesis_gradients(int w, int h, int L);

// On a small image (every column an edge case or nearly); on one whose rows hold 16-wide
// vectors and a remainder, of two pixel blocks (256 and 40 pixels: vectors and a tail); and on
// rows of four vectors and a fifth overlapping them (the residual's backward), with the level
// counts the kernels are compiled for (7 and 6: a Kodak image's two fitting stages) and 64-,
// 16-pixel and single-pixel steps in the 1x1 layers.
TEST(Inr, SynthesisGradientsMatchFiniteDifferences) {
  for (auto [w, h, L] : {std::tuple{7, 5, 3}, std::tuple{37, 8, 3}, std::tuple{70, 6, 7}, std::tuple{70, 5, 6}})
    synthesis_gradients(w, h, L);
}

void synthesis_gradients(int w, int h, int L) {
  SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + ", " + std::to_string(L) + " levels");
  std::mt19937 rng(2);
  const int P = w * h;
  Net n = random_net(L, 6, 4, rng);
  const auto feat = randv(size_t(L) * P, rng), r = randv(3 * size_t(P), rng);
  auto loss = [&](const Net& m, const std::vector<float>& f) {
    std::vector<float> rgb(3 * size_t(P));
    SynthScratch s;
    synthesis(m, f.data(), h, w, rgb.data(), s);
    return dot(rgb, r);
  };
  // d feat is written, not added to: whatever it held must not show.
  std::vector<float> rgb(3 * size_t(P)), dfeat(feat.size(), 1e20f);
  SynthScratch s;
  synthesis(n, feat.data(), h, w, rgb.data(), s);
  Net g;
  g.zero_like(n);
  synthesis_backward(n, feat.data(), h, w, r.data(), s, g, dfeat.data());
  const double eps = 1e-3, l0 = loss(n, feat);
  FdCheck check{2e-2, 2e-3};
  for (size_t i = 0; i < feat.size(); i += 7) {
    auto fp = feat, fm = feat;
    fp[i] += float(eps);
    fm[i] -= float(eps);
    check(dfeat[i], loss(n, fp), l0, loss(n, fm), eps, "d feat[" + std::to_string(i) + "]");
  }
  auto nt = n.tensors();
  auto gt = g.tensors();
  for (size_t t = 0; t < 6; ++t)  // the synthesis tensors
    for (size_t e = 0; e < nt[t]->size(); e += 5) {
      Net np = n, nm = n;
      (*np.tensors()[t])[e] += float(eps);
      (*nm.tensors()[t])[e] -= float(eps);
      check((*gt[t])[e], loss(np, feat), l0, loss(nm, feat), eps,
            "d tensor " + std::to_string(t) + "[" + std::to_string(e) + "]");
    }
}

// synthesis() (blocked, vectorised) against the plain per-pixel network in double, on an image
// of several pixel blocks and a partial one.
TEST(Inr, SynthesisMatchesThePlainPerPixelNetwork) {
  std::mt19937 rng(4);
  const int w = 37, h = 29, L = 5, H = 12, P = w * h;
  const Net n = random_net(L, H, 4, rng);
  const auto feat = randv(size_t(L) * P, rng, 2.0);
  std::vector<float> rgb(3 * size_t(P));
  SynthScratch s;
  synthesis(n, feat.data(), h, w, rgb.data(), s);
  std::vector<double> o(3 * size_t(P));
  for (int p = 0; p < P; ++p)
    for (int c = 0; c < 3; ++c) {
      double acc = n.b2[size_t(c)];
      for (int k = 0; k < H; ++k) {
        double hk = n.b1[size_t(k)];
        for (int l = 0; l < L; ++l) hk += double(n.w1[size_t(k) * L + l]) * feat[size_t(l) * P + p];
        acc += double(n.w2[size_t(c) * H + k]) * std::max(hk, 0.0);
      }
      o[size_t(c) * P + p] = acc;
    }
  auto at = [&](int c, int y, int x) {
    return o[size_t(c) * P + size_t(std::clamp(y, 0, h - 1)) * w + std::clamp(x, 0, w - 1)];
  };
  double worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        double want = at(c, y, x) + n.bc[size_t(c)];
        for (int ci = 0; ci < 3; ++ci)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx)
              want += double(n.wc[((size_t(c) * 3 + ci) * 3 + ky) * 3 + kx]) * at(ci, y + ky - 1, x + kx - 1);
        worst = std::max(worst, std::abs(want - rgb[size_t(c) * P + size_t(y) * w + x]));
      }
  EXPECT_LT(worst, 1e-4);
}

// The decoder synthesises in bands of rows: bit for bit what the whole-image pass gives.
TEST(Inr, BandedReconstructionEqualsTheWholeImagePass) {
  std::mt19937 rng(9);
  const int w = 23, h = 75;
  const auto gr = grids(w, h, level_count(w, h));
  const int L = int(gr.size());
  const Net n = random_net(L, 8, 4, rng);
  std::vector<std::vector<float>> y;
  for (const Grid& g : gr) y.push_back(randv(size_t(g.h) * g.w, rng, 2.0));
  const size_t P = size_t(w) * h;
  std::vector<float> feat(size_t(L) * P), rgb(3 * P);
  upsample(n, gr, y, feat.data());
  SynthScratch s;
  synthesis(n, feat.data(), h, w, rgb.data(), s);
  EXPECT_EQ(reconstruct(n, gr, y, w, h), rgb);
}

TEST(Inr, LaplaceBinDerivativesMatchFiniteDifferences) {
  for (auto [v, mu, b] : {std::tuple{0.0, 0.3, 1.0}, std::tuple{2.0, -0.4, 0.7}, std::tuple{-3.0, 1.1, 2.5},
                          std::tuple{0.4, 0.4, 0.2}}) {
    const LaplaceBin l = laplace_bin(v, mu, b);
    ASSERT_FALSE(l.floored);
    const double e = 1e-6;
    expect_close(l.dp_dv, (laplace_bin(v + e, mu, b).p - laplace_bin(v - e, mu, b).p) / (2 * e), 1e-5, 1e-9, "dv");
    expect_close(l.dp_dmu, (laplace_bin(v, mu + e, b).p - laplace_bin(v, mu - e, b).p) / (2 * e), 1e-5, 1e-9, "dmu");
    expect_close(l.dp_db, (laplace_bin(v, mu, b + e).p - laplace_bin(v, mu, b - e).p) / (2 * e), 1e-5, 1e-9, "db");
  }
  // Probabilities of all integers sum to 1 (less what the 2^-16 floor replaces).
  double s = 0;
  for (int v = -200; v <= 200; ++v)
    if (!laplace_bin(v, 0.37, 3.0).floored) s += laplace_bin(v, 0.37, 3.0).p;
  EXPECT_NEAR(s, 1.0, 1e-4);
  EXPECT_LT(s, 1.0 + 1e-12);
}

TEST(Inr, ArmRateReferenceGradientsMatchFiniteDifferences) {
  std::mt19937 rng(3);
  const int w = 6, h = 5;  // few latents: few ReLU kinks within eps of a parameter's value
  const auto gr = grids(w, h, 2);
  Net n = random_net(2, 4, 5, rng);
  std::vector<std::vector<float>> y;
  for (const Grid& g : gr) y.push_back(randv(size_t(g.h) * g.w, rng, 1.5));
  std::vector<std::vector<float>> dy;
  for (const auto& v : y) dy.emplace_back(v.size(), 0.f);
  Net g;
  g.zero_like(n);
  arm_rate_ref(n, gr, y, &dy, &g);
  const double eps = 1e-3, l0 = arm_rate_ref(n, gr, y, nullptr, nullptr);
  FdCheck check{2e-2, 2e-4};
  for (size_t l = 0; l < y.size(); ++l)
    for (size_t i = 0; i < y[l].size(); ++i) {
      auto yp = y, ym = y;
      yp[l][i] += float(eps);
      ym[l][i] -= float(eps);
      check(dy[l][i], arm_rate_ref(n, gr, yp, nullptr, nullptr), l0, arm_rate_ref(n, gr, ym, nullptr, nullptr), eps,
            "d y[" + std::to_string(l) + "][" + std::to_string(i) + "]");
    }
  auto gt = g.tensors();
  for (size_t t = 6; t < 10; ++t)  // the ARM tensors
    for (size_t e = 0; e < gt[t]->size(); ++e) {
      Net np = n, nm = n;
      (*np.tensors()[t])[e] += float(eps);
      (*nm.tensors()[t])[e] -= float(eps);
      check((*gt[t])[e], arm_rate_ref(np, gr, y, nullptr, nullptr), l0, arm_rate_ref(nm, gr, y, nullptr, nullptr), eps,
            "d arm tensor " + std::to_string(t) + "[" + std::to_string(e) + "]");
    }
}

// The fast ARM (blocks of latents, float, vectorised exp/log, both cores) against the plain
// double reference: the rate and every gradient, on grids with several lanes and blocks.
TEST(Inr, FastArmRateMatchesTheReference) {
  std::mt19937 rng(8);
  const int w = 530, h = 250;  // level 0: 132,500 latents -> 3 lanes, partial last blocks
  const auto gr = grids(w, h, level_count(w, h));
  ASSERT_GT(arm_lanes(size_t(gr[0].h) * gr[0].w), 2u);
  Net n = random_net(int(gr.size()), 4, 12, rng);
  std::vector<std::vector<float>> y;
  for (const Grid& g : gr) y.push_back(randv(size_t(g.h) * g.w, rng, 2.0));
  auto zeros = [&] {
    std::vector<std::vector<float>> d;
    for (const auto& v : y) d.emplace_back(v.size(), 0.f);
    return d;
  };
  auto dy_ref = zeros(), dy_fast = zeros();
  Net g_ref, g_fast;
  g_ref.zero_like(n);
  g_fast.zero_like(n);
  const double r = arm_rate_ref(n, gr, y, &dy_ref, &g_ref), f = arm_rate(n, gr, y, &dy_fast, &g_fast);
  EXPECT_NEAR(f, r, 1e-5 * r);
  EXPECT_EQ(arm_rate(n, gr, y, nullptr, nullptr), f);  // the same sums without gradients
  double worst = 0;
  for (size_t l = 0; l < y.size(); ++l)
    for (size_t i = 0; i < y[l].size(); ++i)
      worst = std::max(worst, std::abs(double(dy_fast[l][i]) - dy_ref[l][i]) / (1e-3 + std::abs(dy_ref[l][i])));
  EXPECT_LT(worst, 1e-3) << "latent gradients";
  auto gf = g_fast.tensors(), gg = g_ref.tensors();
  for (size_t t = 6; t < 10; ++t)
    for (size_t e = 0; e < gf[t]->size(); ++e)
      expect_close((*gf[t])[e], (*gg[t])[e], 1e-3, 1e-2, "arm tensor " + std::to_string(t) + "[" + std::to_string(e) + "]");
  // A mutated fast gradient is caught.
  dy_fast[0][5] += 0.01f + 0.01f * std::abs(dy_fast[0][5]);
  EXPECT_GT(std::abs(double(dy_fast[0][5]) - dy_ref[0][5]) / (1e-3 + std::abs(dy_ref[0][5])), 1e-3);
}

// The fit's soft rounding with noise against a double reference, and its derivative against
// finite differences of that reference (the noise held fixed).
TEST(Inr, SoftRoundingMatchesTheReference) {
  auto sr = [](double y, double t) {
    const double m = std::floor(y), r = y - m - 0.5;
    return m + 0.5 + std::tanh(r / t) / (2 * std::tanh(1 / (2 * t)));
  };
  std::mt19937 rng(9);
  const auto y = randv(4000, rng, 3.0);
  for (auto [t, amp] : {std::pair{0.3, 1.0}, std::pair{0.2, 0.75}, std::pair{0.1, 0.5}}) {
    std::vector<float> yh(y.size()), fa(y.size());
    soft_round_noisy(y.data(), y.size(), t, 77u, amp, yh.data(), fa.data());
    double mean = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double u = fit_noise(77u, i);
      ASSERT_GE(u, -0.5);
      ASSERT_LT(u, 0.5);
      mean += u;
      auto f = [&](double v) { return sr(sr(v, t) + amp * u, t); };
      EXPECT_NEAR(yh[i], f(y[i]), 2e-5 * (1 + std::abs(y[i]))) << i;
      const double eps = 1e-4, fd = (f(y[i] + eps) - f(y[i] - eps)) / (2 * eps);
      EXPECT_NEAR(fa[i], fd, 2e-3 * (1 + std::abs(fd))) << i << " t " << t;
    }
    EXPECT_NEAR(mean / double(y.size()), 0.0, 0.02);  // centred noise
  }
}

// The fit's fast float exp, log2 and tanh against libm over their working ranges (absolute
// error for log2 and tanh, relative for exp).
TEST(Inr, FastMathMatchesLibm) {
  double e_exp = 0, e_log = 0, e_tanh = 0;
  for (double x = -80; x <= 80; x += 0.0137) {
    const double ref = std::exp(double(float(x)));
    e_exp = std::max(e_exp, std::abs(fast::exp(float(x)) - ref) / ref);
    e_tanh = std::max(e_tanh, std::abs(fast::tanh(float(x / 8)) - std::tanh(double(float(x / 8)))));
  }
  for (double x = 1e-6; x < 1e6; x *= 1.0173)
    e_log = std::max(e_log, std::abs(fast::log2(float(x)) - std::log2(double(float(x)))));
  EXPECT_LT(e_exp, 5e-7);
  EXPECT_LT(e_tanh, 5e-7);
  EXPECT_LT(e_log, 2e-6);  // float spacing at log2 = 20 is 2e-6
}

// Grids large enough for several lanes; random integer ARM weights; every symbol back, with
// 1 and 2 threads, and the same bytes.
TEST(Inr, IntegerArmDecodesExactlyWhatWasCoded) {
  std::mt19937 rng(4);
  const int w = 520, h = 260;  // level 0: 135,200 latents -> 3 lanes
  const auto gr = grids(w, h, level_count(w, h));
  ASSERT_GT(arm_lanes(size_t(gr[0].h) * gr[0].w), 2u);
  Net n = random_net(int(gr.size()), 4, 12, rng);
  n.a1 = randv(n.a1.size(), rng, 0.4);
  const QuantNet qn = quantize(n, 8);
  std::vector<std::vector<int32_t>> q;
  std::geometric_distribution<int> mag(0.4);
  for (const Grid& g : gr) {
    std::vector<int32_t> v(size_t(g.h) * g.w);
    for (auto& x : v) x = (rng() & 1 ? 1 : -1) * mag(rng) + (rng() % 997 == 0 ? 5000 : 0);  // a few escapes
    q.push_back(std::move(v));
  }
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const LaneHeader C = LaneHeader::kCompact, U = LaneHeader::kU32;
  const auto s1 = encode_latents(qn.arm(), gr, q, C);
  const auto d1 = decode_latents(qn.arm(), gr, s1.data(), s1.size(), C);
  omp_set_num_threads(2);
  const auto s2 = encode_latents(qn.arm(), gr, q, C);
  const auto d2 = decode_latents(qn.arm(), gr, s2.data(), s2.size(), C);
  omp_set_num_threads(saved);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(d1, q);
  EXPECT_EQ(d2, q);
  // The u32 headers of INR_PARAMS versions 1-3 carry the same lanes: 4 bytes for each grid's
  // length, count and each lane's length (7 grids, 3 + 1 + 1 + 1 + 1 + 1 + 1 lanes here),
  // where the compact header has no grid length and spends 1 byte on a count and 1-3 on a
  // lane's length.
  const auto u1 = encode_latents(qn.arm(), gr, q, U);
  EXPECT_EQ(decode_latents(qn.arm(), gr, u1.data(), u1.size(), U), q);
  ASSERT_EQ(gr.size(), 7u);
  EXPECT_GE(u1.size() - s1.size(), 7u * 7 + 9 * 1);
  EXPECT_LE(u1.size() - s1.size(), 7u * 7 + 9 * 3);
  EXPECT_THROW(decode_latents(qn.arm(), gr, s1.data(), s1.size(), U), StreamError);
  EXPECT_THROW(decode_latents(qn.arm(), gr, u1.data(), u1.size(), C), StreamError);
  // The lane count is the stream's: streams of earlier encoders (16,384 latents a lane: 9
  // lanes here) and a single lane per grid decode too, and differ from this encoder's.
  for (size_t per : {size_t(16384), size_t(1) << 30})
    for (LaneHeader hd : {C, U}) {
      const auto s3 = encode_latents(qn.arm(), gr, q, hd, per);
      EXPECT_NE(s3, hd == C ? s1 : u1) << per;
      EXPECT_EQ(decode_latents(qn.arm(), gr, s3.data(), s3.size(), hd), q) << per;
    }
  // Damage: truncations and flipped bytes give StreamError or a decode, never a crash.
  for (const auto& [st, hd] : {std::pair{s1, C}, std::pair{u1, U}}) {
    for (size_t cut : {size_t(0), size_t(1), size_t(3), st.size() / 2, st.size() - 1})
      EXPECT_THROW(decode_latents(qn.arm(), gr, st.data(), cut, hd), StreamError) << cut;
    auto longer = st;
    longer.push_back(0);
    EXPECT_THROW(decode_latents(qn.arm(), gr, longer.data(), longer.size(), hd), StreamError);
    for (int k = 0; k < 40; ++k) {
      auto bad = st;
      bad[rng() % bad.size()] ^= uint8_t(1 + rng() % 255);
      try {
        decode_latents(qn.arm(), gr, bad.data(), bad.size(), hd);
      } catch (const StreamError&) {
      }
    }
  }
  // The compact header's numbers: the coarsest grid (1 latent) has one lane, so its header is
  // 01 then its length in words; a count of 0, more lanes than latents, an overlong or an
  // unterminated number are refused.
  ASSERT_EQ(s1[0], 1);
  auto with_head = [&](std::vector<uint8_t> head) {
    std::vector<uint8_t> b = head;
    b.insert(b.end(), s1.begin() + 2, s1.end());
    return b;
  };
  const uint8_t w0 = s1[1];
  ASSERT_LT(w0, 0x80);
  EXPECT_EQ(decode_latents(qn.arm(), gr, with_head({1, w0}).data(), s1.size(), C), q);
  for (const auto& head : {std::vector<uint8_t>{0, w0}, std::vector<uint8_t>{2, w0, w0},
                           std::vector<uint8_t>{0x81, 0x00, w0}, std::vector<uint8_t>{1, uint8_t(w0 | 0x80), 0},
                           std::vector<uint8_t>{1, 0xff, 0xff, 0xff, 0xff, 0x7f}, std::vector<uint8_t>{1, 0xff, 0xff, 0xff, 0xff, 0xff}}) {
    const auto b = with_head(head);
    EXPECT_THROW(decode_latents(qn.arm(), gr, b.data(), b.size(), C), StreamError);
  }
}

TEST(Inr, ParametersRoundTripAndDamageIsRefused) {
  std::mt19937 rng(5);
  const Net n = random_net(5, 16, 12, rng);
  QuantNet mixed = quantize(n, 9);  // version 4: a step per tensor, the ARM's below Q8 too
  ASSERT_EQ(mixed.version, 4);
  requantize(n, 0, 4, mixed);
  requantize(n, 6, 5, mixed);
  requantize(n, 9, 0, mixed);
  QuantNet v2 = quantize(n, 7), v3 = mixed;
  v2.version = 2;
  v3.version = 3;
  for (const QuantNet& q : {quantize(n, 6), quantize(n, 12), mixed, v2, v3}) {
    const auto bytes = write_params(q);
    EXPECT_EQ(bytes.size(), (param_bits(q) + 7) / 8);
    const QuantNet r = read_params(bytes.data(), bytes.size(), 5);
    EXPECT_EQ(r.version, q.version);
    EXPECT_EQ(r.t, q.t);
    EXPECT_EQ(r.step, q.step);
    EXPECT_EQ(r.s.hidden, 16);
    EXPECT_THROW(read_params(bytes.data(), bytes.size(), 4), StreamError);
    for (size_t cut = 0; cut < bytes.size(); ++cut)
      EXPECT_THROW(read_params(bytes.data(), cut, 5), StreamError) << cut;
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_THROW(read_params(longer.data(), longer.size(), 5), StreamError);
  }
  // A coarser ARM step is the same integer ARM: its Q8 weights are the stored values times
  // 2^(8 - step).
  const ArmInt a = mixed.arm();
  for (size_t e = 0; e < a.a1.size(); ++e) EXPECT_EQ(a.a1[e], mixed.t[6][e] * 8);
  EXPECT_EQ(a.c2, std::vector<int32_t>({mixed.t[9][0] * 256, mixed.t[9][1] * 256}));
  EXPECT_EQ(a.c1, mixed.t[7]);
  // Versions 1 and 2 have one synthesis step and a Q8 ARM: a mixed net is not written so.
  QuantNet bad = mixed;
  bad.version = 2;
  EXPECT_THROW(write_params(bad), std::logic_error);
  // An ARM step finer than Q8, or a stored ARM value whose Q8 value passes 2^25, is refused.
  auto bytes = write_params(quantize(n, 8));
  // (version 3: u8 x 4, then per tensor u5 step, u4 order, values; tensor 0's step is 8)
  const size_t step0 = 32;
  auto get5 = [&](size_t bit) {
    uint32_t v = 0;
    for (int b = 0; b < 5; ++b) v = v << 1 | ((bytes[(bit + b) / 8] >> (7 - (bit + b) % 8)) & 1);
    return v;
  };
  ASSERT_EQ(get5(step0), 8u);
  QuantNet fine = quantize(n, 8);
  for (auto& v : fine.t[6]) v = 1 << 21;  // at step 4: Q8 value 2^25, the largest allowed
  fine.step[6] = 4;
  auto ok = write_params(fine);
  EXPECT_NO_THROW(read_params(ok.data(), ok.size(), 5));
  fine.t[6][3] = (1 << 21) + 1;
  ok = write_params(fine);
  EXPECT_THROW(read_params(ok.data(), ok.size(), 5), StreamError);
  // The dequantised synthesis differs from the float one by at most half a step.
  const QuantNet q = quantize(n, 10);
  const Net d = q.dequantize();
  for (size_t e = 0; e < n.w1.size(); ++e) EXPECT_LE(std::abs(d.w1[e] - n.w1[e]), 0.5 / 1024 + 1e-7);
  EXPECT_THROW(requantize(n, 6, 9, mixed), std::logic_error);
}

// The worked example of docs/bitstream.md ("The INR codec, worked example"): a 4x3 tile's
// INR_PARAMS and INR_LATENTS, byte for byte, and the decoder reads them back.
TEST(Inr, WorkedExampleBytes) {
  const auto gr = grids(4, 3, level_count(4, 3));
  ASSERT_EQ(gr.size(), 2u);
  QuantNet q;
  q.s = {2, 1, 1, true};
  q.version = 2;
  q.step = {7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 7};
  q.t = {{64, -32}, {0}, {128, 128, 128}, {64, 64, 64}, std::vector<int32_t>(81, 0), {0, 0, 0},
         std::vector<int32_t>(13, 0), {0}, {0, 0}, {0, 256}, {-9, 111, 29, -3}};
  const std::vector<std::vector<int32_t>> y = {{0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, -1}, {1, 0, 0, -1}};
  const auto params = write_params(q), latents = encode_latents(q.arm(), gr, y, LaneHeader::kU32);
  auto hex = [](const std::vector<uint8_t>& b) {
    std::string s;
    for (uint8_t v : b) s += "0123456789abcdef"[v >> 4], s += "0123456789abcdef"[v & 15], s += ' ';
    return s;
  };
  EXPECT_EQ(hex(params),
            "02 02 01 01 07 66 07 f0 bb 00 c0 30 0c c0 60 30 03 ff ff ff ff ff ff ff ff ff fe 1c 3f fe 10 "
            "c2 00 80 57 13 f9 6a 50 ");
  EXPECT_EQ(hex(latents),
            "0c 00 00 00 01 00 00 00 04 00 00 00 d3 9c 4a 0a 10 00 00 00 01 00 00 00 08 00 00 00 b5 71 03 00 "
            "20 7b 15 91 ");
  const QuantNet r = read_params(params.data(), params.size(), 2);
  EXPECT_EQ(r.t, q.t);
  EXPECT_EQ(decode_latents(r.arm(), gr, latents.data(), latents.size(), r.lane_header()), y);
  // Version 3: the same network with a step per tensor; c2 at
  // step 0 stores 1 for the same Q8 value 256, so the ARM and INR_LATENTS are as above.
  QuantNet q3 = q;
  q3.version = 3;
  q3.t[9] = {0, 1};
  q3.step[9] = 0;
  const auto params3 = write_params(q3);
  EXPECT_EQ(hex(params3),
            "03 02 01 01 3b 30 3f 9c 27 76 01 80 60 0e cc 06 03 00 e1 ff ff ff ff ff ff ff ff ff ff 38 74 07 ff "
            "d0 14 06 00 b3 ae 27 f2 d4 a0 ");
  const QuantNet r3 = read_params(params3.data(), params3.size(), 2);
  EXPECT_EQ(r3.t, q3.t);
  EXPECT_EQ(r3.step, q3.step);
  EXPECT_EQ(r3.arm().c2, q.arm().c2);
  EXPECT_EQ(encode_latents(r3.arm(), gr, y, r3.lane_header()), latents);
  // Version 4 (what encoders write now): the parameters of version 3 under a new version
  // byte, and INR_LATENTS with compact lane headers: per grid a LEB128 lane count, each
  // lane's length in 16-bit words after its 4-byte state, then the same lane bytes.
  QuantNet q4 = q3;
  q4.version = 4;
  const auto params4 = write_params(q4);
  auto expect4 = params3;
  expect4[0] = 4;
  EXPECT_EQ(params4, expect4);
  const QuantNet r4 = read_params(params4.data(), params4.size(), 2);
  ASSERT_EQ(r4.lane_header(), LaneHeader::kCompact);
  const auto latents4 = encode_latents(r4.arm(), gr, y, r4.lane_header());
  EXPECT_EQ(hex(latents4), "01 00 d3 9c 4a 0a 01 02 b5 71 03 00 20 7b 15 91 ");
  EXPECT_EQ(decode_latents(r4.arm(), gr, latents4.data(), latents4.size(), r4.lane_header()), y);
}

Image test_image(int w, int h, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  Image img{w, h, channels, std::vector<uint8_t>(size_t(w) * h * channels)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        img.pixels[(size_t(y) * w + x) * channels + c] =
            uint8_t(std::clamp(128 + 90 * std::sin(x * 0.15 + c) * std::cos(y * 0.1) + int(rng() % 9), 0.0, 255.0));
  return img;
}

// Through the public API: the stream names the INR codec, a Decoder with any model decodes
// it (to what the fit reached), the progress callback runs, damaged streams are refused.
TEST(Inr, CodesImagesEndToEnd) {
  int calls = 0;
  nlc::FitOptions f;
  f.effort = 0;
  f.progress = [&calls](const FitProgress& p) {
    ++calls;
    EXPECT_LE(p.iteration, p.total);
  };
  Encoder enc = Encoder::without_model("inr", f);
  Decoder dec(kModel);
  for (const Image& img : {test_image(64, 48, 3, 1), test_image(33, 17, 1, 2), test_image(1, 1, 3, 3)}) {
    const auto s = enc.encode(img, 2.5);
    const bitstream::Parsed p = bitstream::parse(s.data(), s.size());
    EXPECT_EQ(p.header.model_id, InrCodec::arch_identity());
    // 1.5: parameters of version 4 (a weight step per tensor, compact lane headers).
    EXPECT_EQ(p.header.minor, 5);
    ASSERT_EQ(p.sections.front().type, kParams);
    EXPECT_EQ(read_params(p.sections.front().data, p.sections.front().size, level_count(img.width, img.height)).version, 4);
    const Image out = dec.decode(s);
    ASSERT_EQ(out.width, img.width);
    ASSERT_EQ(out.channels, img.channels);
    if (img.width > 1) {
      EXPECT_GT(psnr(img, out), 24.0) << img.width;
    }
    EXPECT_EQ(dec.decode_latent(s.data(), s.size()).channels, level_count(img.width, img.height));
    // Truncations and bit flips (CRCs made valid again: the payload decoders see them).
    for (size_t cut = 0; cut < s.size(); cut += 1 + s.size() / 50)
      EXPECT_THROW(dec.decode(s.data(), cut), StreamError) << cut;
    std::mt19937 rng(7);
    for (int k = 0; k < 60; ++k) {
      auto sections = std::vector<bitstream::Section>();
      for (const auto& v : p.sections) sections.push_back({v.type, v.required, {v.data, v.data + v.size}});
      auto& payload = sections[rng() % sections.size()].payload;
      if (payload.empty()) continue;
      payload[rng() % payload.size()] ^= uint8_t(1u << (rng() % 8));
      const auto bad = bitstream::write(p.header, sections);
      try {
        dec.decode(bad);
      } catch (const StreamError&) {
      }
    }
  }
  EXPECT_GT(calls, 0);
  // mixed batches: an INR stream and a model stream
  Encoder model_enc(kModel);
  const Image a = test_image(40, 30, 3, 4);
  const auto batch = dec.decode_batch({enc.encode(a, 1), model_enc.encode(a, 1)});
  EXPECT_EQ(batch.size(), 2u);
}

// The half-size warm-up's pieces: the 2x2 box downscale (edges replicated, values worked by
// hand) and the lift of a half-size model into the full one (grid l of the half model is grid
// l+1 of the full one, grid 0 starts at zero).
// SOAP's pieces (fit.cc): the Jacobi eigenvectors, and the first step, which is the
// orthogonalised gradient (in the eigenbases of G G^T and G^T G the gradient is diagonal, its
// singular values, and Adam's first step is their signs: U V^T of G's SVD).
TEST(Inr, SoapEigenvectorsAndFirstStep) {
  std::mt19937 rng(12);
  std::normal_distribution<double> nd;
  for (int n : {1, 2, 13, 40}) {
    std::vector<double> b(size_t(n) * n), a(size_t(n) * n, 0.0), q;
    for (auto& v : b) v = nd(rng);
    for (int i = 0; i < n; ++i)  // a = b b^T: symmetric, some eigenvalues close together
      for (int j = 0; j < n; ++j)
        for (int k = 0; k < n; ++k) a[size_t(i) * n + j] += b[size_t(i) * n + k] * b[size_t(j) * n + k];
    symmetric_eigvecs(a, n, q);
    double scale = 0;
    for (double v : a) scale = std::max(scale, std::abs(v));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double qtq = 0, qtaq = 0;
        for (int k = 0; k < n; ++k) {
          qtq += q[size_t(k) * n + i] * q[size_t(k) * n + j];
          for (int m = 0; m < n; ++m) qtaq += q[size_t(k) * n + i] * a[size_t(k) * n + m] * q[size_t(m) * n + j];
        }
        EXPECT_NEAR(qtq, i == j ? 1.0 : 0.0, 1e-12) << n;
        if (i != j) {
          EXPECT_NEAR(qtaq, 0.0, 1e-10 * scale) << n;
        }
      }
  }
  const int m = 4, n = 7;
  std::vector<float> g(m * n), w(m * n, 0.f);
  for (auto& v : g) v = float(nd(rng));
  Soap s;
  s.m = m, s.n = n;
  s.update(w.data(), g.data(), 1.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) {
      double ddt = 0;
      for (int k = 0; k < n; ++k) ddt += double(w[size_t(i) * n + k]) * w[size_t(j) * n + k];
      EXPECT_NEAR(ddt, i == j ? 1.0 : 0.0, 1e-5);
    }
  // The polar factor D of G (G = P D, P = (G G^T)^(1/2)): D G^T = P, symmetric, positive.
  for (int i = 0; i < m; ++i)
    for (int j = 0; j <= i; ++j) {
      double dg_ij = 0, dg_ji = 0;
      for (int k = 0; k < n; ++k) {
        dg_ij -= double(w[size_t(i) * n + k]) * g[size_t(j) * n + k];
        dg_ji -= double(w[size_t(j) * n + k]) * g[size_t(i) * n + k];
      }
      EXPECT_NEAR(dg_ij, dg_ji, 1e-4) << i << " " << j;
      if (i == j) {
        EXPECT_GT(dg_ij, 0);
      }
    }
  // And it minimises: 0.5 |X W^T - Y|^2 on badly scaled inputs, from 0, with a falling rate.
  const int rows = 64;
  std::vector<double> X(size_t(rows) * n), Y(size_t(rows) * m);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < n; ++k) X[size_t(r) * n + k] = nd(rng) * (k == 0 ? 10.0 : 0.3);
  std::vector<double> Wstar(size_t(m) * n);
  for (auto& v : Wstar) v = nd(rng);
  for (int r = 0; r < rows; ++r)  // Y = X W*^T: the minimum is 0
    for (int i = 0; i < m; ++i)
      for (int k = 0; k < n; ++k) Y[size_t(r) * m + i] += X[size_t(r) * n + k] * Wstar[size_t(i) * n + k];
  auto loss = [&](const std::vector<float>& W, std::vector<float>* grad) {
    double l = 0;
    if (grad) grad->assign(W.size(), 0.f);
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < m; ++i) {
        double p = -Y[size_t(r) * m + i];
        for (int k = 0; k < n; ++k) p += X[size_t(r) * n + k] * W[size_t(i) * n + k];
        l += 0.5 * p * p;
        if (grad)
          for (int k = 0; k < n; ++k) (*grad)[size_t(i) * n + k] += float(p * X[size_t(r) * n + k] / rows);
      }
    return l / rows;
  };
  std::vector<float> W(m * n, 0.f), G;
  Soap opt;
  opt.m = m, opt.n = n;
  const double l0 = loss(W, nullptr);
  for (int it = 0; it < 300; ++it) {
    loss(W, &G);
    opt.update(W.data(), G.data(), 0.05 * (1 - it / 300.0));
  }
  EXPECT_LT(loss(W, nullptr), 1e-3 * l0);
}

TEST(Inr, HalfSizeWarmUpPieces) {
  std::vector<float> x(27);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 9; ++i) x[c * 9 + i] = float(i + 10 * c);  // 3x3: 0 1 2 / 3 4 5 / 6 7 8
  const std::vector<float> y = downscale2(x, 3, 3, 2, 2);
  const float want[4] = {2.f, 3.5f, 6.5f, 8.f};  // (0+1+3+4)/4, (2+2+5+5)/4, (6+7+6+7)/4, 8
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[c * 4 + i], want[i] + float(10 * c)) << c << " " << i;

  std::mt19937 rng(3);
  const int w = 40, h = 24;
  Fitted full, half;
  full.net.init(preset_sizes(0, w, h), rng);
  const int L = full.net.s.levels;
  ASSERT_GE(L, 3);
  Sizes hs = full.net.s;
  hs.levels = L - 1;
  half.net.init(hs, rng);
  const auto gr = grids(w, h, L), hg = grids(gr[1].w, gr[1].h, L - 1);
  for (int l = 0; l < L; ++l) full.y.push_back(randv(size_t(gr[l].w) * gr[l].h, rng, 3));
  for (int l = 0; l + 1 < L; ++l) {
    ASSERT_EQ(hg[l].w, gr[l + 1].w);
    ASSERT_EQ(hg[l].h, gr[l + 1].h);
    half.y.push_back(randv(size_t(hg[l].w) * hg[l].h, rng, 3));
  }
  for (auto* t : half.net.tensors())
    for (float& v : *t) v = float(rng() % 1000) / 100;
  const std::vector<float> col0 = [&] {
    std::vector<float> c;
    for (int k = 0; k < full.net.s.hidden; ++k) c.push_back(full.net.w1[size_t(k) * L]);
    return c;
  }();
  const std::vector<float> up0(full.net.up.begin(), full.net.up.begin() + 4);
  lift_half(half, full);
  for (float v : full.y[0]) EXPECT_EQ(v, 0.f);
  for (int l = 1; l < L; ++l) EXPECT_EQ(full.y[l], half.y[l - 1]) << l;
  for (int k = 0; k < full.net.s.hidden; ++k) {
    EXPECT_EQ(full.net.w1[size_t(k) * L], col0[k]);
    for (int l = 1; l < L; ++l) EXPECT_EQ(full.net.w1[size_t(k) * L + l], half.net.w1[size_t(k) * (L - 1) + l - 1]);
  }
  EXPECT_EQ(std::vector<float>(full.net.up.begin(), full.net.up.begin() + 4), up0);
  EXPECT_EQ(std::vector<float>(full.net.up.begin() + 4, full.net.up.end()), half.net.up);
  for (auto [a, b] : {std::pair{&full.net.w2, &half.net.w2}, {&full.net.wc, &half.net.wc}, {&full.net.a1, &half.net.a1},
                      {&full.net.a2, &half.net.a2}, {&full.net.c2, &half.net.c2}})
    EXPECT_EQ(*a, *b);
  Fitted wrong = half;
  wrong.net.s.hidden += 1;
  EXPECT_THROW(lift_half(wrong, full), std::logic_error);
}

// The fit's stages as the progress callback sees them: half size first, then full size,
// steps counted over both and the work fraction rising to 1; stopped during the half-size
// stage, the encoder still writes a full-size stream that decodes.
TEST(Inr, FitRunsHalfSizeThenFullSize) {
  std::vector<FitProgress> seen;
  nlc::FitOptions f;
  f.effort = 0;
  f.progress = [&seen](const FitProgress& p) { seen.push_back(p); };
  const Image img = test_image(64, 48, 3, 6);
  Encoder::without_model("inr", f).encode(img, 2);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().scale, 1);
  EXPECT_EQ(seen.back().scale, 0);
  EXPECT_EQ(seen.back().iteration, seen.back().total);
  EXPECT_DOUBLE_EQ(seen.back().done, 1.0);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GT(seen[i].iteration, seen[i - 1].iteration);
    EXPECT_GT(seen[i].done, seen[i - 1].done);
    EXPECT_LE(seen[i].scale, seen[i - 1].scale);
  }

  std::atomic<bool> stop{false};
  int scale_when_stopped = -1;
  f.stop = &stop;
  f.progress = [&](const FitProgress& p) {
    if (!stop) scale_when_stopped = p.scale;
    stop = true;
  };
  const auto s = Encoder::without_model("inr", f).encode(img, 2);
  EXPECT_EQ(scale_when_stopped, 1);
  const Image out = Decoder(kModel).decode(s);
  EXPECT_EQ(out.width, img.width);
  EXPECT_EQ(out.height, img.height);
}

TEST(Inr, StopFlagStillWritesAValidStream) {
  std::atomic<bool> stop{true};  // Ctrl-C before the first iteration
  nlc::FitOptions f;
  f.effort = 3;
  f.stop = &stop;
  const Image img = test_image(48, 32, 3, 5);
  const auto s = Encoder::without_model("inr", f).encode(img, 3);
  const Image out = Decoder(kModel).decode(s);
  EXPECT_EQ(out.pixels.size(), img.pixels.size());
  EXPECT_THROW(Encoder::without_model("sirens"), std::invalid_argument);
}

}  // namespace
}  // namespace nlc
