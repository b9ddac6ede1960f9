#include "entropy/rans.h"
#include "entropy/rans_internal.h"

#include <algorithm>
#include <exception>
#include <cmath>
#include <string>

namespace nlc {
namespace {

using namespace rans_detail;


struct Op {  // one coding step: a symbol's [start, start + freq)
  uint32_t start, freq;
};

void append_value(int32_t v, const QuantizedCdf& t, std::vector<Op>& ops) {
  const int64_t n = t.num_symbols();
  const int64_t idx = int64_t(v) - t.offset;
  if (idx >= 0 && idx < n - 1) {
    ops.push_back({t.cdf[size_t(idx)], t.cdf[size_t(idx) + 1] - t.cdf[size_t(idx)]});
    return;
  }
  ops.push_back({t.cdf[size_t(n - 1)], t.cdf[size_t(n)] - t.cdf[size_t(n - 1)]});  // escape
  // Distance past the range, folded to non-negative: below -> odd, above -> even.
  uint64_t raw = idx < 0 ? uint64_t(-2 * idx - 1) : uint64_t(2 * (idx - (n - 1)));
  uint32_t chunks = 0;
  while (chunks < 16 && (raw >> (kBypassBits * chunks)) != 0) ++chunks;
  for (uint32_t c = chunks;; c -= kBypassMax) {  // chunk count, in unary groups of 15
    uint32_t sym = std::min(c, kBypassMax);
    ops.push_back({sym * kBypassFreq, kBypassFreq});
    if (c < kBypassMax) break;
  }
  for (uint32_t c = 0; c < chunks; ++c) {
    uint32_t sym = uint32_t(raw >> (kBypassBits * c)) & kBypassMax;
    ops.push_back({sym * kBypassFreq, kBypassFreq});
  }
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// Encodes one lane's ops (in reverse, as rANS requires) into: u32 final state | words.
void encode_lane(const std::vector<Op>& ops, std::vector<uint8_t>& out) {
  std::vector<uint16_t> words;  // in emission order (reversed at the end)
  uint32_t x = kStateLower;
  for (size_t i = ops.size(); i-- > 0;) {
    const Op& op = ops[i];
    const uint64_t x_max = uint64_t(op.freq) << 16;
    if (x >= x_max) {
      words.push_back(uint16_t(x & 0xFFFF));
      x >>= 16;
    }
    x = ((x / op.freq) << kPrecisionBits) + (x % op.freq) + op.start;
  }
  put_u32(out, x);
  for (size_t i = words.size(); i-- > 0;) {
    out.push_back(uint8_t(words[i] & 0xFF));
    out.push_back(uint8_t(words[i] >> 8));
  }
}



}  // namespace

void QuantizedCdf::validate() const {
  if (cdf.size() < 2 || cdf.size() > kProbTotal + 1 || cdf.front() != 0 || cdf.back() != kProbTotal)
    throw std::invalid_argument("quantised CDF must start at 0 and end at 2^16");
  for (size_t i = 1; i < cdf.size(); ++i)
    if (cdf[i] <= cdf[i - 1])
      throw std::invalid_argument("quantised CDF gives a symbol zero probability");
}

QuantizedCdf quantize_pmf(const std::vector<double>& pmf, double escape_weight, int32_t offset) {
  const size_t n = pmf.size() + 1;
  if (n > kProbTotal / 2) throw std::invalid_argument("too many symbols for a 16-bit CDF");
  double total = escape_weight;
  for (double p : pmf) {
    if (!(p >= 0) || !std::isfinite(p)) throw std::invalid_argument("pmf must be non-negative");
    total += p;
  }
  if (!(escape_weight >= 0) || !(total > 0)) throw std::invalid_argument("pmf sums to zero");
  // Scale to integers once; everything after is exact integer arithmetic.
  std::vector<uint64_t> w(n);
  uint64_t wsum = 0;
  for (size_t i = 0; i < n; ++i) {
    double p = i + 1 < n ? pmf[i] : escape_weight;
    w[i] = uint64_t(std::llround(p / total * double(1u << 30)));
    wsum += w[i];
  }
  const uint64_t spare = kProbTotal - n;  // after the guaranteed 1 per symbol
  std::vector<uint32_t> freq(n);
  uint64_t used = 0;
  size_t largest = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t extra = wsum ? w[i] * spare / wsum : 0;
    freq[i] = uint32_t(1 + extra);
    used += freq[i];
    if (w[i] > w[largest]) largest = i;
  }
  freq[largest] += uint32_t(kProbTotal - used);  // rounding remainder to the likeliest
  QuantizedCdf q;
  q.offset = offset;
  q.cdf.resize(n + 1);
  q.cdf[0] = 0;
  for (size_t i = 0; i < n; ++i) q.cdf[i + 1] = q.cdf[i] + freq[i];
  q.validate();
  return q;
}

uint32_t default_lane_count(size_t n, size_t lane_symbols) {
  return uint32_t(std::clamp<size_t>((n + lane_symbols - 1) / lane_symbols, 1, 4096));
}

std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes) {
  if (lanes == 0 || lanes > (1u << 20)) throw std::invalid_argument("lane count out of range");
  for (const auto& t : tables) t.validate();
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  std::vector<uint8_t> out(4 + 4 * size_t(lanes), 0);
  for (int b = 0; b < 4; ++b) out[size_t(b)] = uint8_t(lanes >> (8 * b));
  std::vector<Op> ops;
  for (uint32_t k = 0; k < lanes; ++k) {
    ops.clear();
    for (size_t i = lane_begin(n, lanes, k); i < lane_begin(n, lanes, k + 1); ++i) {
      if (table_index[i] >= tables.size()) throw std::invalid_argument("table index out of range");
      append_value(values[i], tables[table_index[i]], ops);
    }
    size_t before = out.size();
    encode_lane(ops, out);
    uint32_t len = uint32_t(out.size() - before);
    for (int b = 0; b < 4; ++b) out[4 + 4 * size_t(k) + size_t(b)] = uint8_t(len >> (8 * b));
  }
  return out;
}

