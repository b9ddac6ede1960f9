// Results of `nlc eval` and their files: JSON (full), CSV (one row per image and point, plus
// averages) and an SVG rate-distortion plot.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace nlc::eval {

struct Sample {  // one image at one quality
  std::string image;
  double quality = 0;
  size_t bytes = 0;
  double bpp = 0, psnr = 0, ms_ssim = 0, encode_ms = 0, decode_ms = 0;
};

struct Curve {  // one codec; the averages are over images, per quality, in `quality` order
  std::string name, library, setting;
  bool published = false;  // a published curve (not measured in this run)
  std::vector<double> quality, bpp, psnr, ms_ssim, encode_ms, decode_ms;
  std::vector<Sample> samples;
};

struct Report {
  std::string date, machine, label, dataset, model;
  size_t images = 0;
  std::vector<Curve> curves;                    // measured: nlc first, then the baselines
  std::vector<Curve> published;                 // drawn dashed, BD-rates against them too
  std::map<std::string, std::string> bd_rate;   // anchor name -> "-12.3" or why not computed
};

// Fills the per-quality averages of a measured curve from its samples.
void average(Curve& c);

std::string to_json(const Report& r);
std::string to_csv(const Report& r);
std::string to_svg(const Report& r);

// Reads published curves: {"name": {"bpp": [...], "psnr_rgb": [...]}, ...} (other keys
// ignored). Throws std::runtime_error on malformed JSON.
std::vector<Curve> read_published(const std::string& json_text);

}  // namespace nlc::eval
