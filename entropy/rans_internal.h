// Internals shared by the scalar and SIMD rANS decoders (not part of the API).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "entropy/rans.h"

namespace nlc::rans_detail {

inline constexpr uint32_t kStateLower = 1u << 16;  // x in [2^16, 2^32)
inline constexpr int kBypassBits = 4;
inline constexpr uint32_t kBypassMax = (1u << kBypassBits) - 1;
inline constexpr uint32_t kBypassFreq = kProbTotal >> kBypassBits;
// The longest escape a valid stream holds: any int32's folded distance past a table's range
// is at most 2^33, 34 bits, so 9 four-bit chunks. A longer one is refused before its value is
// assembled (16 chunks would overflow the signed arithmetic below).
inline constexpr uint32_t kMaxEscapeChunks = 9;

inline uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

class LaneDecoder {
 public:
  LaneDecoder() = default;
  LaneDecoder(const uint8_t* p, size_t bytes) : p_(p + 4), end_(p + bytes), x_(get_u32(p)) {
    if (x_ < kStateLower) throw StreamError("entropy-coded lane has an invalid initial state");
  }
  // Resumes a lane another decoder has advanced (state x, next word at p).
  LaneDecoder(const uint8_t* p, const uint8_t* end, uint32_t x) : p_(p), end_(end), x_(x) {}
  const uint8_t* pos() const { return p_; }
  uint32_t state() const { return x_; }
  uint32_t slot() const { return x_ & (kProbTotal - 1); }
  void advance(uint32_t start, uint32_t freq) {
    x_ = freq * (x_ >> kPrecisionBits) + slot() - start;
    if (x_ < kStateLower) {
      if (end_ - p_ < 2) throw StreamError("entropy-coded lane ends early (truncated or corrupt)");
      x_ = (x_ << 16) | uint32_t(p_[0]) | uint32_t(p_[1]) << 8;
      p_ += 2;
    }
  }
  uint32_t bypass() {
    uint32_t sym = slot() / kBypassFreq;
    advance(sym * kBypassFreq, kBypassFreq);
    return sym;
  }
  void finish() const {
    if (p_ != end_ || x_ != kStateLower)
      throw StreamError("entropy-coded lane does not end cleanly (corrupt stream)");
  }

 private:
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint32_t x_ = 0;
};

// After the escape symbol: the bypass-coded distance past the table's range.
inline int32_t decode_escape(LaneDecoder& d, const QuantizedCdf& t) {
  const int64_t n = t.num_symbols();
  uint32_t chunks = 0;
  for (;;) {
    uint32_t c = d.bypass();
    chunks += c;
    if (c < kBypassMax) break;
    if (chunks > kMaxEscapeChunks) throw StreamError("escape-coded value is too long (corrupt stream)");
  }
  if (chunks > kMaxEscapeChunks) throw StreamError("escape-coded value is too long (corrupt stream)");
  uint64_t raw = 0;
  for (uint32_t c = 0; c < chunks; ++c) raw |= uint64_t(d.bypass()) << (kBypassBits * c);
  int64_t idx = (raw & 1) ? -int64_t((raw + 1) / 2) : int64_t(raw / 2) + (n - 1);
  int64_t v = idx + t.offset;
  if (v < INT32_MIN || v > INT32_MAX) throw StreamError("escape-coded value out of range");
  return int32_t(v);
}

inline constexpr size_t kMaxSymbols = size_t(1) << 40;  // keeps n * k below 2^64 (k <= 2^20)

// Lane k holds symbols [lane_begin(k), lane_begin(k + 1)).
inline size_t lane_begin(size_t n, uint32_t lanes, uint32_t k) { return n * k / lanes; }

// Validated lane layout of a lane stream: byte offset and length of each lane.
struct LaneLayout {
  uint32_t lanes = 0;
  std::vector<size_t> offset, length;
};
LaneLayout parse_lanes(const uint8_t* data, size_t size);


// Lookup tables for the fast decoders (interleaved scalar and AVX2), built once per call from
// the QuantizedCdfs; they decide exactly what the reference binary search decides.
//   sym[j]: one entry per symbol of every table, concatenated: start | (freq - 1) << 16, so a
//           single 32-bit load gives a symbol's range (start <= 65535, freq <= 65535 because
//           every table has at least two symbols);
//   lut[(t << kLutBits) + (slot >> (16 - kLutBits))]: the index in sym of the symbol of
//           table t that holds the first slot of that bucket; the decoder steps forward while
//           the slot lies past the candidate's range (a bucket of 256 slots spans few
//           boundaries in the likely part of a distribution);
//   bias[t]: value of sym index j in table t is int32(j + bias[t]) (modulo 2^32, as the
//           reference's int32 conversion of s + offset).
// A symbol is the escape exactly when its range ends at 2^16 (the escape is always last).
inline constexpr int kLutBits = 8;
inline constexpr int kInterleave = 8;  // lanes in flight in the interleaved scalar decoder
struct DecodeTables {
  std::vector<uint32_t> sym;
  std::vector<uint32_t> lut;
  std::vector<uint32_t> bias;
};
DecodeTables make_decode_tables(const std::vector<QuantizedCdf>& tables);

// Throws std::invalid_argument unless every table index names a table (one vectorisable pass).
void check_table_indices(const uint16_t* table_index, size_t n, size_t tables);

// Decodes lanes [k_begin, L.lanes) with the interleaved scalar decoder (also the AVX2
// decoder's path for the lanes left over after its groups of 8).
void decode_lanes_interleaved(const uint8_t* data, const LaneLayout& L, uint32_t k_begin,
                              const uint16_t* table_index, size_t n, const DecodeTables& T,
                              const std::vector<QuantizedCdf>& tables, int32_t* values);

inline uint32_t sym_start(uint32_t e) { return e & 0xFFFF; }
inline uint32_t sym_end(uint32_t e) { return (e & 0xFFFF) + (e >> 16) + 1; }

inline int32_t decode_value_fast(LaneDecoder& d, const DecodeTables& T, const QuantizedCdf& t,
                                 uint32_t table) {
  const uint32_t slot = d.slot();
  uint32_t j = T.lut[(size_t(table) << kLutBits) + (slot >> (16 - kLutBits))];
  uint32_t e = T.sym[j];
  j += sym_end(e) <= slot;  // the usual one step past a boundary inside the bucket, as a select
  e = T.sym[j];
  while (sym_end(e) <= slot) [[unlikely]] e = T.sym[++j];
  const uint32_t end = sym_end(e);
  d.advance(sym_start(e), end - sym_start(e));
  if (end != kProbTotal) return int32_t(j + T.bias[table]);
  return decode_escape(d, t);
}

inline int32_t decode_value(LaneDecoder& d, const QuantizedCdf& t) {
  const uint32_t slot = d.slot();
  // First symbol whose cdf exceeds the slot, minus one.
  auto it = std::upper_bound(t.cdf.begin(), t.cdf.end(), slot);
  const size_t s = size_t(it - t.cdf.begin()) - 1;
  d.advance(t.cdf[s], t.cdf[s + 1] - t.cdf[s]);
  const int64_t n = t.num_symbols();
  if (int64_t(s) < n - 1) return int32_t(int64_t(s) + t.offset);
  return decode_escape(d, t);
}
}  // namespace nlc::rans_detail
