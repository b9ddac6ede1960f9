// Gaussian-conditional test symbols for the rANS benchmarks (CPU and GPU): 64 scale tables
// (0.11 .. 256, log-spaced, as the entropy model's), 2^Log2N symbols drawn from a mix of
// scales typical of a trained model's latent (most elements small-scale), in
// default_lane_count lanes.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "entropy/rans.h"

namespace nlc::bench {

template <int Log2N>
struct GaussianSymbols {
  std::vector<QuantizedCdf> tables;
  std::vector<uint16_t> idx;
  std::vector<int32_t> values;
  std::vector<uint8_t> bytes;
  static GaussianSymbols& get() {
    static GaussianSymbols d = [] {
      GaussianSymbols r;
      const int kScales = 64;
      auto sigma_of = [&](int s) {
        return std::exp(std::log(0.11) + (std::log(256.0) - std::log(0.11)) * s / (kScales - 1));
      };
      for (int s = 0; s < kScales; ++s) {
        const double sigma = sigma_of(s);
        const int half = int(std::ceil(sigma * 6)) + 1;
        std::vector<double> pmf;
        for (int v = -half; v <= half; ++v) {
          auto cdf = [&](double x) { return 0.5 * std::erfc(-x / (sigma * std::sqrt(2.0))); };
          pmf.push_back(cdf(v + 0.5) - cdf(v - 0.5));
        }
        r.tables.push_back(quantize_pmf(pmf, 1e-9, -half));
      }
      std::mt19937 rng(7);
      std::geometric_distribution<int> scale_pick(0.12);
      const size_t n = size_t(1) << Log2N;
      r.idx.resize(n);
      r.values.resize(n);
      for (size_t i = 0; i < n; ++i) {
        const int s = std::min(scale_pick(rng), kScales - 1);
        r.idx[i] = uint16_t(s);
        r.values[i] = int32_t(std::lround(std::normal_distribution<double>(0, sigma_of(s))(rng)));
      }
      r.bytes = rans_encode(r.values.data(), r.idx.data(), n, r.tables, default_lane_count(n));
      return r;
    }();
    return d;
  }
};

}  // namespace nlc::bench
