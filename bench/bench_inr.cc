// The INR codec's stages on a Kodak-sized image (768x512, effort-1 network: 7 grids,
// H = 16, A = 12): one fitting iteration's parts (upsampling, synthesis forward and
// backward, the ARM's rate with gradients) and the decoder's (integer ARM decoding the grid
// symbols, upsampling, synthesis), so the breakdown shows where time goes.
//   ./build/bench/bench_inr [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>

#include <random>

#include "models/inr/inr.h"

namespace nlc::inr {
namespace {

constexpr int kW = 768, kH = 512;

struct Fixture {
  std::vector<Grid> gr = grids(kW, kH, level_count(kW, kH));
  Net net;
  std::vector<std::vector<float>> y;
  std::vector<std::vector<int32_t>> q;
  std::vector<uint8_t> coded;
  QuantNet qn;
  Fixture() {
    std::mt19937 rng(1);
    net.init(preset_sizes(1, kW, kH), rng);
    std::normal_distribution<float> d(0.f, 0.2f);
    for (auto& v : net.wc) v = d(rng);
    std::geometric_distribution<int> mag(0.5);
    for (const Grid& g : gr) {
      std::vector<int32_t> v(size_t(g.h) * g.w);
      for (auto& x : v) x = (rng() & 1 ? 1 : -1) * mag(rng);
      q.push_back(v);
      y.emplace_back(v.begin(), v.end());
    }
    qn = quantize(net, 10);
    coded = encode_latents(qn.arm(), gr, q, qn.lane_header());
  }
};
Fixture& fx() {
  static Fixture f;
  return f;
}

void BM_FitUpsample(benchmark::State& st) {
  auto& f = fx();
  std::vector<float> feat(size_t(f.gr.size()) * kW * kH);
  UpScratch s;
  for (auto _ : st) upsample(f.net, f.gr, f.y, feat.data(), &s);
}
BENCHMARK(BM_FitUpsample)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FitSynthesisForward(benchmark::State& st) {
  auto& f = fx();
  const size_t P = size_t(kW) * kH, L = f.gr.size();
  std::vector<float> feat(L * P, 0.1f), rgb(3 * P);
  SynthScratch s;
  for (auto _ : st) synthesis(f.net, feat.data(), kH, kW, rgb.data(), s);
}
BENCHMARK(BM_FitSynthesisForward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FitSynthesisForwardBackward(benchmark::State& st) {
  auto& f = fx();
  const size_t P = size_t(kW) * kH, L = f.gr.size();
  std::vector<float> feat(L * P, 0.1f), rgb(3 * P), d_rgb(3 * P, 1e-6f), d_feat(L * P);
  SynthScratch s;
  Net g;
  g.zero_like(f.net);
  for (auto _ : st) {
    synthesis(f.net, feat.data(), kH, kW, rgb.data(), s);
    synthesis_backward(f.net, feat.data(), kH, kW, d_rgb.data(), s, g, d_feat.data());
  }
}
BENCHMARK(BM_FitSynthesisForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FitArmRateWithGradients(benchmark::State& st) {
  auto& f = fx();
  std::vector<std::vector<float>> dy;
  for (const auto& v : f.y) dy.emplace_back(v.size(), 0.f);
  Net g;
  g.zero_like(f.net);
  for (auto _ : st) benchmark::DoNotOptimize(arm_rate(f.net, f.gr, f.y, &dy, &g));
}
BENCHMARK(BM_FitArmRateWithGradients)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecodeArm(benchmark::State& st) {
  auto& f = fx();
  for (auto _ : st) benchmark::DoNotOptimize(decode_latents(f.qn.arm(), f.gr, f.coded.data(), f.coded.size(), f.qn.lane_header()));
  st.counters["bytes"] = double(f.coded.size());
}
BENCHMARK(BM_DecodeArm)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecodeUpsampleAndSynthesis(benchmark::State& st) {
  auto& f = fx();
  const Net n = f.qn.dequantize();
  for (auto _ : st) benchmark::DoNotOptimize(reconstruct(n, f.gr, f.y, kW, kH));
}
BENCHMARK(BM_DecodeUpsampleAndSynthesis)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace nlc::inr

BENCHMARK_MAIN();
