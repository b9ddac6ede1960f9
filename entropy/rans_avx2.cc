// AVX2 rANS decoder: 8 lanes advance together, one symbol each per step. Every operation
// mirrors the scalar reference (rans_internal.h) exactly; escapes and the lanes' last odd
// symbols are finished by the scalar code on the lane's exported state.
//
// Symbol search: per table, a 4096-entry lookup (slot >> 4 -> first candidate symbol), then
// a vectorised fix-up step while cdf[s + 1] <= slot (at most a few steps: a 16-slot bucket
// holds few symbol boundaries).
#include <immintrin.h>

#include <cstring>

#include "entropy/rans_internal.h"

namespace nlc {

using namespace rans_detail;

bool rans_avx2_available() { return __builtin_cpu_supports("avx2"); }

namespace {

constexpr int kLutBits = 12;  // slot >> (16 - 12)

struct FlatTables {
  std::vector<int32_t> cdf;      // all tables' cdfs, concatenated
  std::vector<int32_t> lut;      // tables x 4096 candidate symbols
  std::vector<int32_t> start;    // offset of each table in cdf
  std::vector<int32_t> last;     // escape symbol index of each table (num_symbols - 1)
  std::vector<int32_t> offset;   // value of symbol 0
};

FlatTables flatten(const std::vector<QuantizedCdf>& tables) {
  FlatTables f;
  f.lut.resize(tables.size() << kLutBits);
  for (size_t t = 0; t < tables.size(); ++t) {
    const auto& c = tables[t].cdf;
    f.start.push_back(int32_t(f.cdf.size()));
    f.last.push_back(int32_t(c.size()) - 2);
    f.offset.push_back(tables[t].offset);
    for (uint32_t v : c) f.cdf.push_back(int32_t(v));
    int32_t s = 0;
    for (int j = 0; j < (1 << kLutBits); ++j) {
      const uint32_t slot = uint32_t(j) << (16 - kLutBits);
      while (c[size_t(s) + 1] <= slot) ++s;
      f.lut[(t << kLutBits) + size_t(j)] = s;
    }
  }
  return f;
}

}  // namespace

__attribute__((target("avx2"))) void rans_decode_avx2(const uint8_t* data, size_t size,
                                                      const uint16_t* table_index, size_t n,
                                                      const std::vector<QuantizedCdf>& tables,
                                                      int32_t* values) {
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  LaneLayout L = parse_lanes(data, size);
  if (size > size_t(INT32_MAX) || n > size_t(INT32_MAX)) {  // 32-bit vector indices
    rans_decode_scalar(data, size, table_index, n, tables, values);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    if (table_index[i] >= tables.size()) throw std::invalid_argument("table index out of range");
  const FlatTables f = flatten(tables);
  // Table ids widened to int32 (gathers read 32-bit elements), padded for whole vectors.
  std::vector<int32_t> tid(n);
  for (size_t i = 0; i < n; ++i) tid[i] = table_index[i];

  uint32_t k0 = 0;
  for (; k0 + 8 <= L.lanes; k0 += 8) {
    alignas(32) int32_t x[8], pos[8], end[8], first[8], out[8], sym[8];
    size_t count[8];
    size_t steps = SIZE_MAX;
    for (int j = 0; j < 8; ++j) {
      const uint32_t k = k0 + uint32_t(j);
      const uint8_t* lane = data + L.offset[k];
      x[j] = int32_t(get_u32(lane));
      if (uint32_t(x[j]) < kStateLower)
        throw StreamError("entropy-coded lane has an invalid initial state");
      pos[j] = int32_t(L.offset[k] + 4);
      end[j] = int32_t(L.offset[k] + L.length[k]);
      first[j] = int32_t(lane_begin(n, L.lanes, k));
      count[j] = lane_begin(n, L.lanes, k + 1) - size_t(first[j]);
      steps = std::min(steps, count[j]);
    }
    __m256i vx = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    __m256i vpos = _mm256_load_si256(reinterpret_cast<const __m256i*>(pos));
    const __m256i vend = _mm256_load_si256(reinterpret_cast<const __m256i*>(end));
    const __m256i vfirst = _mm256_load_si256(reinterpret_cast<const __m256i*>(first));
    const __m256i mask16 = _mm256_set1_epi32(0xFFFF), one = _mm256_set1_epi32(1),
                  two = _mm256_set1_epi32(2), zero = _mm256_setzero_si256();
    for (size_t t = 0; t < steps; ++t) {
      const __m256i vidx = _mm256_add_epi32(vfirst, _mm256_set1_epi32(int32_t(t)));
      const __m256i vt = _mm256_i32gather_epi32(tid.data(), vidx, 4);
      const __m256i base = _mm256_i32gather_epi32(f.start.data(), vt, 4);
      const __m256i slot = _mm256_and_si256(vx, mask16);
      __m256i s = _mm256_i32gather_epi32(
          f.lut.data(), _mm256_add_epi32(_mm256_slli_epi32(vt, kLutBits), _mm256_srli_epi32(slot, 16 - kLutBits)), 4);
      __m256i nxt = _mm256_i32gather_epi32(f.cdf.data(), _mm256_add_epi32(_mm256_add_epi32(base, s), one), 4);
      for (;;) {  // while cdf[s + 1] <= slot: s++ (values < 2^17: signed compare is exact)
        const __m256i le = _mm256_xor_si256(_mm256_cmpgt_epi32(nxt, slot), _mm256_set1_epi32(-1));
        if (_mm256_testz_si256(le, le)) break;
        s = _mm256_sub_epi32(s, le);  // le is -1 where the step applies
        nxt = _mm256_i32gather_epi32(f.cdf.data(), _mm256_add_epi32(_mm256_add_epi32(base, s), one), 4);
      }
      const __m256i start = _mm256_i32gather_epi32(f.cdf.data(), _mm256_add_epi32(base, s), 4);
      const __m256i freq = _mm256_sub_epi32(nxt, start);
      // x = freq * (x >> 16) + slot - start   (all in 32 bits, as the scalar code)
      vx = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32(vx, 16)),
                            _mm256_sub_epi32(slot, start));
      // Renormalise lanes whose state fell below 2^16 with their next 16-bit word.
      const __m256i need = _mm256_cmpeq_epi32(_mm256_srli_epi32(vx, 16), zero);
      if (!_mm256_testz_si256(need, need)) {
        const __m256i over = _mm256_and_si256(need, _mm256_cmpgt_epi32(_mm256_add_epi32(vpos, two),
                                                                      vend));
        if (!_mm256_testz_si256(over, over))
          throw StreamError("entropy-coded lane ends early (truncated or corrupt)");
        // Read 4 bytes ending at the word (pos - 2 .. pos + 1): never past the lane's end.
        const __m256i w = _mm256_srli_epi32(
            _mm256_mask_i32gather_epi32(zero, reinterpret_cast<const int*>(data),
                                        _mm256_sub_epi32(vpos, two), need, 1),
            16);
        vx = _mm256_blendv_epi8(vx, _mm256_or_si256(_mm256_slli_epi32(vx, 16), w), need);
        vpos = _mm256_add_epi32(vpos, _mm256_and_si256(need, two));
      }
      const __m256i last = _mm256_i32gather_epi32(f.last.data(), vt, 4);
      const __m256i esc = _mm256_cmpeq_epi32(s, last);
      const __m256i val = _mm256_add_epi32(s, _mm256_i32gather_epi32(f.offset.data(), vt, 4));
      _mm256_store_si256(reinterpret_cast<__m256i*>(out), val);
      if (_mm256_testz_si256(esc, esc)) {
        for (int j = 0; j < 8; ++j) values[size_t(first[j]) + t] = out[j];
      } else {
        // Escapes: finish those lanes' bypass digits with the scalar code, then reload.
        _mm256_store_si256(reinterpret_cast<__m256i*>(x), vx);
        _mm256_store_si256(reinterpret_cast<__m256i*>(pos), vpos);
        _mm256_store_si256(reinterpret_cast<__m256i*>(sym), esc);
        for (int j = 0; j < 8; ++j) {
          const size_t i = size_t(first[j]) + t;
          if (!sym[j]) {
            values[i] = out[j];
            continue;
          }
          LaneDecoder d(data + pos[j], data + end[j], uint32_t(x[j]));
          values[i] = decode_escape(d, tables[table_index[i]]);
          x[j] = int32_t(d.state());
          pos[j] = int32_t(d.pos() - data);
        }
        vx = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
        vpos = _mm256_load_si256(reinterpret_cast<const __m256i*>(pos));
      }
    }
    // The lanes' remaining symbols (at most one more than the shortest lane) and the final
    // checks, with the scalar code.
    _mm256_store_si256(reinterpret_cast<__m256i*>(x), vx);
    _mm256_store_si256(reinterpret_cast<__m256i*>(pos), vpos);
    for (int j = 0; j < 8; ++j) {
      LaneDecoder d(data + pos[j], data + end[j], uint32_t(x[j]));
      for (size_t i = size_t(first[j]) + steps; i < size_t(first[j]) + count[j]; ++i)
        values[i] = decode_value(d, tables[table_index[i]]);
      d.finish();
    }
  }
  // Fewer than 8 lanes left: scalar.
  for (uint32_t k = k0; k < L.lanes; ++k) {
    LaneDecoder d(data + L.offset[k], L.length[k]);
    for (size_t i = lane_begin(n, L.lanes, k); i < lane_begin(n, L.lanes, k + 1); ++i)
      values[i] = decode_value(d, tables[table_index[i]]);
    d.finish();
  }
}

}  // namespace nlc