namespace rans_detail {
LaneLayout parse_lanes(const uint8_t* data, size_t size) {
  if (size < 4) throw StreamError("entropy-coded data truncated (no lane count)");
  LaneLayout L;
  L.lanes = get_u32(data);
  if (L.lanes == 0 || L.lanes > (1u << 20))
    throw StreamError("entropy-coded data has an invalid lane count " + std::to_string(L.lanes));
  if ((size - 4) / 4 < L.lanes) throw StreamError("entropy-coded data truncated (lane table)");
  size_t pos = 4 + 4 * size_t(L.lanes);
  for (uint32_t k = 0; k < L.lanes; ++k) {
    const size_t len = get_u32(data + 4 + 4 * size_t(k));
    if (len < 4 || len % 2 || len > size - pos)
      throw StreamError("entropy-coded lane " + std::to_string(k) + " has an invalid length");
    L.offset.push_back(pos);
    L.length.push_back(len);
    pos += len;
  }
  if (pos != size) throw StreamError("entropy-coded data has trailing bytes");
  return L;
}
}  // namespace rans_detail

void rans_decode_scalar(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                        const std::vector<QuantizedCdf>& tables, int32_t* values) {
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  LaneLayout L = parse_lanes(data, size);
  for (size_t i = 0; i < n; ++i)
    if (table_index[i] >= tables.size()) throw std::invalid_argument("table index out of range");
  for (uint32_t k = 0; k < L.lanes; ++k) {
    LaneDecoder d(data + L.offset[k], L.length[k]);
    for (size_t i = lane_begin(n, L.lanes, k); i < lane_begin(n, L.lanes, k + 1); ++i)
      values[i] = decode_value(d, tables[table_index[i]]);
    d.finish();
  }
}

namespace rans_detail {
void check_table_indices(const uint16_t* table_index, size_t n, size_t tables) {
  uint16_t top = 0;
  for (size_t i = 0; i < n; ++i) top = std::max(top, table_index[i]);
  if (n > 0 && top >= tables) throw std::invalid_argument("table index out of range");
}

DecodeTables make_decode_tables(const std::vector<QuantizedCdf>& tables) {
  DecodeTables T;
  size_t total = 0;
  for (const auto& t : tables) total += size_t(t.num_symbols());
  if (total > UINT32_MAX) throw std::invalid_argument("decode tables too large");
  T.sym.reserve(total);
  T.lut.resize(tables.size() << kLutBits);
  for (size_t k = 0; k < tables.size(); ++k) {
    const auto& c = tables[k].cdf;
    const uint32_t base = uint32_t(T.sym.size());
    T.bias.push_back(uint32_t(tables[k].offset) - base);
    for (size_t s = 0; s + 1 < c.size(); ++s) T.sym.push_back(c[s] | (c[s + 1] - c[s] - 1) << 16);
    uint32_t s = 0;
    for (uint32_t b = 0; b < (1u << kLutBits); ++b) {
      const uint32_t slot = b << (16 - kLutBits);
      while (c[s + 1] <= slot) ++s;
      T.lut[(k << kLutBits) + b] = base + s;
    }
  }
  return T;
}
}  // namespace rans_detail

