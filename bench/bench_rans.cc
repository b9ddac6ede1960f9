// rANS throughput on Gaussian-conditional symbols: 64 scale tables (0.11 .. 256, log-spaced,
// as the entropy model's), symbols drawn from a mix of scales typical of a trained model's
// latent (most elements small-scale). One thread; the decoders: plain reference, interleaved
// scalar, AVX2.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>

#include <omp.h>

#include "bench/rans_bench_data.h"
#include "entropy/rans.h"

namespace nlc {
namespace {

using Data = bench::GaussianSymbols<20>;

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
  const int threads = int(st.range(1));  // 0: all cores (the lanes decode in parallel)
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads ? threads : omp_get_num_procs());
  if (impl == RansImpl::kAvx2 && !rans_avx2_available()) {
    st.SkipWithError("no AVX2");
    return;
  }
  st.SetLabel(std::string(impl == RansImpl::kAvx2          ? "AVX2"
                          : impl == RansImpl::kInterleaved ? "interleaved"
                                                           : "scalar reference") +
              (threads ? ", 1 thread" : ", all cores"));
  std::vector<int32_t> out(d.values.size());
  for (auto _ : st) {
    rans_decode(d.bytes.data(), d.bytes.size(), d.idx.data(), out.size(), d.tables, out.data(),
                impl);
    benchmark::DoNotOptimize(out.data());
  }
  omp_set_num_threads(saved);
  if (out != d.values) st.SkipWithError("decode mismatch");
  st.counters["Msym/s"] = benchmark::Counter(double(d.values.size()) * double(st.iterations()) * 1e-6,
                                             benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RansEncode)->Unit(benchmark::kMillisecond)->MinTime(1.0);
// Args: implementation, threads (1, or 0 for all cores). Rates are per wall-clock second.
BENCHMARK(BM_RansDecode)
    ->Args({int(RansImpl::kScalar), 1})
    ->Args({int(RansImpl::kInterleaved), 1})
    ->Args({int(RansImpl::kAvx2), 1})
    ->Args({int(RansImpl::kInterleaved), 0})
    ->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
