// The codec end to end with the small test model: round trips at many sizes, decode equals
// the model's own reconstruction, bpp from bytes, thread-count independence, and streams
// that are truncated, corrupted or meant for another model.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstring>
#include <random>
#include <thread>

#include "bitstream/container.h"
#include "bitstream/crc32c.h"
#include "kernels/cpu/ops.h"
#include "models/mshp/hyperprior.h"
#include "nlc/codec.h"
#include "models/mshp/image_tensor.h"

namespace nlc {
namespace {

const std::string kModel = std::string(NLC_TEST_DATA) + "/tiny.nlcm";

Image test_image(int w, int h, int channels, unsigned seed) {
  Image img{w, h, channels, std::vector<uint8_t>(size_t(w) * h * channels)};
  std::mt19937 rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        img.pixels[(size_t(y) * w + x) * channels + c] =
            uint8_t((x * 3 + y * (c + 1) * 2 + int(rng() % 16)) & 0xFF);
  return img;
}

TEST(Codec, RoundTripsAtManySizesAndMatchesTheModel) {
  Encoder enc(kModel);
  Decoder dec(kModel);
  ModelFile f = load_model_file(kModel);
  MeanScaleHyperprior model(f);
  struct Case {
    int w, h, ch;
    double q;
  };
  for (Case c : {Case{1, 1, 3, 0.0}, Case{17, 33, 3, 2.5}, Case{64, 64, 1, 5.0},
                 Case{768, 512, 3, 3.0}, Case{2000, 1500, 3, 1.25}}) {
    SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h));
    Image img = test_image(c.w, c.h, c.ch, unsigned(c.w));
    EncodeStats st;
    std::vector<uint8_t> s = enc.encode(img, c.q, &st);
    EXPECT_EQ(st.bytes, s.size());
    EXPECT_DOUBLE_EQ(st.bpp, 8.0 * double(s.size()) / (double(c.w) * c.h));
    Image out = dec.decode(s);
    ASSERT_EQ(out.width, c.w);
    ASSERT_EQ(out.height, c.h);
    ASSERT_EQ(out.channels, c.ch);
    // The decoder reproduces exactly what the model reconstructs at the stream's quality.
    auto r = model.forward(image_to_tensor(img, MeanScaleHyperprior::kAlign),
                           double(std::lround(c.q * 65536)) / 65536.0);
    Image want = tensor_to_image(r.x_hat, c.w, c.h, c.ch);
    EXPECT_EQ(out.pixels, want.pixels);
  }
}

TEST(Codec, StreamsDoNotDependOnThreadCount) {
  Image img = test_image(200, 130, 3, 9);
  set_threads(1);
  auto s1 = Encoder(kModel).encode(img, 2.0);
  auto d1 = Decoder(kModel).decode(s1);
  set_threads(2);
  auto s2 = Encoder(kModel).encode(img, 2.0);
  auto d2 = Decoder(kModel).decode(s1);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(d1.pixels, d2.pixels);
}

// After editing header fields of a 1.0 stream: its header CRC (bytes 60..63) made valid again,
// so that only the decoder's own checks can catch the edit.
void refresh_header_crc(std::vector<uint8_t>& s) {
  const uint32_t crc = crc32c(s.data(), 60);
  for (int i = 0; i < 4; ++i) s[size_t(60 + i)] = uint8_t(crc >> (8 * i));
}

