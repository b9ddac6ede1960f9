#include "bitstream/container.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bitstream/crc32c.h"

namespace nlc::bitstream {
namespace {

void put8(std::vector<uint8_t>& o, uint8_t v) { o.push_back(v); }
void put16(std::vector<uint8_t>& o, uint16_t v) {
  o.push_back(uint8_t(v));
  o.push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t>& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(uint8_t(v >> (8 * i)));
}
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

std::string hex2(uint8_t v) {
  static const char* d = "0123456789abcdef";
  return std::string("0x") + d[v >> 4] + d[v & 15];
}

void put_section(std::vector<uint8_t>& o, uint8_t type, bool required, const uint8_t* p, size_t n) {
  if (n > UINT32_MAX) throw std::invalid_argument("section payload over 4 GiB");
  size_t start = o.size();
  put8(o, type);
  put8(o, required ? 1 : 0);
  put32(o, uint32_t(n));
  o.insert(o.end(), p, p + n);
  put32(o, crc32c(o.data() + start, o.size() - start));
}

}  // namespace

uint32_t quality_to_q16(double q, double max_quality) {
  if (!(q >= 0.0 && q <= max_quality))
    throw std::invalid_argument("quality " + std::to_string(q) + " is outside [0, " +
                                std::to_string(max_quality) + "]");
  return uint32_t(std::lround(q * 65536.0));
}

std::vector<uint8_t> write(const Header& h, const std::vector<Section>& sections) {
  if (h.width == 0 || h.height == 0 || h.width > kMaxDimension || h.height > kMaxDimension)
    throw std::invalid_argument("image size out of range for the container");
  std::vector<uint8_t> o(kMagic, kMagic + 4);
  put8(o, kMajor);
  if (h.minor > kMinor) throw std::invalid_argument("minor version newer than this writer knows");
  const bool overlap = h.tile_overlap != 0;
  if (overlap && (h.minor < 2 || h.tile_size == 0 || h.tile_overlap % 16 || h.tile_overlap > kMaxTileOverlap ||
                  2 * h.tile_overlap > h.tile_size))
    throw std::invalid_argument("tile overlap needs version 1.2, tiles, a multiple of 16 up to 128 and half a tile");
  put8(o, h.minor);
  put16(o, overlap ? kHeaderFieldBytesOverlap : kHeaderFieldBytes);
  o.insert(o.end(), h.model_id.begin(), h.model_id.end());
  put32(o, h.width);
  put32(o, h.height);
  put8(o, h.bit_depth);
  put8(o, uint8_t(h.colour));
  put16(o, overlap ? kFlagTileOverlap : 0);  // flags
  put32(o, h.quality_q16);
  put32(o, h.tile_size);
  if (overlap) put32(o, h.tile_overlap);
  put32(o, crc32c(o.data(), o.size()));
  for (const Section& s : sections) {
    if (s.type == kEnd) throw std::invalid_argument("END is written by write() itself");
    put_section(o, s.type, s.required, s.payload.data(), s.payload.size());
  }
  put_section(o, kEnd, true, nullptr, 0);
  return o;
}

Parsed parse(const uint8_t* data, size_t size, const std::vector<uint8_t>* known) {
  if (size < 4 || std::memcmp(data, kMagic, 4) != 0)
    throw StreamError(size < 4 ? "stream truncated inside its magic" : "not an nlc stream (bad magic)");
  if (size < 8) throw StreamError("stream truncated inside its header");
  Parsed r;
  r.header.major = data[4];
  r.header.minor = data[5];
  if (r.header.major != kMajor)
    throw StreamError("stream version " + std::to_string(r.header.major) + "." +
                      std::to_string(r.header.minor) + " is not supported (this decoder reads " +
                      std::to_string(kMajor) + ".x)");
  const size_t hlen = get16(data + 6);
  if (hlen < kHeaderFieldBytes) throw StreamError("stream header is too short");
  if (size - 8 < hlen + 4) throw StreamError("stream truncated inside its header");
  if (kCheckCrc && crc32c(data, 8 + hlen) != get32(data + 8 + hlen))
    throw StreamError("stream header checksum mismatch (corrupt stream)");
  const uint8_t* f = data + 8;
  std::memcpy(r.header.model_id.data(), f, 32);
  r.header.width = get32(f + 32);
  r.header.height = get32(f + 36);
  r.header.bit_depth = f[40];
  uint8_t colour = f[41];
  uint16_t flags = get16(f + 42);
  r.header.quality_q16 = get32(f + 44);
  r.header.tile_size = get32(f + 48);
  if (r.header.width == 0 || r.header.height == 0 || r.header.width > kMaxDimension ||
      r.header.height > kMaxDimension)
    throw StreamError("stream image size " + std::to_string(r.header.width) + "x" +
                      std::to_string(r.header.height) + " is out of range");
  if (r.header.bit_depth != 8)
    throw StreamError("stream bit depth " + std::to_string(r.header.bit_depth) + " is not supported");
  if (colour > 1) throw StreamError("stream colour format " + std::to_string(colour) + " is unknown");
  r.header.colour = ColourFormat(colour);
  if (flags & ~kFlagTileOverlap) throw StreamError("stream header has unknown flags set");
  if (r.header.tile_size % 64) throw StreamError("stream tile size is not a multiple of 64");
  if (flags & kFlagTileOverlap) {
    if (r.header.minor < 2) throw StreamError("stream header flags overlapping tiles, which need version 1.2");
    if (hlen < kHeaderFieldBytesOverlap) throw StreamError("stream header is too short for its tile overlap");
    r.header.tile_overlap = get32(f + 52);
    const uint32_t o = r.header.tile_overlap, t = r.header.tile_size;
    if (t == 0 || o == 0 || o % 16 || o > kMaxTileOverlap || 2 * o > t)
      throw StreamError("stream tile overlap " + std::to_string(o) + " is out of range for tile size " +
                        std::to_string(t) + " (a multiple of 16, 16 .. min(128, half a tile))");
  }

  size_t pos = 8 + hlen + 4;
  for (;;) {
    if (size - pos < 6) throw StreamError("stream truncated (section header at byte " + std::to_string(pos) + ")");
    const uint8_t type = data[pos], sflags = data[pos + 1];
    const size_t len = get32(data + pos + 2);
    if (sflags > 1) throw StreamError("section " + hex2(type) + " has unknown flags");
    if (size - pos - 6 < len || size - pos - 6 - len < 4)
      throw StreamError("stream truncated inside section " + hex2(type));
    if (kCheckCrc && crc32c(data + pos, 6 + len) != get32(data + pos + 6 + len))
      throw StreamError("section " + hex2(type) + " at byte " + std::to_string(pos) +
                        " fails its checksum (corrupt stream)");
    const bool required = sflags & 1;
    if (type == kEnd) {
      if (len != 0 || !required) throw StreamError("malformed END section");
      pos += 10;
      break;
    }
    if (!known || std::find(known->begin(), known->end(), type) != known->end()) {
      r.sections.push_back({type, required, data + pos + 6, len, pos});
    } else if (required) {
      throw StreamError("stream needs section type " + hex2(type) +
                        ", which this decoder does not know (newer encoder?)");
    } else {
      ++r.skipped_optional;
    }
    pos += 10 + len;
  }
  if (pos != size) throw StreamError("stream has trailing bytes after its END section");
  return r;
}

}  // namespace nlc::bitstream
