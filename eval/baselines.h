// The codecs `nlc eval` measures nlc against, each through its own library (never a CLI):
//   jpeg      libjpeg-turbo (TurboJPEG API), 4:2:0, accurate DCT, quality 5 .. 95
//   webp      libwebp, lossy, method 6 (slowest, best), quality 0 .. 95
//   avif      libavif with libaom, YUV 4:4:4 8-bit, speed 6, quantizer 58 .. 10 (of 63)
//   jpeg2000  OpenJPEG, J2K codestream, irreversible 9/7 wavelet with colour transform,
//             one quality layer at compression ratios for 0.1 .. 2 bpp
// All take and return 8-bit RGB images; the settings are the libraries' recommended
// quality-oriented ones, fixed here so that every run measures the same thing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nlc/image.h"

namespace nlc::eval {

struct Baseline {
  std::string name;     // as given to --baselines
  std::string library;  // library and version, for the report
  std::string setting;  // what the quality numbers mean
  std::vector<double> qualities;  // the default sweep, low rate to high
  std::function<std::vector<uint8_t>(const Image& rgb, double quality)> encode;
  std::function<Image(const std::vector<uint8_t>& bytes)> decode;
};

std::vector<std::string> baseline_names();  // jpeg, webp, avif, jpeg2000
// Throws std::invalid_argument for a name that is not one of baseline_names().
Baseline make_baseline(const std::string& name);

}  // namespace nlc::eval
