// Container: round trip, the worked example of docs/bitstream.md byte for byte, and
// rejection of every truncation, every single-bit flip, unknown required sections,
// trailing bytes and out-of-range headers.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "bitstream/container.h"
#include "bitstream/crc32c.h"

namespace nlc::bitstream {
namespace {

// The container knows only END; the caller says which types it decodes. Here: the
// hyperprior's two (docs/bitstream.md).
constexpr uint8_t kHyperLatent = 0x01, kLatent = 0x02;
const std::vector<uint8_t> kKnown = {kHyperLatent, kLatent};

Header example_header() {
  Header h;
  for (int i = 0; i < 32; ++i) h.model_id[size_t(i)] = uint8_t(i);
  h.width = 17;
  h.height = 33;
  h.quality_q16 = 0x00028000;  // 2.5
  return h;
}

std::string hex(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[4];
  for (uint8_t v : b) {
    std::snprintf(buf, sizeof buf, "%02x", v);
    s += buf;
  }
  return s;
}

TEST(Crc32c, StandardCheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c(s, 9), 0xE3069283u);
  EXPECT_EQ(crc32c(s + 4, 5, crc32c(s, 4)), 0xE3069283u);  // in pieces
}

TEST(Container, WorkedExampleOfTheSpec) {
  auto bytes = write(example_header(), {Section{kLatent, true, {0xAA, 0xBB}}});
  // docs/bitstream.md, "Worked example": keep both in step. The three CRCs were checked
  // against the independent Python implementation in models/train/nlc_train/nlcm.py.
  EXPECT_EQ(hex(bytes),
            "894e4c43" "0100" "3400"
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "11000000" "21000000" "08" "00" "0000" "00800200" "00000000"
            "4e7ef838"
            "02" "01" "02000000" "aabb" "90f75ab8"
            "00" "01" "00000000" "26133b6f");
  Parsed p = parse(bytes.data(), bytes.size(), &kKnown);
  EXPECT_EQ(p.header.width, 17u);
  EXPECT_EQ(p.header.height, 33u);
  EXPECT_EQ(p.header.quality_q16, 0x28000u);
  ASSERT_EQ(p.sections.size(), 1u);
  EXPECT_EQ(p.sections[0].type, kLatent);
  EXPECT_EQ(std::vector<uint8_t>(p.sections[0].data, p.sections[0].data + 2),
            (std::vector<uint8_t>{0xAA, 0xBB}));
}

TEST(Container, EveryTruncationAndEveryBitFlipIsRejected) {
  auto bytes = write(example_header(), {Section{kHyperLatent, true, {1, 2, 3}},
                                        Section{kLatent, true, std::vector<uint8_t>(40, 7)}});
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(parse(bytes.data(), n, &kKnown), StreamError) << "prefix " << n;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (int b = 0; b < 8; ++b) {
      auto bad = bytes;
      bad[i] ^= uint8_t(1 << b);
      EXPECT_THROW(parse(bad.data(), bad.size(), &kKnown), StreamError) << "byte " << i << " bit " << b;
    }
}

TEST(Container, UnknownSectionsAndTrailingBytes) {
  auto optional = write(example_header(), {Section{0x55, false, {9, 9}}, Section{kLatent, true, {}}});
  Parsed p = parse(optional.data(), optional.size(), &kKnown);
  EXPECT_EQ(p.skipped_optional, 1u);
  EXPECT_EQ(p.sections.size(), 1u);

  auto required = write(example_header(), {Section{0x55, true, {9, 9}}});
  try {
    parse(required.data(), required.size(), &kKnown);
    FAIL();
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("does not know"), std::string::npos) << e.what();
  }
  auto trailing = optional;
  trailing.push_back(0);
  EXPECT_THROW(parse(trailing.data(), trailing.size(), &kKnown), StreamError);
}

