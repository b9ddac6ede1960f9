// libFuzzer target: arbitrary bytes into the stream decoder (container, lane layout, rANS,
// integer h_s, the CLC reference and branch, synthesis) with the small test models: tiny.nlcm,
// and tiny-clc.nlcm for streams whose header names it. Any outcome but a clean result or a
// StreamError is a finding (ASan/UBSan abort on memory errors and undefined behaviour).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "nlc/codec.h"

#if !defined(NLC_FUZZ_MODEL) || !defined(NLC_FUZZ_CLC_MODEL)
#error "NLC_FUZZ_MODEL and NLC_FUZZ_CLC_MODEL must name the model files"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<nlc::Decoder> dec = std::make_unique<nlc::Decoder>(NLC_FUZZ_MODEL);
  static std::unique_ptr<nlc::Decoder> clc = std::make_unique<nlc::Decoder>(NLC_FUZZ_CLC_MODEL);
  // The model identity sits at bytes 8..39 of a stream (docs/bitstream.md).
  bool is_clc = size >= 40;
  for (size_t i = 0; is_clc && i < 32; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", data[8 + i]);
    is_clc = clc->model_identity().compare(2 * i, 2, hex) == 0;
  }
  try {
    nlc::Image img = (is_clc ? clc : dec)->decode(data, size);
    (void)img;
  } catch (const nlc::StreamError&) {
  }
  return 0;
}
