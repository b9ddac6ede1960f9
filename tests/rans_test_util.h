// Random rANS test data, shared by rans_test (CPU decoders) and cuda_test (GPU coder).
#pragma once

#include <algorithm>
#include <climits>
#include <random>
#include <vector>

#include "entropy/rans.h"

namespace nlc::test {

inline std::vector<QuantizedCdf> random_tables(std::mt19937& rng, int count) {
  std::vector<QuantizedCdf> t;
  std::uniform_int_distribution<int> size(1, 600), off(-300, 300);
  std::exponential_distribution<double> weight(1.0);
  for (int i = 0; i < count; ++i) {
    std::vector<double> pmf(size_t(size(rng)));
    for (auto& p : pmf) p = weight(rng) * weight(rng);  // heavy-tailed, some near zero
    t.push_back(quantize_pmf(pmf, 1e-6, off(rng)));
  }
  return t;
}

// Draws values from the tables' own distributions, with ~1% escapes of any size.
inline std::vector<int32_t> draw(const std::vector<QuantizedCdf>& tables,
                                 const std::vector<uint16_t>& idx, std::mt19937& rng) {
  std::vector<int32_t> v(idx.size());
  std::uniform_int_distribution<uint32_t> slot(0, kProbTotal - 1);
  std::uniform_int_distribution<int> esc(0, 99);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  for (size_t i = 0; i < idx.size(); ++i) {
    const QuantizedCdf& t = tables[idx[i]];
    if (esc(rng) == 0) {
      int kind = esc(rng) % 4;
      v[i] = kind == 0 ? INT32_MIN : kind == 1 ? INT32_MAX : any(rng);
      continue;
    }
    uint32_t s = slot(rng);
    size_t k = size_t(std::upper_bound(t.cdf.begin(), t.cdf.end(), s) - t.cdf.begin()) - 1;
    v[i] = int32_t(int64_t(k) + t.offset);  // may be the escape symbol's value: also escapes
  }
  return v;
}

// A random tensor to code: tables, per-symbol table indices and values (with escapes).
struct RandomSymbols {
  std::vector<QuantizedCdf> tables;
  std::vector<uint16_t> idx;
  std::vector<int32_t> values;
};
inline RandomSymbols random_symbols(unsigned seed, int num_tables, size_t n) {
  std::mt19937 rng(seed);
  RandomSymbols r;
  r.tables = random_tables(rng, num_tables);
  r.idx.resize(n);
  for (auto& i : r.idx) i = uint16_t(rng() % r.tables.size());
  r.values = draw(r.tables, r.idx, rng);
  return r;
}

}  // namespace nlc::test
