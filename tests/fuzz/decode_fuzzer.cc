// libFuzzer target: arbitrary bytes into the stream decoder (container, lane layout, rANS,
// integer h_s, synthesis) with the small test model. Any outcome but a clean result or a
// StreamError is a finding (ASan/UBSan abort on memory errors and undefined behaviour).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "nlc/codec.h"

#ifndef NLC_FUZZ_MODEL
#error "NLC_FUZZ_MODEL must name the model file"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<nlc::Decoder> dec = std::make_unique<nlc::Decoder>(NLC_FUZZ_MODEL);
  try {
    nlc::Image img = dec->decode(data, size);
    (void)img;
  } catch (const nlc::StreamError&) {
  }
  return 0;
}
