// The codec end to end on 1080p frames (1920x1080, a synthetic photo-like frame; the time
// does not depend on the content beyond the rate), CPU beside GPU (--device cuda), one
// frame per call, through the public API: frames/s. Run by bench/gpu_check.sh.
#include <benchmark/benchmark.h>

#include <random>

#include "codec/src/cuda_accelerator.h"
#include "nlc/codec.h"

namespace nlc {
namespace {

Image frame1080p() {
  std::mt19937 rng(3);
  Image img{1920, 1080, 3, std::vector<uint8_t>(size_t(1920) * 1080 * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = uint8_t(((i / 3) % 1920) / 8 + ((i / 5760) % 1080) / 8 + rng() % 16);
  return img;
}

// Arg: 0 CPU, 1 GPU fp32, 2 GPU tensor cores.
template <class Codec>
bool on_device(Codec& c, int64_t mode, benchmark::State& st) {
  if (mode == 0) return true;
  std::string why;
  if (!cuda_accelerator_usable(&why)) {
    st.SkipWithError(why.c_str());
    return false;
  }
  c.set_accelerator(cuda_accelerator(mode == 2));
  return true;
}

void BM_Encode1080p(benchmark::State& st) {
  Encoder enc(default_model_path());
  if (!on_device(enc, st.range(0), st)) return;
  st.SetLabel(enc.device());
  const Image img = frame1080p();
  for (auto _ : st) benchmark::DoNotOptimize(enc.encode(img, 3.0).data());
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}

void BM_Decode1080p(benchmark::State& st) {
  Encoder enc(default_model_path());
  Decoder dec(default_model_path());
  if (!on_device(dec, st.range(0), st)) return;
  st.SetLabel(dec.device());
  const auto stream = enc.encode(frame1080p(), 3.0);
  for (auto _ : st) benchmark::DoNotOptimize(dec.decode(stream).pixels.data());
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Encode1080p)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_Decode1080p)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
