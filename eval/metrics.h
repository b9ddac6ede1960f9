// Image quality metrics for `nlc eval`, on 8-bit images as a viewer sees them.
#pragma once

#include "nlc/image.h"

namespace nlc::eval {

// PSNR-RGB is nlc::psnr (nlc/image.h), the library's one definition.

// MS-SSIM (Wang, Simoncelli, Bovik 2003) as the learned-compression literature computes it
// (pytorch_msssim, used by CompressAI): per channel, Gaussian window 11 / sigma 1.5 applied
// without padding, K = (0.01, 0.03), data range 255, 5 scales with weights (0.0448, 0.2856,
// 0.3001, 0.2363, 0.1333), 2x2 average pooling between scales (zero padding on odd sizes,
// counted in the average), negative terms clipped to 0; the mean over channels.
// Needs both sides > 160 pixels (the window must fit at the coarsest scale); returns NaN for
// smaller images.
double ms_ssim(const Image& ref, const Image& test);
inline constexpr int kMsSsimMinSide = 161;

}  // namespace nlc::eval
