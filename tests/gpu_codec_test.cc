// The codec on the GPU (--device cuda) against the CPU, run by bench/gpu_check.sh on a GPU
// machine (skips elsewhere; accelerator_test covers the same path in host emulation):
//   * CPU-encoded streams (the conformance set and random images) decode on the GPU to
//     pixels within 1 of the CPU's (the float transforms differ in the last bits);
//   * GPU-encoded streams decode on the CPU, and on both sides to within 1 of each other;
//     they are byte-identical to the CPU's unless a latent sits on a rounding boundary,
//     which is counted and reported (not an error: both streams are valid).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "codec/src/cuda_accelerator.h"
#include "nlc/codec.h"
#include "nlc/image.h"

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

class GpuCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda_accelerator_usable(&why)) GTEST_SKIP() << why;
    model = repo_path("models/mshp-gain-v1.nlcm");
    cpu_enc = std::make_unique<Encoder>(model);
    gpu_enc = std::make_unique<Encoder>(model);
    cpu_dec = std::make_unique<Decoder>(model);
    gpu_dec = std::make_unique<Decoder>(model);
    gpu_enc->set_accelerator(cuda_accelerator());
    gpu_dec->set_accelerator(cuda_accelerator());
    std::printf("GPU: %s\n", gpu_dec->device().c_str());
  }
  std::string model;
  std::unique_ptr<Encoder> cpu_enc, gpu_enc;
  std::unique_ptr<Decoder> cpu_dec, gpu_dec;
};

TEST_F(GpuCodec, ConformanceStreamsDecodeWithinOneOfTheCpu) {
  for (const auto& e : std::filesystem::directory_iterator(repo_path("conformance/streams"))) {
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

// Tensor-core mode: the decoded images' PSNR stays within 0.05 dB of the fp32 GPU decode
// (kodim23 at three qualities; the conformance set's other images are tiny).
TEST_F(GpuCodec, TensorCoreModeKeepsPsnr) {
  Decoder tc(model);
  tc.set_accelerator(cuda_accelerator(true));
  const Image ref = read_png(repo_path("assets/kodim23.png"));
  for (const char* name : {"kodim23_q0.nlc", "kodim23_q2.5.nlc", "kodim23_q5.nlc"}) {
    const auto s = read_file(repo_path(std::string("conformance/streams/") + name));
    const double p32 = psnr(ref, gpu_dec->decode(s)), p16 = psnr(ref, tc.decode(s));
    std::printf("%s: fp32 %.3f dB, tensor cores %.3f dB\n", name, p32, p16);
    EXPECT_NEAR(p16, p32, 0.05) << name;
  }
}

}  // namespace
}  // namespace nlc