namespace {
// G lanes decoded in lockstep: their states are independent, so the CPU overlaps the
// lookups and multiplies of G symbols instead of waiting on one lane's dependency chain.
// The states live in locals (registers), and the loop has no data-dependent branch but the
// rare bucket fix-up: it runs in chunks of steps short enough that no lane can run out of
// words inside one (a symbol takes at most one word), so the word is read unconditionally
// and the renormalisation is a select. An escape (which may take many words) ends its
// chunk; the last steps of the lanes, and lanes too short for a chunk, take the checked path.
template <int G>
void decode_lane_group(const uint8_t* data, const LaneLayout& L, uint32_t k0,
                       const uint16_t* table_index, size_t n, const DecodeTables& T,
                       const std::vector<QuantizedCdf>& tables, int32_t* values) {
  uint32_t x[G];
  const uint8_t *p[G], *end[G];
  size_t first[G], count[G], steps = SIZE_MAX;
  for (int g = 0; g < G; ++g) {
    const uint32_t k = k0 + uint32_t(g);
    const LaneDecoder d(data + L.offset[k], L.length[k]);  // checks the initial state
    x[g] = d.state();
    p[g] = d.pos();
    end[g] = data + L.offset[k] + L.length[k];
    first[g] = lane_begin(n, L.lanes, k);
    count[g] = lane_begin(n, L.lanes, k + 1) - first[g];
    steps = std::min(steps, count[g]);
  }
  const uint32_t* lut = T.lut.data();
  const uint32_t* sym = T.sym.data();
  const uint32_t* bias = T.bias.data();
  size_t t = 0;
  while (t < steps) {
    size_t room = steps - t;
    for (int g = 0; g < G; ++g) room = std::min(room, size_t(end[g] - p[g]) / 2);
    if (room == 0) break;
    const size_t chunk_end = t + room;
    bool escaped = false;
    while (t < chunk_end && !escaped) {
#pragma GCC unroll 16
      for (int g = 0; g < G; ++g) {
        const size_t i = first[g] + t;
        const uint32_t table = table_index[i];
        const uint32_t slot = x[g] & (kProbTotal - 1);
        uint32_t j = lut[(size_t(table) << kLutBits) + (slot >> (16 - kLutBits))];
        uint32_t e = sym[j];
        while (sym_end(e) <= slot) e = sym[++j];
        const uint32_t start = sym_start(e), stop = sym_end(e);
        const uint32_t y = (stop - start) * (x[g] >> kPrecisionBits) + slot - start;
        const uint32_t w = uint32_t(p[g][0]) | uint32_t(p[g][1]) << 8;
        const bool renorm = y < kStateLower;
        x[g] = renorm ? (y << 16) | w : y;
        p[g] += renorm ? 2 : 0;
        if (stop != kProbTotal) [[likely]] {
          values[i] = int32_t(j + bias[table]);
        } else {
          LaneDecoder d(p[g], end[g], x[g]);
          values[i] = decode_escape(d, tables[table]);
          x[g] = d.state();
          p[g] = d.pos();
          escaped = true;
        }
      }
      ++t;
    }
  }
  for (int g = 0; g < G; ++g) {
    LaneDecoder d(p[g], end[g], x[g]);
    for (size_t i = first[g] + t; i < first[g] + count[g]; ++i)
      values[i] = decode_value_fast(d, T, tables[table_index[i]], table_index[i]);
    d.finish();
  }
}

}  // namespace

void rans_decode_interleaved(const uint8_t* data, size_t size, const uint16_t* table_index,
                             size_t n, const std::vector<QuantizedCdf>& tables, int32_t* values) {
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  LaneLayout L = parse_lanes(data, size);
  check_table_indices(table_index, n, tables.size());
  decode_lanes_interleaved(data, L, 0, table_index, n, make_decode_tables(tables), tables, values);
}

namespace rans_detail {
void decode_lanes_interleaved(const uint8_t* data, const LaneLayout& L, uint32_t k_begin,
                              const uint16_t* table_index, size_t n, const DecodeTables& T,
                              const std::vector<QuantizedCdf>& tables, int32_t* values) {
  // Groups of 8 lanes, then 4, 2, 1 for the rest; groups are independent, so threads take
  // them in any order and the values do not depend on the thread count. An error is
  // reported as the lowest-numbered failing group's, as a one-thread run would.
  struct Group {
    uint32_t k;
    int size;
  };
  static_assert(kInterleave > 4, "the group sizes below must be distinct");
  std::vector<Group> groups;
  uint32_t k = k_begin;
  for (int size : {kInterleave, 4, 2, 1})
    for (; k + uint32_t(size) <= L.lanes; k += uint32_t(size)) groups.push_back({k, size});
  std::vector<std::exception_ptr> errors(groups.size());
  const long count = long(groups.size());
#pragma omp parallel for schedule(dynamic) if (count > 1 && n > 65536)
  for (long i = 0; i < count; ++i) {
    try {
      const Group g = groups[size_t(i)];
      switch (g.size) {
        case kInterleave: decode_lane_group<kInterleave>(data, L, g.k, table_index, n, T, tables, values); break;
        case 4: decode_lane_group<4>(data, L, g.k, table_index, n, T, tables, values); break;
        case 2: decode_lane_group<2>(data, L, g.k, table_index, n, T, tables, values); break;
        default: decode_lane_group<1>(data, L, g.k, table_index, n, T, tables, values); break;
      }
    } catch (...) {
      errors[size_t(i)] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}
}  // namespace rans_detail

void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values, RansImpl impl) {
  if (impl == RansImpl::kAuto) impl = RansImpl::kInterleaved;
  switch (impl) {
    case RansImpl::kAvx2:
      if (!rans_avx2_available()) throw std::invalid_argument("AVX2 is not available on this CPU");
      return rans_decode_avx2(data, size, table_index, n, tables, values);
    case RansImpl::kScalar:
      return rans_decode_scalar(data, size, table_index, n, tables, values);
    default:
      return rans_decode_interleaved(data, size, table_index, n, tables, values);
  }
}

}  // namespace nlc
