#include "eval/bd_rate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

namespace nlc::eval {
namespace {

using Cubic = std::array<double, 4>;  // c0 + c1 t + c2 t^2 + c3 t^3

// Least-squares cubic through (t_i, v_i): normal equations, solved by Gaussian elimination
// with partial pivoting (t is centred and scaled by the caller, so they are well conditioned).
Cubic fit_cubic(const std::vector<double>& t, const std::vector<double>& v) {
  double a[4][5] = {};
  for (size_t i = 0; i < t.size(); ++i) {
    double p[4] = {1, t[i], t[i] * t[i], t[i] * t[i] * t[i]};
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) a[r][c] += p[r] * p[c];
      a[r][4] += p[r] * v[i];
    }
  }
  for (int col = 0; col < 4; ++col) {
    int piv = col;
    for (int r = col + 1; r < 4; ++r)
      if (std::fabs(a[r][col]) > std::fabs(a[piv][col])) piv = r;
    if (std::fabs(a[piv][col]) < 1e-12)
      throw std::invalid_argument("BD-rate: the points do not determine a cubic (repeated PSNR)");
    std::swap(a[col], a[piv]);
    for (int r = 0; r < 4; ++r) {
      if (r == col) continue;
      const double f = a[r][col] / a[col][col];
      for (int c = col; c < 5; ++c) a[r][c] -= f * a[col][c];
    }
  }
  return {a[0][4] / a[0][0], a[1][4] / a[1][1], a[2][4] / a[2][2], a[3][4] / a[3][3]};
}

double integral(const Cubic& p, double lo, double hi) {
  auto prim = [&](double t) {
    return p[0] * t + p[1] * t * t / 2 + p[2] * t * t * t / 3 + p[3] * t * t * t * t / 4;
  };
  return prim(hi) - prim(lo);
}

}  // namespace

double bd_rate(const std::vector<double>& anchor_bpp, const std::vector<double>& anchor_psnr,
               const std::vector<double>& test_bpp, const std::vector<double>& test_psnr) {
  if (anchor_bpp.size() != anchor_psnr.size() || test_bpp.size() != test_psnr.size())
    throw std::invalid_argument("BD-rate: rate and PSNR lists differ in length");
  if (anchor_bpp.size() < 4 || test_bpp.size() < 4)
    throw std::invalid_argument("BD-rate needs at least 4 rate points per curve");
  for (double r : anchor_bpp)
    if (!(r > 0)) throw std::invalid_argument("BD-rate: rates must be positive");
  for (double r : test_bpp)
    if (!(r > 0)) throw std::invalid_argument("BD-rate: rates must be positive");
  const auto [amin, amax] = std::minmax_element(anchor_psnr.begin(), anchor_psnr.end());
  const auto [tmin, tmax] = std::minmax_element(test_psnr.begin(), test_psnr.end());
  const double lo = std::max(*amin, *tmin), hi = std::min(*amax, *tmax);
  if (!(hi > lo)) throw std::invalid_argument("BD-rate: the PSNR ranges do not overlap");
  // Fit in t = (psnr - centre) / half-width of the shared range: same polynomials, better
  // conditioned normal equations.
  const double centre = (lo + hi) / 2, scale = (hi - lo) / 2;
  auto fit = [&](const std::vector<double>& bpp, const std::vector<double>& psnr) {
    std::vector<double> t, v;
    for (size_t i = 0; i < bpp.size(); ++i) {
      t.push_back((psnr[i] - centre) / scale);
      v.push_back(std::log(bpp[i]));
    }
    return fit_cubic(t, v);
  };
  const Cubic a = fit(anchor_bpp, anchor_psnr), b = fit(test_bpp, test_psnr);
  const double mean_diff = (integral(b, -1, 1) - integral(a, -1, 1)) / 2;
  return (std::exp(mean_diff) - 1) * 100;
}

}  // namespace nlc::eval
