// CLC (docs/clc.md): the C++ runtime against the trainer's exact integer simulation
// (tests/golden/make_clc_golden.py, run first by ctest as a fixture; NLC_CLC_GOLDEN_DIR names
// its folder), then CLC streams through the public API: round trips, tiles, and every
// refusal a user can meet (no dictionary, another dictionary, a damaged REFERENCE section).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "bitstream/container.h"
#include "bitstream/crc32c.h"
#include "models/mshp/hyperprior.h"
#include "nlc/codec.h"
#include "nlc/image.h"

namespace nlc {
namespace {

std::string dir() {
  const char* d = std::getenv("NLC_CLC_GOLDEN_DIR");
  return d ? d : "";
}

class Clc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(dir().empty()) << "NLC_CLC_GOLDEN_DIR is not set (run through ctest)";
    data_ = new ModelFile(load_model_file(dir() + "/clc_tensors.nlcm"));
    model_ = new MeanScaleHyperprior(load_model_file(dir() + "/clc_model.nlcm"));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete model_;
  }
  static const ModelTensor& t(const std::string& name) { return data_->tensors.at(name); }
  static Image image(int w, int h) {
    Image full = read_png(std::string(NLC_TEST_DATA) + "/../../assets/kodim23.png");
    Image r{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
    for (int y = 0; y < h; ++y)
      std::memcpy(&r.pixels[size_t(y) * w * 3], &full.pixels[(size_t(y + 100) * full.width + 150) * 3], size_t(w) * 3);
    return r;
  }
  static ModelFile* data_;
  static MeanScaleHyperprior* model_;
};
ModelFile* Clc::data_ = nullptr;
MeanScaleHyperprior* Clc::model_ = nullptr;

TEST_F(Clc, DictionaryIdentityMatchesTheTrainer) {
  ASSERT_NE(model_->clc(), nullptr);
  EXPECT_EQ(model_->clc()->id_hex(), std::get<std::string>(data_->params.at("dictionary_id")));
  EXPECT_EQ(model_->stream_minor(), 3);
  ASSERT_EQ(model_->tile_sections().size(), 3u);
  EXPECT_EQ(model_->tile_sections()[1].type, mshp::kReference);
}

TEST_F(Clc, Pow2ScaleIsExact) {
  const auto& s = t("pow2.s").data;
  const auto& k = t("pow2.k").data;
  const auto& r = t("pow2.r").data;
  for (size_t i = 0; i < s.size(); ++i) {
    const int64_t got = std::clamp<int64_t>(mshp::pow2_scale(int64_t(s[i]), int(k[i])), -(int64_t(1) << 30),
                                            int64_t(1) << 30);
    EXPECT_EQ(got, int64_t(r[i])) << "s " << s[i] << " k " << k[i];
  }
}

TEST_F(Clc, MatchingPicksTheTrainersEntries) {
  const ModelTensor& y = t("y");
  Tensor yt(int(y.dims[0]), int(y.dims[1]), int(y.dims[2]), int(y.dims[3]));
  std::copy(y.data.begin(), y.data.end(), yt.data());
  const std::vector<int32_t> got = model_->clc()->match(yt);
  const auto& want = t("indices").data;
  ASSERT_EQ(got.size(), want.size());
  int same = 0;
  for (size_t i = 0; i < got.size(); ++i) same += got[i] == int32_t(want[i]);
  // Matching is the encoder's choice (any decodes); float sums in another order may break a
  // near tie, but not more than rarely.
  EXPECT_GE(same, int(got.size()) - 1) << same << " of " << got.size();
}

TEST_F(Clc, ConditionedEntropyParametersAreBitExact) {
  const auto& idxf = t("indices").data;
  const std::vector<int32_t> indices(idxf.begin(), idxf.end());
  for (int q = 0; q < 3; ++q) {
    const std::string p = "q" + std::to_string(q) + ".";
    const ModelTensor& z = t(p + "z_hat");
    Tensor z_hat(int(z.dims[0]), int(z.dims[1]), int(z.dims[2]), int(z.dims[3]));
    std::copy(z.data.begin(), z.data.end(), z_hat.data());
    std::vector<int32_t> hidden;
    IntegerHyperSynthesis::Output o = model_->integer_hs().run(z_hat, &hidden);
    model_->clc()->condition(model_->integer_hs(), hidden, indices, o);
    const auto& mu = t(p + "mu_q").ints;
    const auto& sg = t(p + "sigma_q").ints;
    const auto& ix = t(p + "index").ints;
    ASSERT_EQ(o.mu_q.size(), mu.size());
    size_t bad = 0;
    for (size_t i = 0; i < mu.size(); ++i)
      bad += o.mu_q[i] != mu[i] || o.sigma_q[i] != sg[i] || int32_t(o.index[i]) != ix[i];
    EXPECT_EQ(bad, 0u) << "quality " << q;
  }
}

std::vector<uint8_t> with_fixed_crc(std::vector<uint8_t> s, size_t section_offset) {
  const size_t len = size_t(s[section_offset + 2]) | size_t(s[section_offset + 3]) << 8 |
                     size_t(s[section_offset + 4]) << 16 | size_t(s[section_offset + 5]) << 24;
  const uint32_t c = crc32c(&s[section_offset], 6 + len);
  for (int b = 0; b < 4; ++b) s[section_offset + 6 + len + b] = uint8_t(c >> (8 * b));
  return s;
}

TEST_F(Clc, StreamsRoundTripAndRefuseOtherModels) {
  const std::string clc_path = dir() + "/clc_model.nlcm", base_path = dir() + "/base_model.nlcm";
  Encoder enc(clc_path);
  const Image img = image(200, 150);
  const std::vector<uint8_t> s = enc.encode(img, 2.5);
  bitstream::Parsed p = bitstream::parse(s.data(), s.size());
  EXPECT_EQ(p.header.minor, 3);
  ASSERT_EQ(p.sections.size(), 3u);
  EXPECT_EQ(p.sections[1].type, mshp::kReference);
  Decoder dec(clc_path);
  const Image out = dec.decode(s);
  EXPECT_EQ(out.width, 200);
  // The decoder conditions on the same reference: its latent is the encoder's.
  Encoder again(clc_path);
  EXPECT_EQ(again.encode(img, 2.5), s);

  // A model without the dictionary, and a stream without a reference, are named as such.
  Decoder base(base_path);
  try {
    base.decode(s);
    FAIL() << "a base model decoded a CLC stream";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("has no dictionary"), std::string::npos) << e.what();
  }
  const std::vector<uint8_t> plain = Encoder(base_path).encode(img, 2.5);
  try {
    dec.decode(plain);
    FAIL() << "a CLC model decoded a stream without reference";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("the stream has none"), std::string::npos) << e.what();
  }
  // Another dictionary (its id in the section differs; CRC made valid again).
  std::vector<uint8_t> other = s;
  other[p.sections[1].offset + 6] ^= 0x5a;
  other = with_fixed_crc(other, p.sections[1].offset);
  try {
    dec.decode(other);
    FAIL() << "a stream of another dictionary decoded";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("is not this model's"), std::string::npos) << e.what();
  }
  // Damaged indices: refused cleanly, never out of the dictionary.
  for (size_t i = 8; i < p.sections[1].size; ++i) {
    std::vector<uint8_t> bad = s;
    bad[p.sections[1].offset + 6 + i] ^= 0xff;
    bad = with_fixed_crc(bad, p.sections[1].offset);
    try {
      dec.decode(bad);
    } catch (const StreamError&) {
    }
  }
}

TEST_F(Clc, TiledStreamsCarryAReferencePerTile) {
  const std::string clc_path = dir() + "/clc_model.nlcm";
  Encoder enc(clc_path);
  enc.set_tiling(128, 16);
  const Image img = image(300, 200);
  const std::vector<uint8_t> s = enc.encode(img, 1.0);
  bitstream::Parsed p = bitstream::parse(s.data(), s.size());
  EXPECT_EQ(p.header.minor, 3);
  EXPECT_EQ(p.sections.size(), 3u * 3 * 2);  // 3 x 2 tiles, three sections each
  Decoder dec(clc_path);
  const Image out = dec.decode(s);
  EXPECT_EQ(out.width, 300);
  EXPECT_EQ(out.height, 200);
  const DecodedLatent l = dec.decode_latent(s.data(), s.size());
  EXPECT_FALSE(l.data.empty());
}

}  // namespace
}  // namespace nlc
