// .nlcm loading: a valid file loads with the identity Python computed; every truncation,
// a sample of bit flips, a wrong version and trailing bytes give ModelError, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include <zstd.h>

#include "bitstream/crc32c.h"
#include "models/mshp/hyperprior.h"

namespace nlc {
namespace {

std::string data_path(const std::string& f) { return std::string(NLC_TEST_DATA) + "/" + f; }

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string error_of(const uint8_t* data, size_t size) {
  try {
    ModelFile m = parse_model_file(data, size, "test.nlcm");
    MeanScaleHyperprior model(m);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}
std::string error_of(const std::vector<uint8_t>& b) { return error_of(b.data(), b.size()); }

TEST(ModelFile, LoadsWithPythonsIdentity) {
  ModelFile m = load_model_file(data_path("tiny.nlcm"));
  std::ifstream f(data_path("tiny.nlcm.sha256"));
  std::string want;
  f >> want;
  EXPECT_EQ(m.identity_hex(), want);
  EXPECT_EQ(m.arch, "mshp-gain-v1");
  EXPECT_EQ(m.major, 1);
  EXPECT_EQ(m.param_int("N"), 8);
  MeanScaleHyperprior model(m);
  EXPECT_EQ(model.M(), 8);
  EXPECT_EQ(model.num_qualities(), 6);
}

// The registry: a model file's arch picks the architecture; an unknown one is a ModelError
// naming it and the known ones; a backend made for another architecture is refused.
TEST(Architecture, RegistryPicksByArchAndRefusesUnknownOnes) {
  ModelFile m = load_model_file(data_path("tiny.nlcm"));
  auto a = load_architecture(m);
  EXPECT_EQ(a->arch(), "mshp-gain-v1");
  EXPECT_EQ(a->identity_hex(), m.identity_hex());
  EXPECT_EQ(a->align(), 64);
  EXPECT_EQ(a->latent_stride(), 16);
  ASSERT_EQ(a->tile_sections().size(), 2u);
  EXPECT_STREQ(a->tile_sections()[0].name, "HYPER_LATENT");
  EXPECT_EQ(a->backend().describe(), "CPU");
  struct Foreign final : ArchBackend {
    std::string arch() const override { return "other-v1"; }
    std::string describe() const override { return "foreign"; }
  };
  EXPECT_THROW(a->set_backend(std::make_unique<Foreign>()), std::invalid_argument);
  EXPECT_EQ(a->backend().describe(), "CPU");
  m.arch = "inr-v0";
  try {
    load_architecture(m);
    ADD_FAILURE() << "an unknown architecture was loaded";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("architecture 'inr-v0' is not supported"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'mshp-gain-v1'"), std::string::npos) << e.what();
  }
}

TEST(ModelFile, EveryTruncationIsAClearError) {
  auto b = read_bytes(data_path("tiny.nlcm"));
  ASSERT_GT(b.size(), 64u);
  for (size_t n = 0; n < b.size(); ++n) {
    std::string e = error_of(b.data(), n);
    ASSERT_FALSE(e.empty()) << "prefix of " << n << " bytes was accepted";
    if (n >= 64) {
      EXPECT_NE(e.find("truncated"), std::string::npos) << e;
    }
  }
}

// Header fields rewritten with a valid header CRC (bytes 12..15, computed with them zeroed).
void set_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + size_t(i)] = uint8_t(v >> (8 * i));
}
void refresh_crc(std::vector<uint8_t>& b) {
  std::memset(&b[12], 0, 4);
  const uint32_t crc = crc32c(b.data(), 64);
  for (int i = 0; i < 4; ++i) b[12 + size_t(i)] = uint8_t(crc >> (8 * i));
}

// A zstd bomb: a few compressed bytes announcing a gigabyte of payload is refused before
// anything is allocated for it (the loader used to allocate the announced size first); a
// payload frame without the content checksum the format requires is refused too.
TEST(ModelFile, PayloadSizeIsBoundedByTheFile) {
  auto b = read_bytes(data_path("tiny.nlcm"));
  auto bomb = std::vector<uint8_t>(b.begin(), b.begin() + 64 + 17);
  set_u64(bomb, 16, 17);
  set_u64(bomb, 24, uint64_t(1) << 30);
  refresh_crc(bomb);
  EXPECT_NE(error_of(bomb).find("implausible"), std::string::npos) << error_of(bomb);
  // The same payload recompressed without a checksum.
  const uint64_t csize = b.size() - 64;
  std::vector<uint8_t> raw(size_t(ZSTD_getFrameContentSize(&b[64], csize)));
  ASSERT_EQ(ZSTD_decompress(raw.data(), raw.size(), &b[64], csize), raw.size());
  std::vector<uint8_t> comp(ZSTD_compressBound(raw.size()));
  comp.resize(ZSTD_compress(comp.data(), comp.size(), raw.data(), raw.size(), 3));  // no checksum
  auto plain = std::vector<uint8_t>(b.begin(), b.begin() + 64);
  plain.insert(plain.end(), comp.begin(), comp.end());
  set_u64(plain, 16, comp.size());
  refresh_crc(plain);
  EXPECT_NE(error_of(plain).find("no content checksum"), std::string::npos) << error_of(plain);
}

TEST(ModelFile, BitFlipsAreDetected) {
  auto b = read_bytes(data_path("tiny.nlcm"));
  std::mt19937 rng(1);
  std::uniform_int_distribution<size_t> pos(0, b.size() - 1);
  std::uniform_int_distribution<int> bit(0, 7);
  for (int i = 0; i < 300; ++i) {
    auto t = b;
    size_t p = i < 64 ? size_t(i) : pos(rng);  // every header byte, then random ones
    t[p] ^= uint8_t(1 << bit(rng));
    EXPECT_FALSE(error_of(t).empty()) << "flip at byte " << p << " went unnoticed";
  }
}

TEST(ModelFile, WrongVersionIsNamed) {
  auto b = read_bytes(data_path("tiny.nlcm"));
  b[4] = 2;  // major 2
  std::memset(&b[12], 0, 4);
  uint32_t crc = crc32c(b.data(), 64);
  std::memcpy(&b[12], &crc, 4);
  std::string e = error_of(b);
  EXPECT_NE(e.find("version 2.0 is not supported"), std::string::npos) << e;
}

TEST(ModelFile, TrailingBytesAndWrongMagic) {
  auto b = read_bytes(data_path("tiny.nlcm"));
  auto t = b;
  t.push_back(0);
  EXPECT_NE(error_of(t).find("trailing"), std::string::npos);
  t = b;
  t[0] = 'X';
  EXPECT_NE(error_of(t).find("not an nlc model file"), std::string::npos);
}

TEST(ModelFile, MissingFileIsAnError) {
  EXPECT_THROW(load_model_file(data_path("does-not-exist.nlcm")), ModelError);
}

}  // namespace
}  // namespace nlc