TEST(Container, NewerMinorVersionWithLongerHeaderIsRead) {
  // A later minor version (1.2) whose header carries 4 more bytes of fields this decoder
  // does not know.
  auto b = write(example_header(), {});
  std::vector<uint8_t> s(b.begin(), b.begin() + 8 + kHeaderFieldBytes);
  s[5] = 2;
  s[6] = uint8_t(kHeaderFieldBytes + 4);
  s.insert(s.end(), {1, 2, 3, 4});
  uint32_t crc = crc32c(s.data(), s.size());
  for (int i = 0; i < 4; ++i) s.push_back(uint8_t(crc >> (8 * i)));
  s.insert(s.end(), b.end() - 10, b.end());  // the END section
  Parsed p = parse(s.data(), s.size(), &kKnown);
  EXPECT_EQ(p.header.minor, 2);
  EXPECT_EQ(p.header.width, 17u);
}

// Overlapping tiles (1.2): flag bit 0 and a 56-byte header whose last field is the overlap;
// a 1.1 decoder refuses the stream by the flag rather than misplacing its tiles.
TEST(Container, TileOverlapIsFlaggedAndChecked) {
  Header h = example_header();
  h.minor = 2;
  h.width = h.height = 300;
  h.tile_size = 128;
  h.tile_overlap = 32;
  auto b = write(h, {});
  EXPECT_EQ(b[6], kHeaderFieldBytesOverlap);
  EXPECT_EQ(b[8 + 42], kFlagTileOverlap);
  EXPECT_EQ(b[8 + 52], 32);
  Parsed p = parse(b.data(), b.size(), &kKnown);
  EXPECT_EQ(p.header.tile_size, 128u);
  EXPECT_EQ(p.header.tile_overlap, 32u);
  // Without the overlap: the 1.0 header, byte for byte what 1.0 and 1.1 wrote.
  h.tile_overlap = 0;
  EXPECT_EQ(write(h, {})[6], kHeaderFieldBytes);
  EXPECT_EQ(parse(write(h, {}).data(), write(h, {}).size(), &kKnown).header.tile_overlap, 0u);

  // The writer refuses what a decoder would.
  for (uint32_t bad : {8u, 72u, 144u}) {
    h.tile_overlap = bad;
    EXPECT_THROW(write(h, {}), std::invalid_argument) << bad;
  }
  h.tile_overlap = 32;
  h.minor = 1;
  EXPECT_THROW(write(h, {}), std::invalid_argument);

  // The reader: each broken rule with its message (CRCs fixed so the rule, not the CRC, fails).
  auto expect_refused = [&](std::vector<uint8_t> s, const char* why) {
    const size_t hl = size_t(s[6]) | size_t(s[7]) << 8;
    const uint32_t crc = crc32c(s.data(), 8 + hl);
    for (int i = 0; i < 4; ++i) s[8 + hl + size_t(i)] = uint8_t(crc >> (8 * i));
    try {
      parse(s.data(), s.size(), &kKnown);
      ADD_FAILURE() << "accepted: " << why;
    } catch (const StreamError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  auto s = b;
  s[5] = 1;  // 1.1 with the flag
  expect_refused(s, "need version 1.2");
  s = b;
  s[8 + 52] = 40;  // not a multiple of 16
  expect_refused(s, "tile overlap 40 is out of range");
  s = b;
  s[8 + 52] = 80;  // over half a tile
  expect_refused(s, "tile overlap 80 is out of range");
  s = b;
  s[8 + 48] = 0;  // no tiles
  expect_refused(s, "tile overlap 32 is out of range for tile size 0");
  s = b;
  s[8 + 42] = 2;  // an unknown flag
  expect_refused(s, "unknown flags");
  // The flag in a 52-byte header: no room for the overlap.
  h = example_header();
  auto one = write(h, {});
  one[5] = 2;
  one[8 + 42] = 1;
  expect_refused(one, "too short for its tile overlap");
}

TEST(Container, RefusesImpossibleHeaders) {
  Header h = example_header();
  h.width = 70000;
  EXPECT_THROW(write(h, {}), std::invalid_argument);
  auto b = write(example_header(), {});
  b[4] = 2;  // major 2
  try {
    parse(b.data(), b.size(), &kKnown);
    FAIL();
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("version 2.0 is not supported"), std::string::npos);
  }
}

}  // namespace
}  // namespace nlc::bitstream
