// libFuzzer target: arbitrary bytes into nlc's image reader (the CLI's, the Python binding's
// and the C API's input): PNG, JPEG with its EXIF orientation, PPM/PGM, recognised by content.
// Anything but an image or an ImageError is a finding.
#include <cstddef>
#include <cstdint>

#include "nlc/errors.h"
#include "nlc/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nlc::Image img = nlc::decode_image(data, size, "fuzz");
    if (img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels)) __builtin_trap();
    if (img.channels != 1 && img.channels != 3) __builtin_trap();
  } catch (const nlc::ImageError&) {
  }
  return 0;
}
