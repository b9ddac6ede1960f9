// Convolution and GDN kernels: plain reference vs optimised (oneDNN), on the layer shapes of
// the shipped model (N=128, M=192). Spatial sizes are kept small enough that the reference
// finishes an iteration in about a second.
#include <benchmark/benchmark.h>

#include "bench/bench_util.h"

#include <random>

#include "kernels/cpu/ops.h"

namespace nlc {
namespace {

struct Case {
  const char* name;
  ConvSpec spec;
  int h, w;  // input size
};

const Case kCases[] = {
    {"g_a.2 conv5x5/2 128->128", {128, 128, 5, 2, 2, 0, false}, 64, 64},
    {"g_s.2 deconv5x5/2 128->128", {128, 128, 5, 2, 2, 1, true}, 32, 32},
    {"g_s.6 deconv5x5/2 128->3", {128, 3, 5, 2, 2, 1, true}, 64, 64},
    {"h_s.4 conv3x3/1 288->384", {288, 384, 3, 1, 1, 0, false}, 16, 16},
};

using bench::conv_weights;
using bench::gdn_weights;
using bench::random_tensor;

void set_flops(benchmark::State& st, const ConvSpec& s, const Shape& out) {
  // Multiply-adds of the dense convolution (a transposed one touches 1/stride^2 of its taps).
  double macs = double(out.numel()) * s.cin * s.k * s.k;
  if (s.transposed) macs /= double(s.stride * s.stride);
  st.counters["GFLOP/s"] =
      benchmark::Counter(2 * macs * double(st.iterations()), benchmark::Counter::kIsRate);
}

void BM_ConvReference(benchmark::State& st) {
  const Case& c = kCases[st.range(0)];
  ConvWeights w = conv_weights(c.spec);
  Tensor x = random_tensor(Shape{1, c.h, c.w, c.spec.cin}, 2);
  Tensor y;
  for (auto _ : st) benchmark::DoNotOptimize(y = ref::conv2d(x, w));
  set_flops(st, c.spec, y.shape());
  st.SetLabel(c.name);
}

void BM_ConvOptimized(benchmark::State& st) {
  const Case& c = kCases[st.range(0)];
  Conv2d conv(conv_weights(c.spec));
  Tensor x = random_tensor(Shape{1, c.h, c.w, c.spec.cin}, 2);
  Tensor y = conv.forward(x);  // primitive creation outside the timed loop
  for (auto _ : st) benchmark::DoNotOptimize(y = conv.forward(x));
  set_flops(st, c.spec, y.shape());
  st.SetLabel(c.name);
}

void BM_GdnReference(benchmark::State& st) {
  GdnWeights g = gdn_weights(128, st.range(0));
  Tensor x = random_tensor(Shape{1, 64, 64, 128}, 3), y;
  for (auto _ : st) benchmark::DoNotOptimize(y = ref::gdn(x, g));
}

void BM_GdnOptimized(benchmark::State& st) {
  Gdn g(gdn_weights(128, st.range(0)));
  Tensor x = random_tensor(Shape{1, 64, 64, 128}, 3), y = g.forward(x);
  for (auto _ : st) benchmark::DoNotOptimize(y = g.forward(x));
}

BENCHMARK(BM_ConvReference)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_ConvOptimized)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_GdnReference)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_GdnOptimized)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
