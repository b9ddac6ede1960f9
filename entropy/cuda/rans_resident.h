// Internal to the CUDA code (.cu files only): the lane coder on arrays that live where the
// work runs (device memory, or host memory in emulation; kernels/cuda/array.h), for the
// architectures' device pipelines (models/*/cuda/).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "entropy/rans.h"
#include "kernels/cuda/array.h"

namespace nlc::cuda::detail {

// A set of rANS tables where the lanes run: flattened CDFs for the encoder, the lookup
// tables of the fast decoders for the decoder. Built once per table set (rans.cu).
struct RansTables {
  bool gpu = false;
  size_t count = 0;  // tables
  Array<uint32_t> cdf, base, lut, sym, bias;
  Array<int32_t> nsym, offset;
};
std::unique_ptr<RansTables> make_rans_tables(const std::vector<QuantizedCdf>& tables, bool gpu);

// The lane coder on arrays where it runs (values, table_index: device memory on the GPU).
// Table indices must name tables (the callers' come from the integer h_s, whose scale
// indices are checked against the table count once). The stream is in host memory.
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const RansTables& tables, uint32_t lanes);
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const RansTables& tables, int32_t* values);
// Several streams in one launch (all their lanes in parallel): stream j's n symbols take
// their table indices from, and write their values to, [sym_base, sym_base + n) of the
// shared arrays. Returns, per stream, "" or the message the CPU decoder throws for it.
struct LaneStream {
  const uint8_t* data;
  size_t size, n, sym_base;
};
std::vector<std::string> rans_decode_many(const std::vector<LaneStream>& streams,
                                          const uint16_t* table_index, const RansTables& tables,
                                          int32_t* values);

}  // namespace nlc::cuda::detail
