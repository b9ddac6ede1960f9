// The codec on the GPU (--device cuda) against the CPU, run by bench/gpu_check.sh on a GPU
// machine (skips elsewhere; accelerator_test covers the same path in host emulation):
//   * CPU-encoded streams (the conformance set and random images) decode on the GPU to
//     pixels within 1 of the CPU's (the float transforms differ in the last bits);
//   * GPU-encoded streams decode on the CPU, and on both sides to within 1 of each other;
//     they are byte-identical to the CPU's unless a latent sits on a rounding boundary,
//     which is counted and reported (not an error: both streams are valid);
//   * whole tiles on the device equal the GPU stage by stage, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "bitstream/container.h"
#include "kernels/cuda/cuda.h"
#include "models/mshp/cuda/backend.h"
#include "nlc/codec.h"
#include "nlc/image.h"
#include "emulated_gpu.h"

namespace nlc {
namespace {

std::string repo_path(const std::string& relative) {
  const std::filesystem::path compiled = std::filesystem::path(NLC_SOURCE_DIR) / relative;
  return std::filesystem::exists(compiled) ? compiled.string() : relative;  // GPU machine: cwd
}

int max_difference(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  int m = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i)
    m = std::max(m, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return m;
}

Image photo_like(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.pixels[(size_t(y) * w + x) * 3 + c] = uint8_t((x * 3 + y * 2 + c * 60 + rng() % 24) % 256);
  return img;
}

// Without a GPU the tests skip, unless NLC_GPU_TEST_EMULATE=1: then they run their logic
// on the host-emulated accelerator (tests/emulated_gpu.h: the CUDA path's code with CPU
// transforms), skipping the large images, which is how the test code itself is checked on
// machines without a GPU (it is not part of ctest: slow, and the accelerator_test covers
// the emulated path against the CPU).
class GpuCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    model = repo_path("models/mshp-gain-v1.nlcm");
    if (!cuda::available()) {
      const char* e = std::getenv("NLC_GPU_TEST_EMULATE");
      if (!e || std::string(e) != "1") GTEST_SKIP() << cuda::describe();
      emulated = true;
    }
    cpu_enc = std::make_unique<Encoder>(model);
    gpu_enc = std::make_unique<Encoder>(model);
    cpu_dec = std::make_unique<Decoder>(model);
    gpu_dec = std::make_unique<Decoder>(model);
    on_gpu(*gpu_enc);
    on_gpu(*gpu_dec);
    std::printf("GPU: %s\n", gpu_dec->device().c_str());
  }
  // Puts a codec on the GPU backend (or its emulation): tensor cores, whole tiles.
  template <class Codec>
  void on_gpu(Codec& c, bool tensor_cores = false, bool whole_tiles = true) const {
    if (emulated) return use_emulated_gpu(c, model, whole_tiles);
    BackendOptions o;
    o.tensor_cores = tensor_cores;
    o.whole_tiles = whole_tiles;
    Architecture& a = internal::architecture(c);
    a.set_backend(mshp::cuda_backend(static_cast<MeanScaleHyperprior&>(a), o));
  }
  std::string model;
  bool emulated = false;
  std::unique_ptr<Encoder> cpu_enc, gpu_enc;
  std::unique_ptr<Decoder> cpu_dec, gpu_dec;
};

TEST_F(GpuCodec, ConformanceStreamsDecodeWithinOneOfTheCpu) {
  // The CLC stream needs the bundled CLC model, found by the path compiled in, which a binary
  // carried to another machine (bench/gpu_check.sh) does not have: name the source tree's copy,
  // and where a device run left that file behind (it is large), say so and skip that stream.
  const std::string clc = repo_path("models/mshp-gain-v1-clc.nlcm");
  const bool have_clc = std::filesystem::exists(clc);
  if (have_clc) setenv("NLC_CLC_MODEL", clc.c_str(), 1);
  for (const auto& e : std::filesystem::directory_iterator(repo_path("conformance/streams"))) {
    if (!have_clc && e.path().filename().string().find("_clc_") != std::string::npos) {
      std::printf("%s: skipped, %s is not here\n", e.path().filename().c_str(), clc.c_str());
      continue;
    }
    const auto s = read_file(e.path().string());
    const Image a = cpu_dec->decode(s), b = gpu_dec->decode(s);
    const int d = max_difference(a, b);
    std::printf("%s: GPU decode max difference %d\n", e.path().filename().c_str(), d);
    EXPECT_LE(d, 1) << e.path();
  }
}

