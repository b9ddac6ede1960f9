// libFuzzer target: the three rANS decoders against each other (differential). The input
// chooses the tables (a few quantised pmfs with escapes), the symbol count and which table
// each symbol uses, then either
//   mode 0: gives its remaining bytes to the decoders as a lane stream, or
//   mode 1: encodes values taken from its remaining bytes (any lane count, escapes included)
//           and flips at most one bit of the result,
// and every decoder (the scalar reference, the interleaved one and AVX2 where the CPU has it)
// must agree: the same values, or a StreamError from each. In mode 1 without a flip, the
// values must also be the ones encoded. Any disagreement is a finding (__builtin_trap).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "entropy/rans.h"

namespace {

struct Input {
  const uint8_t* p;
  size_t n;
  uint32_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint32_t u16() { return byte() | byte() << 8; }
};

// Runs one decoder: true and the values, or false if it refused the stream.
bool run(void (*decode)(const uint8_t*, size_t, const uint16_t*, size_t, const std::vector<nlc::QuantizedCdf>&,
                        int32_t*),
         const std::vector<uint8_t>& s, const std::vector<uint16_t>& index, const std::vector<nlc::QuantizedCdf>& t,
         std::vector<int32_t>& out) {
  out.assign(index.size(), 0);
  try {
    decode(s.data(), s.size(), index.data(), index.size(), t, out.data());
    return true;
  } catch (const nlc::StreamError&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  const uint32_t mode = in.byte() & 1;
  const uint32_t tables = 1 + in.byte() % 4;
  std::vector<nlc::QuantizedCdf> t;
  for (uint32_t k = 0; k < tables; ++k) {
    const uint32_t symbols = 1 + in.byte() % 24;
    std::vector<double> pmf(symbols);
    for (double& w : pmf) w = double(in.byte()) + (in.byte() % 4 == 0 ? 0.0 : 0.5);
    pmf[0] += 1;  // not all zero
    const int32_t offset = int32_t(in.byte()) - 128;
    t.push_back(nlc::quantize_pmf(pmf, 1.0 + in.byte() % 8, offset));
  }
  const size_t n = in.u16() % 3000;
  std::vector<uint16_t> index(n);
  const uint32_t pattern = in.byte();
  for (size_t i = 0; i < n; ++i) index[i] = uint16_t((pattern & 1 ? i * 7 + (i >> 3) : i / 97) % tables);
  std::vector<uint8_t> stream;
  std::vector<int32_t> values(n);
  bool flipped = false;
  if (mode == 0) {
    stream.assign(in.p, in.p + in.n);
  } else {
    const uint32_t lanes = 1 + in.byte() % 64;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t b = in.byte();
      // mostly in range, sometimes far out of it (escapes), up to the int32 extremes
      values[i] = b < 240 ? int32_t(b % 30) - 12 + t[index[i]].offset
                          : (b & 1 ? INT32_MAX - int32_t(b) : INT32_MIN + int32_t(b)) / int32_t(1 + in.byte());
    }
    stream = nlc::rans_encode(values.data(), index.data(), n, t, lanes);
    const uint32_t flip = in.u16();
    if (!stream.empty() && (flip & 0x8000)) {
      stream[(flip & 0x7fff) % stream.size()] ^= uint8_t(1u << (flip % 8));
      flipped = true;
    }
  }
  std::vector<int32_t> ref, other;
  const bool ok = run(nlc::rans_decode_scalar, stream, index, t, ref);
  if (mode == 1 && !flipped && (!ok || ref != values)) __builtin_trap();  // round trip
  if (run(nlc::rans_decode_interleaved, stream, index, t, other) != ok || (ok && other != ref)) __builtin_trap();
  if (nlc::rans_avx2_available() &&
      (run(nlc::rans_decode_avx2, stream, index, t, other) != ok || (ok && other != ref)))
    __builtin_trap();
  return 0;
}
