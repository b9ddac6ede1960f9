// Lane-parallel rANS (range asymmetric numeral systems, Duda 2013; byte layout in the style
// of Giesen's ryg_rans with 16-bit renormalisation words).
//
//   state x: 32 bits, kept in [2^16, 2^32) between symbols
//   probabilities: quantised CDFs with total 2^16 (kPrecisionBits), every symbol freq >= 1
//   renormalisation: 16-bit words, little-endian
//
// A tensor's symbols are split into L contiguous lanes of (nearly) equal length; each lane is
// an independent rANS stream, so lanes can be coded in parallel (threads, SIMD, GPU) and the
// result does not depend on how many workers coded them. The lane layout is in the stream:
//
//   u32 L | L x u32 lane byte length | lane 0 words | lane 1 words | ...
//
// Lane k holds symbols [floor(k*n/L), floor((k+1)*n/L)). Only integer arithmetic is used.
//
// Values outside a distribution's range are escape-coded: every CDF's last symbol is the
// escape; after it the value's distance past the range is sent in 4-bit chunks with uniform
// probability (as CompressAI's bypass coding), so no int32 value is unencodable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "bitstream/stream_error.h"

namespace nlc {

inline constexpr int kPrecisionBits = 16;
inline constexpr uint32_t kProbTotal = 1u << kPrecisionBits;

// One distribution: cdf has n+1 entries, cdf[0] = 0, cdf[n] = 2^16, strictly increasing
// (every symbol has probability >= 2^-16). Symbol s stands for value s + offset, except the
// last symbol (n-1), which is the escape.
struct QuantizedCdf {
  std::vector<uint32_t> cdf;
  int32_t offset = 0;
  int num_symbols() const { return int(cdf.size()) - 1; }
  void validate() const;  // throws std::invalid_argument
};

// Quantises a pmf over n-1 in-range values (any non-negative weights, not all zero) plus an
// escape symbol of weight `escape_weight` into a QuantizedCdf: every symbol gets
// frequency >= 1, the rest is shared in proportion, by integer arithmetic only once the
// weights are scaled to 32-bit integers (so the result depends only on those integers).
QuantizedCdf quantize_pmf(const std::vector<double>& pmf, double escape_weight, int32_t offset);

// Encodes n values; value i uses tables[table_index[i]]. Returns the lane stream.
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes);

// Decodes what rans_encode wrote (same n, table_index and tables). Throws StreamError on any
// inconsistency (bad lane layout, a lane that ends early or has words left over, a final
// state that is not the initial one); never reads outside [data, data + size).
// kScalar is the reference (one lane at a time, binary search in the CDF); kInterleaved
// (portable C++: several lanes in lockstep, table lookup) and kAvx2 (8 lanes per vector) give
// identical results (tests/rans_test.cc) and are the fast paths; kAuto picks the fastest
// available (bench/bench_rans.cc measures them).
enum class RansImpl { kAuto, kScalar, kInterleaved, kAvx2 };
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values,
                 RansImpl impl = RansImpl::kAuto);
bool rans_avx2_available();
// The implementations (rans_decode dispatches).
void rans_decode_scalar(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                        const std::vector<QuantizedCdf>& tables, int32_t* values);
void rans_decode_interleaved(const uint8_t* data, size_t size, const uint16_t* table_index,
                             size_t n, const std::vector<QuantizedCdf>& tables, int32_t* values);
void rans_decode_avx2(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                      const std::vector<QuantizedCdf>& tables, int32_t* values);

// The lane count an encoder should use for n symbols: one lane per lane_symbols (at least
// one, at most 4,096), enough lanes for parallel decoding, few enough that the per-lane
// overhead (4-byte length + 4-byte final state) stays small. An entropy model whose context
// stops at a lane's start (the INR's ARM) takes larger lanes.
uint32_t default_lane_count(size_t n, size_t lane_symbols = 16384);

}  // namespace nlc
