// The hyperprior's GPU backend (what device cuda uses), exercised without a GPU: a backend
// whose integer h_s and rANS coder are the CUDA kernels' own per-element and per-lane
// functions in host emulation (models/mshp/cuda/, entropy/cuda/), and whose transforms are
// the CPU's;
// stage by stage, and whole tiles through cuda::TileCodec (the GPU tile pipeline, in host
// memory). The codec through it must write byte-identical streams and decode identical
// pixels to the plain CPU codec, on the shipped model, and reject what the CPU rejects.
// Also: the batch API.
#include <gtest/gtest.h>

#include <random>

#include "bitstream/container.h"
#include "nlc/codec.h"
#include "emulated_gpu.h"

namespace nlc {
namespace {

Image noise_image(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i)
    img.pixels[i] = uint8_t(((i / 3) % size_t(w)) * 255 / size_t(w) / 2 + rng() % 128);
  return img;
}

template <class Codec>
void emulate(Codec& c, bool whole_tiles) { use_emulated_gpu(c, default_model_path(), whole_tiles); }

Image gray(const Image& rgb) {
  Image g{rgb.width, rgb.height, 1, std::vector<uint8_t>(size_t(rgb.width) * rgb.height)};
  for (size_t i = 0; i < g.pixels.size(); ++i) g.pixels[i] = rgb.pixels[3 * i + 1];
  return g;
}

TEST(Accelerator, StreamsAndPixelsIdenticalToTheCpu) {
  const std::string model = default_model_path();
  Encoder cpu_enc(model), acc_enc(model);
  Decoder cpu_dec(model), acc_dec(model);
  emulate(acc_enc, false);
  emulate(acc_dec, false);
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
  acc_dec.set_device("cpu");
  EXPECT_EQ(acc_dec.device(), "CPU");
}

// The whole-tile pipeline (cuda::TileCodec in host emulation): identical streams and pixels
// to the CPU codec for RGB and grayscale tiles of sizes off the 64 grid, at several
// qualities; the CPU's errors for damaged streams.
TEST(Accelerator, WholeTilePipelineIdenticalToTheCpu) {
  const std::string model = default_model_path();
  Encoder cpu_enc(model), acc_enc(model);
  Decoder cpu_dec(model), acc_dec(model);
  emulate(acc_enc, true);
  emulate(acc_dec, true);
  const std::vector<Image> images{noise_image(97, 61, 6), gray(noise_image(130, 70, 7)),
                                  noise_image(64, 128, 8)};
  for (const Image& img : images)
    for (double q : {0.0, 1.75, acc_enc.max_quality()}) {
      const int tiles_before = EmulatedGpu::tile_calls;
      const auto s = cpu_enc.encode(img, q);
      EXPECT_EQ(acc_enc.encode(img, q), s) << img.width << "x" << img.height << " q " << q;
      EXPECT_EQ(acc_dec.decode(s).pixels, cpu_dec.decode(s).pixels) << img.width << " q " << q;
      EXPECT_EQ(EmulatedGpu::tile_calls, tiles_before + 2);  // the tile path ran both ways
    }
  // Damaged LATENT payloads (the container's CRC recomputed so the coder sees them): the
  // same error as the CPU, or the same pixels where the damage decodes.
  const auto s = cpu_enc.encode(images[0], 2.0);
  const bitstream::Parsed p = bitstream::parse(s.data(), s.size());
  std::vector<bitstream::Section> sections;
  for (const auto& v : p.sections)
    sections.push_back({v.type, v.required, std::vector<uint8_t>(v.data, v.data + v.size)});
  ASSERT_EQ(sections.size(), 2u);
  std::mt19937 rng(9);
  int rejected = 0;
  for (int trial = 0; trial < 40; ++trial) {
    auto damaged = sections;
    auto& y = damaged[1].payload;
    if (trial % 4 == 3)
      y.resize(y.size() - 1 - rng() % (y.size() / 2));  // truncated
    else
      y[rng() % y.size()] ^= uint8_t(1u << (rng() % 8));
    const auto bad = bitstream::write(p.header, damaged);
    std::string cpu_error, acc_error;
    Image a, b;
    try { a = cpu_dec.decode(bad); } catch (const StreamError& e) { cpu_error = e.what(); }
    try { b = acc_dec.decode(bad); } catch (const StreamError& e) { acc_error = e.what(); }
    EXPECT_EQ(acc_error, cpu_error);
    if (cpu_error.empty()) {
      EXPECT_EQ(a.pixels, b.pixels);
    }
    rejected += !cpu_error.empty();
  }
  EXPECT_GT(rejected, 0);
}

// decode_batch through the whole-tile pipeline: all tiles of all streams in one call (one
// coder launch, equal-sized tiles synthesised as one batch): each image equals the CPU's;
// a damaged stream in the batch gives the CPU's error for it, naming the stream.
TEST(Accelerator, BatchedTilesIdenticalToTheCpu) {
  const std::string model = default_model_path();
  Encoder enc(model);
  Decoder cpu(model), acc(model);
  emulate(acc, true);
  const std::vector<Image> images{noise_image(80, 48, 10), noise_image(150, 90, 11),
                                  gray(noise_image(80, 48, 12)), noise_image(80, 48, 13)};
  std::vector<std::vector<uint8_t>> streams;
  for (size_t i = 0; i < images.size(); ++i) streams.push_back(enc.encode(images[i], 0.5 + double(i)));
  const int before = EmulatedGpu::tile_calls;
  const auto decoded = acc.decode_batch(streams);
  EXPECT_EQ(EmulatedGpu::tile_calls, before + int(images.size()));
  ASSERT_EQ(decoded.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const Image c = cpu.decode(streams[i]);
    EXPECT_EQ(decoded[i].channels, c.channels);
    EXPECT_EQ(decoded[i].pixels, c.pixels) << i;
  }
  // Stream 2's LATENT payload truncated (CRC recomputed).
  const bitstream::Parsed p = bitstream::parse(streams[2].data(), streams[2].size());
  std::vector<bitstream::Section> sections;
  for (const auto& v : p.sections)
    sections.push_back({v.type, v.required, std::vector<uint8_t>(v.data, v.data + v.size)});
  sections[1].payload.resize(sections[1].payload.size() - 3);
  auto bad = streams;
  bad[2] = bitstream::write(p.header, sections);
  std::string cpu_error, acc_error;
  try { cpu.decode(bad[2]); } catch (const StreamError& e) { cpu_error = e.what(); }
  try { acc.decode_batch(bad); } catch (const StreamError& e) { acc_error = e.what(); }
  ASSERT_FALSE(cpu_error.empty());
  EXPECT_EQ(acc_error, "stream 2: " + cpu_error);
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
  try {
    dec.decode_batch(bad);
    ADD_FAILURE() << "a truncated stream decoded";
  } catch (const StreamError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("stream 1: ", 0), 0u) << e.what();
  }
  EXPECT_TRUE(enc.encode_batch({}, 1.0).empty());
}

}  // namespace
}  // namespace nlc