TEST_F(GpuCodec, EncodeBothWaysAndCrossDecode) {
  std::vector<Image> images{photo_like(64, 64, 1), photo_like(333, 217, 2),
                            read_png(repo_path("assets/kodim23.png"))};
  int identical = 0;
  for (const Image& img : images)
    for (double q : {0.0, 2.5, 5.0}) {
      const auto sc = cpu_enc->encode(img, q), sg = gpu_enc->encode(img, q);
      identical += sc == sg;
      std::printf("%dx%d q%.1f: CPU %zu bytes, GPU %zu bytes, %s\n", img.width, img.height, q,
                  sc.size(), sg.size(), sc == sg ? "identical" : "differ (rounding boundary)");
      for (const auto* s : {&sc, &sg}) {
        const Image a = cpu_dec->decode(*s), b = gpu_dec->decode(*s);
        EXPECT_LE(max_difference(a, b), 1);
      }
    }
  std::printf("identical streams: %d of %zu\n", identical, images.size() * 3);
  EXPECT_GT(identical, 0);
}

// Small images through the GPU tile pipeline both ways (RGB, grayscale, one pixel, sizes off
// the 64 grid): decodable on the CPU within 1. Quick enough to run under compute-sanitizer
// (gpu_check.sh), which then checks every pipeline kernel's memory accesses.
TEST_F(GpuCodec, SmallImagesThroughTheTilePipeline) {
  const Image rgb = photo_like(97, 61, 7);
  Image gray{130, 70, 1, std::vector<uint8_t>(size_t(130) * 70)};
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = uint8_t(i * 7 % 251);
  const Image one{1, 1, 3, {200, 100, 50}};
  for (const Image* img : std::vector<const Image*>{&rgb, &gray, &one})
    for (double q : {0.0, 4.0}) {
      const auto s = gpu_enc->encode(*img, q);
      const Image a = gpu_dec->decode(s), b = cpu_dec->decode(s);
      EXPECT_EQ(a.channels, img->channels);
      EXPECT_LE(max_difference(a, b), 1) << img->width << "x" << img->height << " q " << q;
      std::printf("%dx%dx%d q%.0f: %zu bytes, %s the CPU's stream\n", img->width, img->height,
                  img->channels, q, s.size(),
                  s == cpu_enc->encode(*img, q) ? "identical to" : "differs from (rounding boundary)");
    }
}

// The whole-tile pipeline (cuda::TileCodec, the default) against the GPU stage by stage
// (each stage's arrays through host memory): the same cuDNN transforms, the same exact
// entropy path, so identical streams and pixels; grayscale, and a tiled image (3 x 3 tiles)
// that the CPU decodes to within 1.
TEST_F(GpuCodec, WholeTilesEqualStageByStage) {
  Encoder staged_enc(model);
  Decoder staged_dec(model);
  on_gpu(staged_enc, false, false);
  on_gpu(staged_dec, false, false);
  Image gray{211, 97, 1, std::vector<uint8_t>(size_t(211) * 97)};
  const Image rgb = photo_like(211, 97, 5);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = rgb.pixels[3 * i];
  std::vector<Image> images{rgb, gray};
  if (!emulated) images.push_back(photo_like(2100, 2100, 6));  // emulation: too slow
  for (const Image& img : images) {
    const auto s = gpu_enc->encode(img, 2.0);
    EXPECT_EQ(staged_enc.encode(img, 2.0), s) << img.width << "x" << img.height;
    const Image a = gpu_dec->decode(s);
    EXPECT_EQ(staged_dec.decode(s).pixels, a.pixels) << img.width << "x" << img.height;
    const int d = max_difference(cpu_dec->decode(s), a);
    std::printf("%dx%dx%d: %zu bytes, whole tiles = stage by stage, CPU decode max difference %d\n",
                img.width, img.height, img.channels, s.size(), d);
    EXPECT_LE(d, 1);
  }
  // Damaged LATENT payloads (container CRCs recomputed, so the GPU coder sees them): the
  // CPU's error, or none where the CPU decodes the damage too (its garbage latents can be
  // far outside the trained range, where float differences are not bounded: not compared).
  const auto s = gpu_enc->encode(rgb, 2.0);
  const bitstream::Parsed p = bitstream::parse(s.data(), s.size());
  std::vector<bitstream::Section> sections;
  for (const auto& v : p.sections)
    sections.push_back({v.type, v.required, std::vector<uint8_t>(v.data, v.data + v.size)});
  std::mt19937 rng(11);
  int rejected = 0;
  for (int trial = 0; trial < 30; ++trial) {
    auto damaged = sections;
    auto& y = damaged.at(1).payload;
    if (trial % 3 == 2)
      y.resize(y.size() - 1 - rng() % (y.size() / 2));
    else
      y[rng() % y.size()] ^= uint8_t(1u << (rng() % 8));
    const auto bad = bitstream::write(p.header, damaged);
    std::string cpu_error, gpu_error;
    try { cpu_dec->decode(bad); } catch (const StreamError& e) { cpu_error = e.what(); }
    try { gpu_dec->decode(bad); } catch (const StreamError& e) { gpu_error = e.what(); }
    EXPECT_EQ(gpu_error, cpu_error);
    rejected += !cpu_error.empty();
  }
  EXPECT_GT(rejected, 0);
}

