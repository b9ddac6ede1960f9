// The .nlc container (normative spec: docs/bitstream.md): magic, version, a header with
// the model's identity and the image geometry, then typed sections, each with a length and
// a CRC-32C, closed by an END section. parse() rejects, with a StreamError that says why,
// anything it cannot decode exactly, and never reads outside the buffer it is given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bitstream/stream_error.h"

namespace nlc::bitstream {

inline constexpr uint8_t kMagic[4] = {0x89, 'N', 'L', 'C'};
inline constexpr uint8_t kMajor = 1;
// The newest minor version this code writes: 1.1 adds the INR codec's section types, 1.2
// overlapping tiles, 1.3 the CLC reference section, 1.4 the INR codec's parameters of version 3
// (a weight step per tensor), 1.5 its parameters of version 4 (compact lane headers in
// INR_LATENTS) (docs/bitstream.md). A stream carries the lowest minor version its
// content needs, so streams of the hyperprior without overlapping tiles stay 1.0.
inline constexpr uint8_t kMinor = 5;
inline constexpr uint16_t kHeaderFieldBytes = 52;         // header fields of version 1.0
inline constexpr uint16_t kHeaderFieldBytesOverlap = 56;  // 1.2 with overlapping tiles
inline constexpr uint16_t kFlagTileOverlap = 1;           // header flag: tiles overlap (1.2)
inline constexpr uint32_t kMaxTileOverlap = 128;          // pixels; a multiple of 16
inline constexpr uint32_t kMaxDimension = 65535;   // per side; refuse larger before allocating
inline constexpr size_t kModelIdOffset = 8;         // the model identity's 32 bytes in a stream

enum class ColourFormat : uint8_t { kRgb = 0, kGray = 1 };

struct Header {
  uint8_t major = kMajor, minor = 0;
  std::array<uint8_t, 32> model_id{};  // SHA-256 identity of the model (docs/model-format.md)
  uint32_t width = 0, height = 0;
  uint8_t bit_depth = 8;
  ColourFormat colour = ColourFormat::kRgb;
  uint32_t quality_q16 = 0;  // quality as unsigned 16.16 fixed point
  uint32_t tile_size = 0;    // tile side in pixels (multiple of 64), 0: one tile
  // Pixels each tile extends past its right and bottom edges into its neighbours, where the
  // decoder blends the two (1.2, kFlagTileOverlap); 0: tiles meet edge to edge.
  uint32_t tile_overlap = 0;
};

// The quality as the header stores it: unsigned 16.16 fixed point. quality_to_q16 checks
// q against [0, max_quality] (std::invalid_argument outside) and rounds to the nearest
// step; coders use q16_to_quality(quality_to_q16(q)) so encoder and decoder agree.
uint32_t quality_to_q16(double q, double max_quality);
inline double q16_to_quality(uint32_t q16) { return q16 / 65536.0; }

// Section types are owned by the architectures (models/*/; numbers allocated in
// docs/bitstream.md); the container itself knows only END.
inline constexpr uint8_t kEnd = 0x00;

struct Section {
  uint8_t type = 0;
  bool required = true;
  std::vector<uint8_t> payload;
};

struct SectionView {
  uint8_t type = 0;
  bool required = true;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t offset = 0;  // of the section's first byte in the stream
};

struct Parsed {
  Header header;
  std::vector<SectionView> sections;  // known sections in stream order (END excluded)
  size_t skipped_optional = 0;        // unknown optional sections that were skipped
};

// Serialises header and sections and appends the END section.
std::vector<uint8_t> write(const Header& h, const std::vector<Section>& sections);
// `known`: the section types the caller decodes; other required sections are refused, other
// optional ones skipped. Without a list, every section is returned (nlc info).
Parsed parse(const uint8_t* data, size_t size, const std::vector<uint8_t>* known = nullptr);

}  // namespace nlc::bitstream
