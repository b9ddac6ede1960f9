// rANS throughput on Gaussian-conditional symbols: 64 scale tables (0.11 .. 256, log-spaced,
// as the entropy model's), symbols drawn from a mix of scales typical of a trained model's
// latent (most elements small-scale). One thread; the decoders: plain reference, interleaved
// scalar, AVX2.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "entropy/rans.h"

namespace nlc {
namespace {

struct Data {
  std::vector<QuantizedCdf> tables;
  std::vector<uint16_t> idx;
  std::vector<int32_t> values;
  std::vector<uint8_t> bytes;
  static Data& get() {
    static Data d = [] {
      Data r;
      const int kScales = 64;
      for (int s = 0; s < kScales; ++s) {
        double sigma = std::exp(std::log(0.11) + (std::log(256.0) - std::log(0.11)) * s / (kScales - 1));
        int half = int(std::ceil(sigma * 6)) + 1;
        std::vector<double> pmf;
        for (int v = -half; v <= half; ++v) {
          auto cdf = [&](double x) { return 0.5 * std::erfc(-x / (sigma * std::sqrt(2.0))); };
          pmf.push_back(cdf(v + 0.5) - cdf(v - 0.5));
        }
        r.tables.push_back(quantize_pmf(pmf, 1e-9, -half));
      }
      std::mt19937 rng(7);
      std::geometric_distribution<int> scale_pick(0.12);
      const size_t n = 1 << 20;
      r.idx.resize(n);
      r.values.resize(n);
      for (size_t i = 0; i < n; ++i) {
        int s = std::min(scale_pick(rng), kScales - 1);
        r.idx[i] = uint16_t(s);
        double sigma = std::exp(std::log(0.11) + (std::log(256.0) - std::log(0.11)) * s / (kScales - 1));
        r.values[i] = int32_t(std::lround(std::normal_distribution<double>(0, sigma)(rng)));
      }
      r.bytes = rans_encode(r.values.data(), r.idx.data(), n, r.tables, default_lane_count(n));
      return r;
    }();
    return d;
  }
};

void BM_RansEncode(benchmark::State& st) {
  auto& d = Data::get();
  for (auto _ : st)
    benchmark::DoNotOptimize(rans_encode(d.values.data(), d.idx.data(), d.values.size(),
                                         d.tables, default_lane_count(d.values.size())));
  st.counters["Msym/s"] = benchmark::Counter(double(d.values.size()) * double(st.iterations()) * 1e-6,
                                             benchmark::Counter::kIsRate);
  st.counters["bits/sym"] = 8.0 * double(d.bytes.size()) / double(d.values.size());
}

void BM_RansDecode(benchmark::State& st) {
  auto& d = Data::get();
  const RansImpl impl = RansImpl(st.range(0));
  if (impl == RansImpl::kAvx2 && !rans_avx2_available()) {
    st.SkipWithError("no AVX2");
    return;
  }
  st.SetLabel(impl == RansImpl::kAvx2          ? "AVX2"
              : impl == RansImpl::kInterleaved ? "interleaved"
                                               : "scalar reference");
  std::vector<int32_t> out(d.values.size());
  for (auto _ : st) {
    rans_decode(d.bytes.data(), d.bytes.size(), d.idx.data(), out.size(), d.tables, out.data(),
                impl);
    benchmark::DoNotOptimize(out.data());
  }
  if (out != d.values) st.SkipWithError("decode mismatch");
  st.counters["Msym/s"] = benchmark::Counter(double(d.values.size()) * double(st.iterations()) * 1e-6,
                                             benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RansEncode)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_RansDecode)
    ->Arg(int(RansImpl::kScalar))
    ->Arg(int(RansImpl::kInterleaved))
    ->Arg(int(RansImpl::kAvx2))->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
