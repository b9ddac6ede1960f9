// libFuzzer target: arbitrary bytes as a model file (.nlcm): header, zstd payload, tensor
// table, then the architecture built from it (shapes, the integer h_s's no-overflow proof),
// or, for a classifier (classifier-v1), the network, run once on a small input (twice,
// mirrored, with flip_average), and its description.
// Anything but a loaded model or a ModelError is a finding. The fuzzing build does not check
// the header CRC (bitstream/crc32c.h), so mutations reach what lies behind it.
#include <cstddef>
#include <cstdint>

#include "models/architecture.h"
#include "models/classifier/classifier.h"
#include "models/nlcm.h"
#include "nlc/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nlc::ModelFile f = nlc::parse_model_file(data, size, "fuzz.nlcm");
    if (f.arch == nlc::LatentClassifier::kArch) {
      nlc::LatentClassifier c(f, nlc::Kernels::kReference);
      const std::vector<float> logits = c.logits(nlc::Tensor(1, 3, 2, c.input_channels()));
      if (logits.size() != c.classes().size() || c.describe().empty()) __builtin_trap();
    } else {
      auto arch = nlc::load_architecture(f, nlc::Kernels::kOptimized);
      (void)arch;
    }
  } catch (const nlc::ModelError&) {
  }
  return 0;
}
