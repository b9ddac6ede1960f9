// GPU rANS throughput beside the CPU's, on the same 2^24 Gaussian-conditional symbols in
// default_lane_count lanes (4096: one CUDA thread each). Times are whole API calls (uploads,
// kernels, downloads included). Built when the CUDA path is; carried to the GPU machine and
// run by bench/gpu_check.sh. Without a GPU the GPU cases report an error and are skipped.
#include <benchmark/benchmark.h>

#include "bench/rans_bench_data.h"
#include "entropy/rans.h"
#include "kernels/cuda/cuda.h"

namespace nlc {
namespace {

using Data = bench::GaussianSymbols<24>;

void counters(benchmark::State& st) {
  const auto& d = Data::get();
  st.counters["Gsym/s"] = benchmark::Counter(double(d.values.size()) * double(st.iterations()) * 1e-9,
                                             benchmark::Counter::kIsRate);
  st.counters["bits/sym"] = 8.0 * double(d.bytes.size()) / double(d.values.size());
}

void BM_RansDecode(benchmark::State& st) {
  const bool gpu = st.range(0);
  if (gpu && !cuda::available()) return st.SkipWithError(cuda::describe().c_str());
  auto& d = Data::get();
  st.SetLabel(gpu ? "CUDA" : "CPU interleaved, 1 thread");
  std::vector<int32_t> out(d.values.size());
  for (auto _ : st) {
    if (gpu)
      cuda::rans_decode(d.bytes.data(), d.bytes.size(), d.idx.data(), out.size(), d.tables, out.data());
    else
      rans_decode(d.bytes.data(), d.bytes.size(), d.idx.data(), out.size(), d.tables, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  if (out != d.values) st.SkipWithError("decode mismatch");
  counters(st);
}

void BM_RansEncode(benchmark::State& st) {
  const bool gpu = st.range(0);
  if (gpu && !cuda::available()) return st.SkipWithError(cuda::describe().c_str());
  auto& d = Data::get();
  st.SetLabel(gpu ? "CUDA" : "CPU, 1 thread");
  const uint32_t lanes = default_lane_count(d.values.size());
  std::vector<uint8_t> bytes;
  for (auto _ : st) {
    bytes = gpu ? cuda::rans_encode(d.values.data(), d.idx.data(), d.values.size(), d.tables, lanes)
                : rans_encode(d.values.data(), d.idx.data(), d.values.size(), d.tables, lanes);
    benchmark::DoNotOptimize(bytes.data());
  }
  if (bytes != d.bytes) st.SkipWithError("stream differs from the CPU encoder's");
  counters(st);
}

BENCHMARK(BM_RansDecode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_RansEncode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
