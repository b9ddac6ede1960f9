// Inputs for the benchmarks: timings do not depend on weight values, only on shapes.
#pragma once

#include <filesystem>
#include <random>
#include <string>

#include "kernels/cpu/ops.h"

namespace nlc::bench {

// A file of the repository: under the source tree the benchmark was built from, else
// relative to the working directory (a GPU machine runs the carried binaries from a checkout).
inline std::string repo_file(const std::string& relative) {
#ifdef NLC_SOURCE_DIR
  const std::filesystem::path built = std::filesystem::path(NLC_SOURCE_DIR) / relative;
  if (std::filesystem::exists(built)) return built.string();
#endif
  return relative;
}

inline Tensor random_tensor(Shape s, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  Tensor t(s);
  for (size_t i = 0; i < t.numel(); ++i) t.data()[i] = d(rng);
  return t;
}

inline ConvWeights conv_weights(const ConvSpec& s) {
  ConvWeights w;
  w.spec = s;
  Tensor t = random_tensor(Shape{1, 1, 1, s.cin * s.cout * s.k * s.k}, 1);
  w.weight.assign(t.data(), t.data() + t.numel());
  w.bias.assign(size_t(s.cout), 0.1f);
  return w;
}

inline GdnWeights gdn_weights(int c, bool inverse) {
  GdnWeights g;
  g.channels = c;
  g.inverse = inverse;
  g.beta.assign(size_t(c), 1.f);
  g.gamma.assign(size_t(c) * c, 0.01f);
  return g;
}

}  // namespace nlc::bench