// Tensor-core mode: the decoded images' PSNR stays within 0.05 dB of the fp32 GPU decode
// (kodim23 at three qualities; the conformance set's other images are tiny).
TEST_F(GpuCodec, TensorCoreModeKeepsPsnr) {
  Decoder tc(model);
  on_gpu(tc, true);
  const Image ref = read_png(repo_path("assets/kodim23.png"));
  for (const char* name : {"kodim23_q0.nlc", "kodim23_q2.5.nlc", "kodim23_q5.nlc"}) {
    const auto s = read_file(repo_path(std::string("conformance/streams/") + name));
    const double p32 = psnr(ref, gpu_dec->decode(s)), p16 = psnr(ref, tc.decode(s));
    std::printf("%s: fp32 %.3f dB, tensor cores %.3f dB\n", name, p32, p16);
    EXPECT_NEAR(p16, p32, 0.05) << name;
  }
}

// The same on the 24 Kodak images (NLC_KODAK_DIR: bench/gpu_check.sh carries them), the
// issue's criterion: per quality, the average PSNR with tensor cores within 0.05 dB of
// fp32, for fp32-encoded streams decoded with tensor cores and for the whole codec on
// tensor cores (whose rate is reported too).
TEST_F(GpuCodec, TensorCoreModeKeepsKodakPsnr) {
  const char* dir = std::getenv("NLC_KODAK_DIR");
  if (!dir || !*dir) GTEST_SKIP() << "NLC_KODAK_DIR not set";
  if (emulated) GTEST_SKIP() << "24 Kodak images: too slow in emulation";
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".png") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 24u) << dir;
  Encoder tc_enc(model);
  Decoder tc_dec(model);
  on_gpu(tc_enc, true);
  on_gpu(tc_dec, true);
  for (double q : {0.0, 2.5, 5.0}) {
    double p32 = 0, p_dec = 0, p_all = 0, bytes32 = 0, bytes_tc = 0, pixels = 0;
    for (const auto& f : files) {
      const Image ref = read_png(f);
      const auto s32 = gpu_enc->encode(ref, q), stc = tc_enc.encode(ref, q);
      p32 += psnr(ref, gpu_dec->decode(s32));
      p_dec += psnr(ref, tc_dec.decode(s32));
      p_all += psnr(ref, tc_dec.decode(stc));
      bytes32 += double(s32.size());
      bytes_tc += double(stc.size());
      pixels += double(ref.width) * ref.height;
    }
    const double n = double(files.size());
    std::printf("Kodak q%.1f: fp32 %.3f dB %.4f bpp; tensor-core decode %.3f dB; tensor cores "
                "throughout %.3f dB %.4f bpp\n",
                q, p32 / n, 8 * bytes32 / pixels, p_dec / n, p_all / n, 8 * bytes_tc / pixels);
    EXPECT_NEAR(p_dec / n, p32 / n, 0.05) << "q " << q;
    EXPECT_NEAR(p_all / n, p32 / n, 0.05) << "q " << q;
  }
}

}  // namespace
}  // namespace nlc
