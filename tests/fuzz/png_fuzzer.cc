// libFuzzer target: arbitrary bytes into nlc's PNG reader (the CLI's, the C API's and the
// FFmpeg-free tools' input). Anything but an image or an ImageError is a finding.
#include <cstddef>
#include <cstdint>

#include "nlc/errors.h"
#include "nlc/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nlc::Image img = nlc::decode_png(data, size, "fuzz.png");
    if (img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels)) __builtin_trap();
  } catch (const nlc::ImageError&) {
  }
  return 0;
}
