// The codec's accelerator path (what --device cuda uses), exercised without a GPU: an
// accelerator whose integer h_s and rANS coder are the CUDA kernels' own per-element and
// per-lane functions in host emulation (kernels/cuda/), and whose transforms are the CPU's.
// The codec through it must write byte-identical streams and decode identical pixels to
// the plain CPU codec, on the shipped model. Also: the batch API.
#include <gtest/gtest.h>

#include <random>

#include "codec/src/accelerator.h"
#include "kernels/cuda/cuda.h"
#include "models/hyperprior.h"
#include "nlc/codec.h"

namespace nlc {
namespace {

class EmulatedGpu final : public Accelerator {
 public:
  explicit EmulatedGpu(const MeanScaleHyperprior& m)
      : model_(load_model_file(default_model_path()), Backend::kOptimized), hs_(m.integer_hs()) {}
  std::string describe() const override { return "CUDA kernels in host emulation"; }
  Tensor g_a(const Tensor& x) override { return model_.g_a(x); }
  Tensor h_a(const Tensor& y) override { return model_.h_a(y); }
  Tensor g_s(const Tensor& y) override { return model_.g_s(y); }
  IntegerHyperSynthesis::Output integer_hs(const Tensor& z) override {
    ++calls;
    return cuda::host_emulation::integer_hs(hs_, z);
  }
  std::vector<uint8_t> rans_encode(const int32_t* v, const uint16_t* t, size_t n,
                                   const std::vector<QuantizedCdf>& tables, uint32_t lanes) override {
    ++calls;
    return cuda::host_emulation::rans_encode(v, t, n, tables, lanes);
  }
  void rans_decode(const uint8_t* d, size_t size, const uint16_t* t, size_t n,
                   const std::vector<QuantizedCdf>& tables, int32_t* v) override {
    ++calls;
    cuda::host_emulation::rans_decode(d, size, t, n, tables, v);
  }
  static inline int calls = 0;

 private:
  MeanScaleHyperprior model_;  // its own copy of the CPU transforms
  const IntegerHyperSynthesis& hs_;
};

Image noise_image(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = uint8_t(((i / 3) % size_t(w)) * 255 / size_t(w) / 2 + rng() % 128);
  return img;
}

TEST(Accelerator, StreamsAndPixelsIdenticalToTheCpu) {
  const std::string model = default_model_path();
  Encoder cpu_enc(model), acc_enc(model);
  Decoder cpu_dec(model), acc_dec(model);
  auto make = [](const MeanScaleHyperprior& m) -> std::unique_ptr<Accelerator> {
    return std::make_unique<EmulatedGpu>(m);
  };
  acc_enc.set_accelerator(make);
  acc_dec.set_accelerator(make);
  EXPECT_EQ(acc_dec.device(), "CUDA kernels in host emulation");
  EXPECT_EQ(cpu_dec.device(), "CPU");
  for (const Image& img : {noise_image(97, 61, 1), noise_image(300, 70, 2)}) {
    const int calls_before = EmulatedGpu::calls;
    const auto s = cpu_enc.encode(img, 2.5);
    EXPECT_EQ(acc_enc.encode(img, 2.5), s) << img.width;
    const Image a = cpu_dec.decode(s), b = acc_dec.decode(s);
    EXPECT_EQ(a.pixels, b.pixels) << img.width;
    EXPECT_GT(EmulatedGpu::calls, calls_before);  // the accelerator did run
  }
  acc_dec.set_accelerator(nullptr);
  EXPECT_EQ(acc_dec.device(), "CPU");
}

TEST(Codec, BatchEqualsOneByOne) {
  const std::string model = default_model_path();
  Encoder enc(model);
  Decoder dec(model);
  const std::vector<Image> images{noise_image(64, 64, 3), noise_image(33, 17, 4),
                                  noise_image(130, 70, 5)};
  const auto streams = enc.encode_batch(images, 1.0);
  ASSERT_EQ(streams.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) EXPECT_EQ(streams[i], enc.encode(images[i], 1.0));
  const auto decoded = dec.decode_batch(streams);
  ASSERT_EQ(decoded.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) EXPECT_EQ(decoded[i].pixels, dec.decode(streams[i]).pixels);
  auto bad = streams;
  bad[1].resize(bad[1].size() / 2);
  EXPECT_THROW(dec.decode_batch(bad), StreamError);
  EXPECT_TRUE(enc.encode_batch({}, 1.0).empty());
}

}  // namespace
}  // namespace nlc
