// Internal to the hyperprior's CUDA code (.cu files only): the integer h_s on arrays that
// live where the work runs (device memory, or host memory in emulation), for the tile
// pipeline (tile.cu).
#pragma once

#include <memory>
#include <vector>

#include "kernels/cuda/array.h"
#include "models/mshp/integer_hs.h"

namespace nlc::cuda::detail {

// The integer h_s on arrays where it runs: `in` = IntegerHyperSynthesis::input of z_hat
// ([n,h,w,N]); writes mu_q and the scale index as a table index ([n,4h,4w,M]); sigma_q
// when not null. `weights`: the model's integer weights where it runs (IntegerHsWeights).
struct IntegerHsWeights {
  bool gpu = false;
  std::vector<Array<int32_t>> weight, bias, mul;
  Array<int32_t> thresholds;
};
std::unique_ptr<IntegerHsWeights> make_integer_hs_weights(const IntegerHyperSynthesis& model,
                                                          bool gpu);
// Output geometry for an input of h x w.
void integer_hs_output_size(const IntegerHyperSynthesis& model, int h, int w, int& oh, int& ow);
void integer_hs(const IntegerHyperSynthesis& model, const IntegerHsWeights& weights,
                const int32_t* in, int n, int h, int w, int32_t* mu_q, int32_t* sigma_q,
                uint16_t* table_index);
// The same, with the scale index as IntegerHyperSynthesis::Output holds it.
void integer_hs(const IntegerHyperSynthesis& model, const IntegerHsWeights& weights,
                const int32_t* in, int n, int h, int w, int32_t* mu_q, int32_t* sigma_q,
                uint8_t* index);

}  // namespace nlc::cuda::detail
