// `nlc eval`: rate-distortion of nlc and of the baseline codecs on a folder of PNGs, every
// point measured from real coded bytes in the same run (README, "Evaluation").
#pragma once

#include <string>
#include <vector>

#include "nlc/codec.h"

namespace nlc::eval {

struct Options {
  std::string dir;                  // folder of .png images (all of them, sorted by name)
  std::string out_dir = "nlc-eval";  // report.json, report.csv, rd.svg, streams/
  std::string model;                // .nlcm; empty: the default model
  std::string codec;                // "": the model's codec; "inr": fitted per image
  int effort = kDefaultEffort;      // with codec "inr": 0 .. kMaxEffort
  // The nlc curve with the CLC model (`model`, default the bundled CLC model), and beside it
  // the same transforms without the reference (the default model), for the BD-rate of CLC.
  bool clc = false;
  std::vector<double> qualities;    // nlc qualities; empty: 0, 1, ..., the model's maximum
  std::vector<std::string> baselines;  // jpeg, webp, avif, jpeg2000
  std::string published;  // optional JSON of published curves {"name": {"bpp": [], "psnr_rgb": []}}
  std::string label;      // free text for the report (e.g. the commit)
  size_t limit = 0;       // use only the first N images (0: all)
  bool progress = true;   // per-image progress on stderr
};

// Runs the evaluation, writes the report files and prints a summary table; returns 0.
// Throws on unreadable images, a bad model or an unknown baseline.
int run(const Options& options);

}  // namespace nlc::eval
