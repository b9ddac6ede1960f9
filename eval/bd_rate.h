// Bjøntegaard delta rate (VCEG-M33): the average rate difference, in percent, of a test
// codec against an anchor at equal PSNR. Each curve's log(rate) is fitted by a cubic in
// PSNR (least squares), both fits are integrated over the PSNR range the curves share, and
// the mean difference d gives (e^d - 1) * 100. Negative: the test codec needs fewer bits.
// This is the "cubic fit, overlapping PSNR range" form the published Kodak figures use.
#pragma once

#include <vector>

namespace nlc::eval {

// Throws std::invalid_argument with fewer than 4 points per curve, non-positive rates, or
// curves whose PSNR ranges do not overlap.
double bd_rate(const std::vector<double>& anchor_bpp, const std::vector<double>& anchor_psnr,
               const std::vector<double>& test_bpp, const std::vector<double>& test_psnr);

}  // namespace nlc::eval
