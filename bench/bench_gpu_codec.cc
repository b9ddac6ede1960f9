// The codec end to end on 1080p and 4K frames (1920x1080 and 3840x2160, synthetic
// photo-like frames; the time does not depend on the content beyond the rate), CPU beside
// GPU (--device cuda), one frame per call, through the public API: frames/s. GPU modes:
// fp32 and tensor cores with whole tiles on the device (the default), and fp32 stage by
// stage through host memory (what the tile pipeline saves). Run by bench/gpu_check.sh.
#include <benchmark/benchmark.h>

#include <random>

#include "codec/src/codec_impl.h"
#include "kernels/cuda/cuda.h"
#include "models/mshp/cuda/backend.h"
#include "nlc/codec.h"

namespace nlc {
namespace {

Image frame(int height) {
  const int w = height * 16 / 9, h = height;
  std::mt19937 rng(3);
  Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = uint8_t(((i / 3) % size_t(w)) * 240 / size_t(w) / 2 +
                            (i / 3 / size_t(w)) * 240 / size_t(h) / 2 + rng() % 16);
  return img;
}

// First arg: 0 CPU, 1 GPU fp32, 2 GPU tensor cores, 3 GPU fp32 stage by stage.
template <class Codec>
bool on_device(Codec& c, int64_t mode, benchmark::State& st) {
  if (mode == 0) return true;
  if (!cuda::available()) {
    st.SkipWithError(cuda::describe().c_str());
    return false;
  }
  BackendOptions o;
  o.tensor_cores = mode == 2;
  o.whole_tiles = mode != 3;
  Architecture& m = internal::architecture(c);
  m.set_backend(mshp::cuda_backend(static_cast<MeanScaleHyperprior&>(m), o));
  return true;
}

// Second arg: frame height (1080 or 2160).
void BM_Encode(benchmark::State& st) {
  Encoder enc(default_model_path());
  if (!on_device(enc, st.range(0), st)) return;
  st.SetLabel(enc.device());
  const Image img = frame(int(st.range(1)));
  benchmark::DoNotOptimize(enc.encode(img, 3.0).data());  // warm-up: cuDNN's choices, pools
  for (auto _ : st) benchmark::DoNotOptimize(enc.encode(img, 3.0).data());
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}

void BM_Decode(benchmark::State& st) {
  Encoder enc(default_model_path());
  Decoder dec(default_model_path());
  if (!on_device(dec, st.range(0), st)) return;
  st.SetLabel(dec.device());
  const auto stream = enc.encode(frame(int(st.range(1))), 3.0);
  benchmark::DoNotOptimize(dec.decode(stream).pixels.data());  // warm-up
  for (auto _ : st) benchmark::DoNotOptimize(dec.decode(stream).pixels.data());
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}

// Many frames per call through Decoder::decode_batch (all their tiles at once: one coder
// launch, the synthesis batched): the throughput of a service decoding many images.
// Args: GPU mode (1 fp32, 2 tensor cores), frames per call; 1080p frames.
void BM_DecodeBatch1080p(benchmark::State& st) {
  Encoder enc(default_model_path());
  Decoder dec(default_model_path());
  if (!on_device(dec, st.range(0), st)) return;
  const size_t frames = size_t(st.range(1));
  st.SetLabel(dec.device() + ", " + std::to_string(frames) + " frames per call");
  const std::vector<std::vector<uint8_t>> streams(frames, enc.encode(frame(1080), 3.0));
  benchmark::DoNotOptimize(dec.decode_batch(streams).data());  // warm-up
  for (auto _ : st) benchmark::DoNotOptimize(dec.decode_batch(streams).data());
  st.counters["frames/s"] = benchmark::Counter(double(st.iterations() * frames), benchmark::Counter::kIsRate);
}

// The CPU cases take seconds per 4K frame: a fixed two iterations; the GPU ones a second each.
// Wall-clock time throughout (the CPU codec runs on all cores, the GPU asynchronously).
BENCHMARK(BM_Encode)->ArgsProduct({{0}, {1080, 2160}})->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_Encode)->ArgsProduct({{1, 2, 3}, {1080, 2160}})->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_Decode)->ArgsProduct({{0}, {1080, 2160}})->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_Decode)->ArgsProduct({{1, 2, 3}, {1080, 2160}})->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_DecodeBatch1080p)->ArgsProduct({{1, 2}, {8}})->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();

}  // namespace
}  // namespace nlc

BENCHMARK_MAIN();
