#include "eval/metrics.h"

#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace nlc::eval {

namespace {

struct Plane {
  int w = 0, h = 0;
  std::vector<double> v;
  double at(int x, int y) const { return v[size_t(y) * size_t(w) + size_t(x)]; }
};

constexpr int kWin = 11;

std::array<double, kWin> gaussian_window() {
  std::array<double, kWin> g{};
  double sum = 0;
  for (int i = 0; i < kWin; ++i) {
    const double c = i - kWin / 2;
    g[size_t(i)] = std::exp(-c * c / (2 * 1.5 * 1.5));
    sum += g[size_t(i)];
  }
  for (double& x : g) x /= sum;
  return g;
}

// Separable Gaussian filter, "valid" output (w - 10) x (h - 10).
Plane filter(const Plane& p) {
  static const std::array<double, kWin> g = gaussian_window();
  Plane t{p.w - kWin + 1, p.h, {}};
  t.v.resize(size_t(t.w) * size_t(t.h));
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x) {
      double s = 0;
      for (int k = 0; k < kWin; ++k) s += g[size_t(k)] * p.at(x + k, y);
      t.v[size_t(y) * size_t(t.w) + size_t(x)] = s;
    }
  Plane o{t.w, p.h - kWin + 1, {}};
  o.v.resize(size_t(o.w) * size_t(o.h));
  for (int y = 0; y < o.h; ++y)
    for (int x = 0; x < o.w; ++x) {
      double s = 0;
      for (int k = 0; k < kWin; ++k) s += g[size_t(k)] * t.at(x, y + k);
      o.v[size_t(y) * size_t(o.w) + size_t(x)] = s;
    }
  return o;
}

Plane product(const Plane& a, const Plane& b) {
  Plane o{a.w, a.h, a.v};
  for (size_t i = 0; i < o.v.size(); ++i) o.v[i] *= b.v[i];
  return o;
}

// Mean SSIM and mean contrast-structure term of one scale.
void ssim(const Plane& x, const Plane& y, double& ssim_mean, double& cs_mean) {
  constexpr double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  const Plane mx = filter(x), my = filter(y);
  const Plane xx = filter(product(x, x)), yy = filter(product(y, y)), xy = filter(product(x, y));
  double s = 0, c = 0;
  for (size_t i = 0; i < mx.v.size(); ++i) {
    const double m1 = mx.v[i], m2 = my.v[i];
    const double s11 = xx.v[i] - m1 * m1, s22 = yy.v[i] - m2 * m2, s12 = xy.v[i] - m1 * m2;
    const double cs = (2 * s12 + C2) / (s11 + s22 + C2);
    c += cs;
    s += (2 * m1 * m2 + C1) / (m1 * m1 + m2 * m2 + C1) * cs;
  }
  ssim_mean = s / double(mx.v.size());
  cs_mean = c / double(mx.v.size());
}

// 2x2 average pooling; odd sides get one zero sample of padding on each side, and the
// divisor stays 4 (PyTorch avg_pool2d, padding = side % 2, count_include_pad).
Plane pool(const Plane& p) {
  const int px = p.w % 2, py = p.h % 2;
  Plane o{(p.w + 2 * px - 2) / 2 + 1, (p.h + 2 * py - 2) / 2 + 1, {}};
  o.v.resize(size_t(o.w) * size_t(o.h));
  for (int y = 0; y < o.h; ++y)
    for (int x = 0; x < o.w; ++x) {
      double s = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const int sx = 2 * x - px + dx, sy = 2 * y - py + dy;
          if (sx >= 0 && sx < p.w && sy >= 0 && sy < p.h) s += p.at(sx, sy);
        }
      o.v[size_t(y) * size_t(o.w) + size_t(x)] = s / 4;
    }
  return o;
}

Plane channel(const Image& img, int c) {
  Plane p{img.width, img.height, {}};
  p.v.resize(size_t(img.width) * size_t(img.height));
  for (size_t i = 0; i < p.v.size(); ++i)
    p.v[i] = img.pixels[i * size_t(img.channels) + size_t(c)];
  return p;
}

}  // namespace

double ms_ssim(const Image& ref, const Image& test) {
  if (ref.width != test.width || ref.height != test.height || ref.channels != test.channels)
    throw ImageError("ms_ssim: images differ in size or channels");
  if (ref.width < kMsSsimMinSide || ref.height < kMsSsimMinSide)
    return std::numeric_limits<double>::quiet_NaN();
  static constexpr double kWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
  double total = 0;
  for (int c = 0; c < ref.channels; ++c) {
    Plane x = channel(ref, c), y = channel(test, c);
    double value = 1;
    for (int level = 0; level < 5; ++level) {
      double s, cs;
      ssim(x, y, s, cs);
      if (level < 4) {
        value *= std::pow(std::max(cs, 0.0), kWeights[level]);
        x = pool(x);
        y = pool(y);
      } else {
        value *= std::pow(std::max(s, 0.0), kWeights[level]);
      }
    }
    total += value;
  }
  return total / ref.channels;
}

}  // namespace nlc::eval
