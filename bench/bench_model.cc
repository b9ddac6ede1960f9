// The shipped model end to end on a 768x512 image (Kodak's size), optimised kernels:
// g_a, g_s, the hyper path, and "decode" = h_s + dequantisation + g_s (what a decoder runs
// once the entropy decoder has produced the symbols). Set NLC_MODEL to bench another model.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "models/mshp/hyperprior.h"
#include "nlc/codec.h"
#include "nlc/image.h"
#include "models/mshp/image_tensor.h"

#ifndef NLC_DEFAULT_MODEL
#define NLC_DEFAULT_MODEL ""
#endif
#ifndef NLC_BENCH_IMAGE
#define NLC_BENCH_IMAGE ""
#endif

namespace nlc {
namespace {

std::string model_path() {
  const char* env = std::getenv("NLC_MODEL");
  return env && *env ? env : NLC_DEFAULT_MODEL;
}

struct Fixture {
  std::unique_ptr<MeanScaleHyperprior> model;
  Tensor x;
  MeanScaleHyperprior::Result r;
  static Fixture& get() {
    static Fixture inst = [] {
      Fixture f;
      ModelFile file = load_model_file(model_path());
      f.model = std::make_unique<MeanScaleHyperprior>(file, Kernels::kOptimized);
      f.x = image_to_tensor(read_png(NLC_BENCH_IMAGE), MeanScaleHyperprior::kAlign);
      f.r = f.model->forward(f.x, 3.0);  // also warms the primitive caches
      return f;
    }();
    return inst;
  }
};

void pixels_rate(benchmark::State& st) {
  const Tensor& x = Fixture::get().x;
  st.counters["MP/s"] = benchmark::Counter(double(x.h()) * x.w() * 1e-6 * double(st.iterations()),
                                           benchmark::Counter::kIsRate);
}

void BM_g_a(benchmark::State& st) {
  auto& f = Fixture::get();
  for (auto _ : st) benchmark::DoNotOptimize(f.model->g_a(f.x));
  pixels_rate(st);
}

void BM_g_s(benchmark::State& st) {
  auto& f = Fixture::get();
  for (auto _ : st) benchmark::DoNotOptimize(f.model->g_s(f.r.y_hat));
  pixels_rate(st);
}

void BM_hyper_encode(benchmark::State& st) {  // h_a + h_s
  auto& f = Fixture::get();
  for (auto _ : st) {
    Tensor z = f.model->h_a(f.r.y_g);
    benchmark::DoNotOptimize(f.model->h_s(MeanScaleHyperprior::round(z)));
  }
  pixels_rate(st);
}

// The integer h_s the codec runs (mu_q and scale indices for the entropy decoder).
void BM_integer_hs(benchmark::State& st) {
  auto& f = Fixture::get();
  for (auto _ : st) benchmark::DoNotOptimize(f.model->integer_hs().run(f.r.z_hat).mu_q.data());
  pixels_rate(st);
}

void BM_decode(benchmark::State& st) {  // h_s + y_hat + g_s
  auto& f = Fixture::get();
  auto g = f.model->gains(3.0);
  for (auto _ : st) {
    Tensor mu, sigma;
    f.model->split_params(f.model->h_s(f.r.z_hat), mu, sigma);
    Tensor q = f.r.y_hat_g;  // symbols + mu, as the entropy decoder would give them
    Tensor y_hat = MeanScaleHyperprior::scale_channels(q, g.inv_gain);
    benchmark::DoNotOptimize(f.model->g_s(y_hat));
  }
  pixels_rate(st);
}

// The whole codec through its public API: PNG pixels -> stream -> pixels (Kodak-sized).
void BM_encode(benchmark::State& st) {
  static Encoder enc(model_path());
  static Image img = read_png(NLC_BENCH_IMAGE);
  size_t bytes = 0;
  for (auto _ : st) bytes = enc.encode(img, 3.0).size();
  st.counters["MP/s"] = benchmark::Counter(double(img.width) * img.height * 1e-6 *
                                           double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["bpp"] = 8.0 * double(bytes) / (double(img.width) * img.height);
}

void BM_decode_stream(benchmark::State& st) {
  static Encoder enc(model_path());
  static Decoder dec(model_path());
  static Image img = read_png(NLC_BENCH_IMAGE);
  static std::vector<uint8_t> s = enc.encode(img, 3.0);
  for (auto _ : st) benchmark::DoNotOptimize(dec.decode(s));
  st.counters["MP/s"] = benchmark::Counter(double(img.width) * img.height * 1e-6 *
                                           double(st.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_encode)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_decode_stream)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_g_a)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_g_s)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_hyper_encode)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_integer_hs)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_decode)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
