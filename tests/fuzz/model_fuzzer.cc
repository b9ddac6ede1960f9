// libFuzzer target: arbitrary bytes as a model file (.nlcm): header, zstd payload, tensor
// table, then the architecture built from it (shapes, the integer h_s's no-overflow proof).
// Anything but a loaded model or a ModelError is a finding. The fuzzing build does not check
// the header CRC (bitstream/crc32c.h), so mutations reach what lies behind it.
#include <cstddef>
#include <cstdint>

#include "models/architecture.h"
#include "models/nlcm.h"
#include "nlc/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nlc::ModelFile f = nlc::parse_model_file(data, size, "fuzz.nlcm");
    auto arch = nlc::load_architecture(f, nlc::Kernels::kOptimized);
    (void)arch;
  } catch (const nlc::ModelError&) {
  }
  return 0;
}
