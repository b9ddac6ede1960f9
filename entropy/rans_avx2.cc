// AVX2 rANS decoder: 8 lanes advance together, one symbol each per step. Every operation
// mirrors the scalar code (rans_internal.h) exactly, with the same lookup tables as the
// interleaved decoder (DecodeTables); escapes and the lanes' last symbols (lanes differ in
// length by at most one) are finished by the scalar code on the lanes' exported states.
//
// Per step: a gather each for the table ids, the bucket's candidate symbol, the symbol's
// packed range and the value bias, plus one gather per fix-up step (rare: a 256-slot bucket
// spans few symbol boundaries where the probability is), and one masked gather for the
// renormalisation words of the lanes that need one (always issued: whether any lane needs a
// word is a branch the predictor loses).
#include <immintrin.h>

#include "entropy/rans_internal.h"

namespace nlc {

using namespace rans_detail;

bool rans_avx2_available() { return __builtin_cpu_supports("avx2"); }

__attribute__((target("avx2"))) void rans_decode_avx2(const uint8_t* data, size_t size,
                                                      const uint16_t* table_index, size_t n,
                                                      const std::vector<QuantizedCdf>& tables,
                                                      int32_t* values) {
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  LaneLayout L = parse_lanes(data, size);
  check_table_indices(table_index, n, tables.size());
  const DecodeTables T = make_decode_tables(tables);
  if (size > size_t(INT32_MAX) || n > size_t(INT32_MAX) || T.sym.size() > size_t(INT32_MAX) ||
      T.lut.size() > size_t(INT32_MAX)) {  // gathers take 32-bit indices
    decode_lanes_interleaved(data, L, 0, table_index, n, T, tables, values);
    return;
  }
  const int* lut = reinterpret_cast<const int*>(T.lut.data());
  const int* sym = reinterpret_cast<const int*>(T.sym.data());
  const int* bias = reinterpret_cast<const int*>(T.bias.data());
  const int* tid16 = reinterpret_cast<const int*>(table_index);  // read with scale 2, masked

  uint32_t k0 = 0;
  for (; k0 + 8 <= L.lanes; k0 += 8) {
    alignas(32) int32_t x[8], pos[8], end[8], first[8], out[8], esc[8];
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
    // A table id is read as the 4 bytes at its address; keep the last step of the group that
    // reaches the last symbol for the scalar code, so no read passes table_index[n - 1].
    if (steps > 0 && size_t(first[7]) + steps == n) --steps;
    const __m256i vfirst = _mm256_load_si256(reinterpret_cast<const __m256i*>(first));
    const __m256i mask16 = _mm256_set1_epi32(0xFFFF), one = _mm256_set1_epi32(1),
                  two = _mm256_set1_epi32(2), zero = _mm256_setzero_si256(),
                  total = _mm256_set1_epi32(int32_t(kProbTotal));
    // As the interleaved decoder: chunks of steps in which no lane can run out of words, so
    // the renormalisation needs no bounds check; an escape ends its chunk.
    size_t t = 0;
    while (t < steps) {
      size_t room = steps - t;
      for (int g = 0; g < 8; ++g) room = std::min(room, size_t(end[g] - pos[g]) / 2);
      if (room == 0) break;
      const size_t chunk_end = t + room;
      __m256i vx = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
      __m256i vpos = _mm256_load_si256(reinterpret_cast<const __m256i*>(pos));
      bool escaped = false;
      for (; t < chunk_end && !escaped; ++t) {
        const __m256i vi = _mm256_add_epi32(vfirst, _mm256_set1_epi32(int32_t(t)));
        const __m256i vt = _mm256_and_si256(_mm256_i32gather_epi32(tid16, vi, 2), mask16);
        const __m256i slot = _mm256_and_si256(vx, mask16);
        __m256i j = _mm256_i32gather_epi32(
            lut,
            _mm256_add_epi32(_mm256_slli_epi32(vt, kLutBits), _mm256_srli_epi32(slot, 16 - kLutBits)),
            4);
        __m256i e = _mm256_i32gather_epi32(sym, j, 4);
        __m256i start = _mm256_and_si256(e, mask16);
        __m256i stop = _mm256_add_epi32(_mm256_add_epi32(start, _mm256_srli_epi32(e, 16)), one);
        for (;;) {  // while the slot lies at or past the symbol's end: next symbol
          const __m256i inside = _mm256_cmpgt_epi32(stop, slot);  // < 2^17: signed is exact
          const __m256i step = _mm256_xor_si256(inside, _mm256_set1_epi32(-1));
          if (_mm256_testz_si256(step, step)) break;
          j = _mm256_sub_epi32(j, step);  // step is -1 where it applies
          e = _mm256_i32gather_epi32(sym, j, 4);
          start = _mm256_and_si256(e, mask16);
          stop = _mm256_add_epi32(_mm256_add_epi32(start, _mm256_srli_epi32(e, 16)), one);
        }
        const __m256i freq = _mm256_sub_epi32(stop, start);
        // x = freq * (x >> 16) + slot - start   (all in 32 bits, as the scalar code)
        vx = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32(vx, 16)),
                              _mm256_sub_epi32(slot, start));
        // Lanes whose state fell below 2^16 take their next 16-bit word: the 4 bytes ending
        // at the word (pos - 2 .. pos + 1) are read, within the lane inside a chunk.
        const __m256i need = _mm256_cmpeq_epi32(_mm256_srli_epi32(vx, 16), zero);
        const __m256i w = _mm256_srli_epi32(
            _mm256_mask_i32gather_epi32(zero, reinterpret_cast<const int*>(data),
                                        _mm256_sub_epi32(vpos, two), need, 1),
            16);
        vx = _mm256_blendv_epi8(vx, _mm256_or_si256(_mm256_slli_epi32(vx, 16), w), need);
        vpos = _mm256_add_epi32(vpos, _mm256_and_si256(need, two));
        const __m256i is_esc = _mm256_cmpeq_epi32(stop, total);
        const __m256i val = _mm256_add_epi32(j, _mm256_i32gather_epi32(bias, vt, 4));
        _mm256_store_si256(reinterpret_cast<__m256i*>(out), val);
        for (int g = 0; g < 8; ++g) values[size_t(first[g]) + t] = out[g];
        if (!_mm256_testz_si256(is_esc, is_esc)) [[unlikely]] {
          // Escapes: finish those lanes' bypass digits with the scalar code, then reload.
          _mm256_store_si256(reinterpret_cast<__m256i*>(x), vx);
          _mm256_store_si256(reinterpret_cast<__m256i*>(pos), vpos);
          _mm256_store_si256(reinterpret_cast<__m256i*>(esc), is_esc);
          for (int g = 0; g < 8; ++g) {
            if (!esc[g]) continue;
            const size_t i = size_t(first[g]) + t;
            LaneDecoder d(data + pos[g], data + end[g], uint32_t(x[g]));
            values[i] = decode_escape(d, tables[table_index[i]]);
            x[g] = int32_t(d.state());
            pos[g] = int32_t(d.pos() - data);
          }
          vx = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
          vpos = _mm256_load_si256(reinterpret_cast<const __m256i*>(pos));
          escaped = true;
        }
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(x), vx);
      _mm256_store_si256(reinterpret_cast<__m256i*>(pos), vpos);
    }
    for (int g = 0; g < 8; ++g) {
      LaneDecoder d(data + pos[g], data + end[g], uint32_t(x[g]));
      for (size_t i = size_t(first[g]) + t; i < size_t(first[g]) + count[g]; ++i)
        values[i] = decode_value_fast(d, T, tables[table_index[i]], table_index[i]);
      d.finish();
    }
  }
  decode_lanes_interleaved(data, L, k0, table_index, n, T, tables, values);
}

}  // namespace nlc
