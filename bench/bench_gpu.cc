// GPU throughput: rANS beside the CPU's, on the same 2^24 Gaussian-conditional symbols in
// default_lane_count lanes (4096: one CUDA thread each), and the cuDNN transforms on 1080p
// frames. Times are whole API calls (uploads, kernels, downloads included). Built when the CUDA path is; carried to the GPU machine and
// run by bench/gpu_check.sh. Without a GPU the GPU cases report an error and are skipped.
#include <benchmark/benchmark.h>

#include "bench/bench_util.h"
#include "bench/rans_bench_data.h"
#include "entropy/rans.h"
#include "kernels/cuda/cuda.h"
#include "entropy/cuda/rans_resident.h"
#include "models/mshp/cuda/integer_hs_resident.h"
#include "models/mshp/cuda/mshp_cuda.h"
#include "entropy/cuda/rans_gpu.h"
#include "models/mshp/integer_hs.h"

#include <string>


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

// Many copies of the stream decoded in one launch (rans_decode_batch): the GPU's throughput
// when a service decodes many images at once. Arg: number of streams.
void BM_RansDecodeBatch(benchmark::State& st) {
  if (!cuda::available()) return st.SkipWithError(cuda::describe().c_str());
  auto& d = Data::get();
  const size_t copies = size_t(st.range(0));
  std::vector<std::vector<int32_t>> out(copies, std::vector<int32_t>(d.values.size()));
  std::vector<cuda::RansDecodeJob> jobs;
  for (auto& o : out) jobs.push_back({d.bytes.data(), d.bytes.size(), d.idx.data(), o.size(), o.data()});
  st.SetLabel("CUDA, " + std::to_string(copies) + " streams per launch");
  for (auto _ : st) cuda::rans_decode_batch(jobs, d.tables);
  if (out.back() != d.values) st.SkipWithError("decode mismatch");
  st.counters["Gsym/s"] = benchmark::Counter(double(d.values.size() * copies) * double(st.iterations()) * 1e-9,
                                             benchmark::Counter::kIsRate);
}

// The decoder as the tile pipeline runs it: tables and table indices already on the device,
// values left there; per call the stream's upload, its lane table, the kernel and the
// per-lane status. Arg: streams per launch (copies of the one stream).
void BM_RansDecodeResident(benchmark::State& st) {
  if (!cuda::available()) return st.SkipWithError(cuda::describe().c_str());
  auto& d = Data::get();
  const size_t copies = size_t(st.range(0)), n = d.values.size();
  const auto tables = cuda::detail::make_rans_tables(d.tables, true);
  std::vector<uint16_t> tid;
  std::vector<cuda::detail::LaneStream> streams;
  for (size_t c = 0; c < copies; ++c) {
    tid.insert(tid.end(), d.idx.begin(), d.idx.end());
    streams.push_back({d.bytes.data(), d.bytes.size(), n, c * n});
  }
  const cuda::detail::Array<uint16_t> dtid(tid.data(), tid.size(), true);
  cuda::detail::Array<int32_t> values(tid.size(), true);
  st.SetLabel("CUDA, resident arrays, " + std::to_string(copies) + " streams per launch");
  for (auto _ : st) {
    const auto errors = cuda::detail::rans_decode_many(streams, dtid.get(), *tables, values.get());
    if (!errors.back().empty()) return st.SkipWithError(errors.back().c_str());
  }
  std::vector<int32_t> last(n);
  values.download(last.data(), (copies - 1) * n, n);
  if (last != d.values) st.SkipWithError("decode mismatch");
  st.counters["Gsym/s"] = benchmark::Counter(double(n * copies) * double(st.iterations()) * 1e-9,
                                             benchmark::Counter::kIsRate);
}

// The shipped model's integer h_s on a 1080p frame's z (17 x 30 x 128, small integers) on the
// device, outputs left there: what the decoder pays per 1080p tile for mu and scale indices.
void BM_IntegerHs1080p(benchmark::State& st) {
  if (!cuda::available()) return st.SkipWithError(cuda::describe().c_str());
  const IntegerHyperSynthesis hs(load_model_file(bench::repo_file("models/mshp-gain-v1.nlcm")), 128, 192);
  const auto w = cuda::detail::make_integer_hs_weights(hs, true);
  const int zh = 1088 / 64, zw = 1920 / 64;
  std::vector<int32_t> z(size_t(zh) * zw * 128);
  for (size_t i = 0; i < z.size(); ++i) z[i] = int32_t(i * 2654435761u % 7) - 3;
  const cuda::detail::Array<int32_t> dz(z.data(), z.size(), true);
  const size_t ny = size_t(zh) * 4 * zw * 4 * 192;
  cuda::detail::Array<int32_t> mu(ny, true);
  cuda::detail::Array<uint16_t> idx(ny, true);
  st.SetLabel("CUDA integer h_s, 1080p");
  for (auto _ : st) {
    cuda::detail::integer_hs(hs, *w, dz.get(), 1, zh, zw, mu.get(), nullptr, idx.get());
    int32_t probe;
    mu.download(&probe, ny - 1, 1);  // waits for the kernels
    benchmark::DoNotOptimize(probe);
  }
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
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

// The synthesis and analysis transforms of the shipped model's size (N=128, M=192; random
// weights: the time does not depend on their values) on a 1080p frame (1920x1088 after
// padding to 64), one frame per call, upload and download included: frames/s.
void BM_Transform1080p(benchmark::State& st) {
  if (!cuda::available()) return st.SkipWithError(cuda::describe().c_str());
  const bool synthesis = st.range(0);
  const int N = 128, M = 192;
  cuda::Transform t;
  const int channels[5] = {synthesis ? M : 3, N, N, N, synthesis ? 3 : M};
  for (int i = 0; i < 4; ++i) {
    t.add_conv(bench::conv_weights({channels[i], channels[i + 1], 5, 2, 2, synthesis ? 1 : 0, synthesis}),
               false);
    if (i < 3) t.add_gdn(bench::gdn_weights(channels[i + 1], synthesis));
  }
  Tensor x(synthesis ? Shape{1, 1088 / 16, 1920 / 16, M} : Shape{1, 1088, 1920, 3});
  for (size_t i = 0; i < x.numel(); ++i) x.data()[i] = float(i % 7) * 0.1f;
  st.SetLabel(synthesis ? "g_s, 1080p" : "g_a, 1080p");
  for (auto _ : st) benchmark::DoNotOptimize(t.forward(x).data());
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RansDecode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_RansDecodeBatch)->Arg(4)->Arg(16)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_RansDecodeResident)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_IntegerHs1080p)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_Transform1080p)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_RansEncode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