TEST(Codec, TruncatedCorruptAndForeignStreamsAreRejected) {
  Image img = test_image(70, 40, 3, 3);
  auto s = Encoder(kModel).encode(img, 4.0);
  Decoder dec(kModel);
  for (size_t n = 0; n < s.size(); ++n)
    EXPECT_THROW(dec.decode(s.data(), n), StreamError) << "prefix " << n;
  std::mt19937 rng(4);
  for (int k = 0; k < 300; ++k) {
    auto bad = s;
    bad[rng() % bad.size()] ^= uint8_t(1u << (rng() % 8));
    EXPECT_THROW(dec.decode(bad), StreamError);
  }
  // A stream for another model: same container, another identity (header CRC fixed up, so
  // only the identity check can catch it).
  auto other = s;
  other[8] ^= 1;  // first byte of the model identity
  refresh_header_crc(other);
  try {
    dec.decode(other);
    FAIL() << "foreign stream accepted";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("wrong model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Encoder(kModel).encode(img, 5.5), std::invalid_argument);
  // A valid container announcing 65535x65535 is refused before the output is allocated.
  auto huge = s;
  for (int i = 0; i < 4; ++i) huge[size_t(40 + i)] = huge[size_t(44 + i)] = i < 2 ? 0xFF : 0;
  huge[56] = 0;  // tile size 1024 = 0x400
  huge[57] = 4;
  refresh_header_crc(huge);
  try {
    dec.decode(huge);
    FAIL() << "huge image accepted";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than this decoder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nlc

namespace nlc {
namespace {

// Tiled coding: an 8000x8000 image is coded in 1024x1024 tiles that start every 1008 pixels
// (kTileOverlap 16); away from the overlaps each tile decodes to what the model reconstructs
// for that tile alone, and memory stays bounded by a tile's tensors.
TEST(Codec, LargeImagesAreCodedInTilesWithBoundedMemory) {
  const int W = 8000, H = 8000;
  Image img = test_image(W, H, 3, 77);
  auto s = Encoder(kModel).encode(img, 2.0);
  const StreamInfo info = stream_info(s.data(), s.size());
  EXPECT_EQ(info.minor, 2);
  EXPECT_EQ(info.tile_size, kTileSize);
  EXPECT_EQ(info.tile_overlap, kTileOverlap);
  const int S = int(kTileSize - kTileOverlap), O = int(kTileOverlap);
  EXPECT_EQ(info.sections.size(), 2u * 8 * 8);  // ceil((8000 - 16) / 1008) = 8 tiles a side
  Image out = Decoder(kModel).decode(s);
  ASSERT_EQ(out.width, W);
  ASSERT_EQ(out.height, H);
  ModelFile f = load_model_file(kModel);
  MeanScaleHyperprior model(f);
  struct Tile {
    int x0, y0, w, h;
  };
  for (Tile t : {Tile{0, 0, 1024, 1024}, Tile{7 * S, 7 * S, W - 7 * S, H - 7 * S}}) {
    Image crop{t.w, t.h, 3, std::vector<uint8_t>(size_t(t.w) * t.h * 3)};
    for (int y = 0; y < t.h; ++y)
      std::memcpy(&crop.pixels[size_t(y) * t.w * 3], &img.pixels[(size_t(t.y0 + y) * W + t.x0) * 3],
                  size_t(t.w) * 3);
    auto r = model.forward(image_to_tensor(crop, MeanScaleHyperprior::kAlign), 2.0);
    Image want = tensor_to_image(r.x_hat, t.w, t.h, 3);
    // The part no other tile overlaps: inside by O from every edge another tile shares.
    const int ix0 = t.x0 ? O : 0, iy0 = t.y0 ? O : 0;
    const int ix1 = t.x0 + t.w < W ? t.w - O : t.w, iy1 = t.y0 + t.h < H ? t.h - O : t.h;
    for (int y = iy0; y < iy1; ++y)
      ASSERT_EQ(0, std::memcmp(&out.pixels[(size_t(t.y0 + y) * W + t.x0 + ix0) * 3],
                               &want.pixels[(size_t(y) * t.w + ix0) * 3], size_t(ix1 - ix0) * 3))
          << "tile at " << t.x0 << "," << t.y0 << " row " << y;
  }
#if !defined(__SANITIZE_ADDRESS__)
  // The 8000x8000 image itself is 183 MiB, held twice here (input and output); everything
  // else is per tile. Bound: 1.5 GiB of peak resident memory for the whole test.
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak resident memory: %ld MiB\n", ru.ru_maxrss / 1024);
  EXPECT_LT(ru.ru_maxrss / 1024, 1536);
#endif
}

// Overlapping tiles (bitstream 1.2): the stream is the tiles' own streams' sections in raster
// order, and each decoded pixel is the integer blend of the tiles that cover it, with
// weights ramping across each overlap (docs/bitstream.md, "Tiles"), written here per pixel
// as the product of the two directions' weights, rounded once. The latent is the tiles' own
// parts side by side.
TEST(Codec, OverlappingTilesAreBlendedExactly) {
  struct Case {
    int w, h, ch, tile, overlap;
  };
  for (Case c : {Case{150, 112, 3, 64, 16}, Case{130, 70, 1, 64, 32}, Case{200, 129, 3, 128, 48}}) {
    SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h) + " tile " + std::to_string(c.tile) + ":" +
                 std::to_string(c.overlap));
    const Image img = test_image(c.w, c.h, c.ch, 9);
    Encoder enc(kModel);
    enc.set_tiling(uint32_t(c.tile), uint32_t(c.overlap));
    const auto s = enc.encode(img, 1.5);
    const StreamInfo info = stream_info(s.data(), s.size());
    EXPECT_EQ(info.minor, 2);
    EXPECT_EQ(info.tile_size, uint32_t(c.tile));
    EXPECT_EQ(info.tile_overlap, uint32_t(c.overlap));
    const int T = c.tile, O = c.overlap, S = T - O;
    auto starts = [&](int side) {
      std::vector<int> v{0};
      while (v.back() + T < side) v.push_back(v.back() + S);
      return v;
    };
    const std::vector<int> xs = starts(c.w), ys = starts(c.h);
    Encoder whole(kModel);
    Decoder dec(kModel);
    struct Tile {
      int x0, y0;
      Image pixels;
      DecodedLatent latent;
    };
    std::vector<Tile> tiles;
    std::vector<uint8_t> sections;  // the tiles' sections, concatenated
    for (int y0 : ys)
      for (int x0 : xs) {
        const int w = std::min(T, c.w - x0), h = std::min(T, c.h - y0);
        Image crop{w, h, c.ch, std::vector<uint8_t>(size_t(w) * h * c.ch)};
        for (int y = 0; y < h; ++y)
          std::memcpy(&crop.pixels[size_t(y) * w * c.ch], &img.pixels[(size_t(y0 + y) * c.w + x0) * c.ch],
                      size_t(w) * c.ch);
        const auto one = whole.encode(crop, 1.5);
        const bitstream::Parsed p = bitstream::parse(one.data(), one.size());
        sections.insert(sections.end(), p.sections.front().data - 6, p.sections.back().data + p.sections.back().size + 4);
        tiles.push_back({x0, y0, dec.decode(one), dec.decode_latent(one.data(), one.size())});
      }
    // Sections: the same bytes, in raster order, between the header and END.
    const bitstream::Parsed p = bitstream::parse(s.data(), s.size());
    const uint8_t* first = p.sections.front().data - 6;
    const uint8_t* last = p.sections.back().data + p.sections.back().size + 4;
    ASSERT_EQ(sections, std::vector<uint8_t>(first, last));

    auto weight = [&](int at, int p0, int n, int side) {
      const int i = at - p0;
      if (p0 > 0 && i < O) return 2 * i + 1;
      if (p0 + n < side && i >= n - O) return 2 * (n - i) - 1;
      return 2 * O;
    };
    const Image out = dec.decode(s);
    ASSERT_EQ(out.pixels.size(), img.pixels.size());
    for (int y = 0; y < c.h; ++y)
      for (int x = 0; x < c.w; ++x)
        for (int ch = 0; ch < c.ch; ++ch) {
          uint32_t sum = 0, weights = 0;
          for (const Tile& t : tiles) {
            const Image& q = t.pixels;
            if (x < t.x0 || x >= t.x0 + q.width || y < t.y0 || y >= t.y0 + q.height) continue;
            const uint32_t w = uint32_t(weight(x, t.x0, q.width, c.w) * weight(y, t.y0, q.height, c.h));
            sum += w * q.pixels[(size_t(y - t.y0) * q.width + (x - t.x0)) * c.ch + ch];
            weights += w;
          }
          ASSERT_EQ(weights, uint32_t(4 * O * O)) << x << "," << y;
          ASSERT_EQ(out.pixels[(size_t(y) * c.w + x) * c.ch + ch], (sum + weights / 2) / weights)
              << "pixel " << x << "," << y << " channel " << ch;
        }

    // The latent: each tile's own part (up to where the next tile starts), side by side.
    const DecodedLatent l = dec.decode_latent(s.data(), s.size());
    const int st = l.stride;
    ASSERT_EQ(l.width, (xs.back() + tiles.back().latent.width * st) / st);
    ASSERT_EQ(l.height, (ys.back() + tiles.back().latent.height * st) / st);
    for (const Tile& t : tiles)
      for (int i = 0; i < t.latent.height; ++i)
        for (int j = 0; j < t.latent.width; ++j) {
          const int gi = t.y0 / st + i, gj = t.x0 / st + j;
          const bool own = (t.y0 == ys.back() || i < S / st) && (t.x0 == xs.back() || j < S / st);
          if (!own) continue;
          ASSERT_EQ(0, std::memcmp(&l.data[(size_t(gi) * l.width + gj) * l.channels],
                                   &t.latent.data[(size_t(i) * t.latent.width + j) * l.channels],
                                   size_t(l.channels) * sizeof(float)));
        }
  }
  Encoder enc(kModel);
  EXPECT_THROW(enc.set_tiling(100, 0), std::invalid_argument);
  EXPECT_THROW(enc.set_tiling(64, 48), std::invalid_argument);
  EXPECT_THROW(enc.set_tiling(64, 8), std::invalid_argument);
  EXPECT_THROW(enc.set_tiling(4096, 0), std::invalid_argument);
}

// A stream rebuilt from `one`'s header and sections as a side x side image in tiles of
// `tile`: every tile gets `one`'s sections, or sections of the same types with empty payloads.
std::vector<uint8_t> restream(const std::vector<uint8_t>& one, uint32_t side, uint32_t tile, bool payloads) {
  const bitstream::Parsed p = bitstream::parse(one.data(), one.size());
  bitstream::Header h = p.header;
  h.width = h.height = side;
  h.tile_size = tile;
  std::vector<bitstream::Section> sections;
  const uint32_t tiles = ((side + tile - 1) / tile) * ((side + tile - 1) / tile);
  for (uint32_t t = 0; t < tiles; ++t)
    for (const auto& sv : p.sections)
      sections.push_back({sv.type, true, payloads ? std::vector<uint8_t>(sv.data, sv.data + sv.size) : std::vector<uint8_t>{}});
  return bitstream::write(h, sections);
}

// A 1.3 kB stream announcing 16384x16384 in 64 tiles of 2048 (128 empty sections, a valid
// container) fails at its first tile without the output being allocated: the decoder used
// to zero-fill 805 MB first.
TEST(Codec, ShortStreamDeclaringAHugeImageAllocatesNothingLarge) {
  const auto bomb = restream(Encoder(kModel).encode(test_image(20, 20, 3, 1), 1.0), 16384, 2048, false);
  EXPECT_LT(bomb.size(), 1400u);
  struct rusage before {}, after {};
  getrusage(RUSAGE_SELF, &before);
  try {
    Decoder(kModel).decode(bomb);
    ADD_FAILURE() << "accepted";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated (no lane count)"), std::string::npos) << e.what();
  }
  getrusage(RUSAGE_SELF, &after);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 100 * 1024) << "KiB more peak memory";
#endif
}

// Decoding limits (issue 16): a stream over max_pixels is refused before anything is
// allocated; a valid stream of many repeated tiles (the review's 633 kB stream asked for 16
// CPU-minutes) stops within a tile of max_seconds. Both are LimitErrors, which are StreamErrors.
TEST(Codec, DecodeLimitsBoundPixelsAndTime) {
  const auto small = Encoder(kModel).encode(test_image(20, 20, 3, 1), 1.0);
  Decoder dec(kModel);
  EXPECT_EQ(dec.limits().max_pixels, kMaxDecodedPixels);
  EXPECT_EQ(dec.limits().max_seconds, 0.0);
  dec.set_limits({399, 0});
  try {
    dec.decode(small);
    FAIL() << "stream over the pixel limit decoded";
  } catch (const LimitError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the limit of 399 pixels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dec.decode_latent(small.data(), small.size()), LimitError);
  EXPECT_THROW(dec.decode_batch({small}), LimitError);
  dec.set_limits({400, 0});
  EXPECT_EQ(dec.decode(small).width, 20);
  dec.set_limits({uint64_t(1) << 40, 0});
  EXPECT_EQ(dec.limits().max_pixels, kMaxDecodedPixels);  // lowered to the format's limit

  // 16 copies of one 1024x1024 tile's sections as a 4096x4096 stream: valid, slow.
  const auto repeated = restream(Encoder(kModel).encode(test_image(1024, 1024, 3, 2), 0.5), 4096, 1024, true);
  dec.set_limits({kMaxDecodedPixels, 1e-6});
  try {
    dec.decode(repeated);
    FAIL() << "time limit ignored";
  } catch (const LimitError& e) {
    EXPECT_NE(std::string(e.what()).find("stopped after 1 of 16 tiles"), std::string::npos) << e.what();
  }
  try {
    dec.decode_latent(repeated.data(), repeated.size());
    FAIL() << "time limit ignored by decode_latent";
  } catch (const LimitError& e) {
    EXPECT_NE(std::string(e.what()).find("of 16 tiles"), std::string::npos) << e.what();
  }
  dec.set_limits({});
  const Image all = dec.decode(repeated);  // without a limit the same stream decodes
  EXPECT_EQ(all.width, 4096);
}

// The thread count is process-wide: set on one thread, used by coding calls on another.
TEST(Codec, ThreadCountIsProcessWide) {
  set_threads(1);
  int seen = 0;
  std::thread([&seen] { seen = threads(); }).join();
  EXPECT_EQ(seen, 1);
  set_threads(2);
  std::thread([&seen] { seen = threads(); }).join();
  EXPECT_EQ(seen, 2);
}

// decode_latent: the very latent the decoder synthesises from (g_s of it, rounded, is the
// decoded image, bit for bit), untiled and tiled (tiles' own parts side by side), with the
// stream's quality; a damaged stream is refused as decode() refuses it.
TEST(Codec, DecodeLatentIsWhatTheSynthesisReads) {
  MeanScaleHyperprior model(load_model_file(kModel));
  Encoder enc(kModel);
  Decoder dec(kModel);
  for (const auto& [w, h] : {std::pair{97, 61}, std::pair{2100, 2050}}) {
    const Image img = test_image(w, h, 3, 5);
    const auto s = enc.encode(img, 1.25);
    const Image want = dec.decode(s);
    const DecodedLatent l = dec.decode_latent(s.data(), s.size());
    EXPECT_EQ(l.quality, 1.25);
    EXPECT_EQ(l.stride, 16);
    // Tiles start every S pixels; the latent ends with the last tile's (padded) latent.
    const bool tiled = uint64_t(w) * uint64_t(h) > kMaxUntiledPixels;
    const int S = int(kTileSize - kTileOverlap);
    auto last_start = [&](int side) {
      int p = 0;
      while (tiled && p + int(kTileSize) < side) p += S;
      return p;
    };
    const int lx0 = last_start(w), ly0 = last_start(h);
    ASSERT_EQ(l.height, ly0 / 16 + (h - ly0 + 63) / 64 * 4);
    ASSERT_EQ(l.width, lx0 / 16 + (w - lx0 + 63) / 64 * 4);
    ASSERT_EQ(l.channels, model.M());
    ASSERT_EQ(l.data.size(), size_t(l.height) * l.width * l.channels);
    if (w * h <= int(kMaxUntiledPixels)) {
      Tensor y_hat = Tensor::uninitialized(Shape{1, l.height, l.width, l.channels});
      std::copy(l.data.begin(), l.data.end(), y_hat.data());
      EXPECT_EQ(tensor_to_image(model.g_s(y_hat), w, h, 3).pixels, want.pixels);
    } else {
      // The last tile's latent is all in the image's latent (the others give the part up to
      // where the next tile starts; OverlappingTilesAreBlendedExactly checks those): it
      // synthesises to that tile, which is the image where no other tile overlaps it.
      const int O = int(kTileOverlap), tw = w - lx0, th = h - ly0;
      const int lh = (th + 63) / 64 * 4, lw = (tw + 63) / 64 * 4, C = l.channels;
      Tensor y_hat = Tensor::uninitialized(Shape{1, lh, lw, C});
      for (int y = 0; y < lh; ++y)
        std::copy_n(&l.data[(size_t(ly0 / 16 + y) * l.width + size_t(lx0 / 16)) * C], size_t(lw) * C,
                    &y_hat.data()[size_t(y) * lw * C]);
      const Image t = tensor_to_image(model.g_s(y_hat), tw, th, 3);
      for (int y = O; y < th; ++y)
        ASSERT_EQ(0, std::memcmp(&t.pixels[(size_t(y) * tw + O) * 3], &want.pixels[(size_t(ly0 + y) * w + lx0 + O) * 3],
                                 size_t(tw - O) * 3))
            << "row " << y;
    }
    auto bad = s;
    bad.resize(bad.size() - 20);
    EXPECT_THROW(dec.decode_latent(bad.data(), bad.size()), StreamError);
  }
}

}  // namespace
}  // namespace nlc
