// libFuzzer target: the C API with parameters taken from the input. Byte 0 picks the call:
//   even: the rest is a stream for nlc_decode and nlc_decode_latent, under limits taken from
//         byte 1 (none, or a small pixel limit);
//   odd:  bytes 1..5 give width (1..64), height (1..64), channels (0..4: 1 and 3 are valid),
//         a row stride (packed, +1 or -1 byte) and a quality (0 .. 10.2, above 5 invalid); the
//         rest are the pixels (only called when there are enough of them, as the API asks);
//         a stream the encoder returns must decode to the same size.
// Any status is fine; a crash, a sanitizer report or a stream that does not round-trip is a
// finding.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nlc/nlc.h"

#ifndef NLC_FUZZ_MODEL
#error "NLC_FUZZ_MODEL must name the model file"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nlc_encoder* enc = [] {
    nlc_encoder* e = nullptr;
    if (nlc_encoder_create(NLC_FUZZ_MODEL, &e) != NLC_OK) __builtin_trap();
    return e;
  }();
  static nlc_decoder* dec = [] {
    nlc_decoder* d = nullptr;
    if (nlc_decoder_create(NLC_FUZZ_MODEL, &d) != NLC_OK) __builtin_trap();
    return d;
  }();
  if (size < 2) return 0;
  if ((data[0] & 1) == 0) {
    nlc_decoder_set_limits(dec, (data[1] & 1) ? 1000 : 0, 0);
    uint8_t* px = nullptr;
    int w = 0, h = 0, c = 0;
    if (nlc_decode(dec, data + 2, size - 2, &px, &w, &h, &c) == NLC_OK) nlc_free(px);
    float* lat = nullptr;
    int lh = 0, lw = 0, lc = 0, ls = 0;
    double q = 0;
    if (nlc_decode_latent(dec, data + 2, size - 2, &lat, &lh, &lw, &lc, &ls, &q) == NLC_OK) nlc_free(lat);
    return 0;
  }
  if (size < 6) return 0;
  const int w = 1 + data[1] % 64, h = 1 + data[2] % 64, ch = data[3] % 5;
  const int stride = w * (ch ? ch : 1) + (data[4] % 3) - 1;
  const double quality = data[5] / 25.0;
  const uint8_t* px = data + 6;
  if (stride < 0 || size - 6 < size_t(stride) * size_t(h)) return 0;
  uint8_t* s = nullptr;
  size_t n = 0;
  if (nlc_encode(enc, px, w, h, ch, stride, quality, &s, &n) != NLC_OK) return 0;
  nlc_decoder_set_limits(dec, 0, 0);
  uint8_t* out = nullptr;
  int ow = 0, oh = 0, oc = 0;
  if (nlc_decode(dec, s, n, &out, &ow, &oh, &oc) != NLC_OK || ow != w || oh != h || oc != ch) __builtin_trap();
  nlc_free(out);
  nlc_free(s);
  return 0;
}
