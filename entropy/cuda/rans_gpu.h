// The lane-parallel rANS coder on the GPU (built with the CUDA path): the same streams as
// nlc::rans_encode and the same values (or the same StreamError) as nlc::rans_decode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "entropy/rans.h"

namespace nlc::cuda {

// One stream to decode: its bytes, its n symbols' table indices, where the values go.
struct RansDecodeJob {
  const uint8_t* data;
  size_t size;
  const uint16_t* table_index;
  size_t n;
  int32_t* values;
};

// rANS on the GPU, one thread per lane: the same streams as nlc::rans_encode and the same
// values (or the same StreamError) as nlc::rans_decode, for any input. Throws
// std::runtime_error when no device is usable.
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes);
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values);
// Many streams sharing one set of tables in one launch (all their lanes in parallel: the
// way to keep a GPU busy, since one image has few lanes). A bad stream throws StreamError
// naming it ("stream j: ...").
void rans_decode_batch(const std::vector<RansDecodeJob>& jobs,
                       const std::vector<QuantizedCdf>& tables);

// The same per-lane and per-element functions the kernels run, run in loops on the CPU:
// lets machines without a GPU (CI) test the kernels' arithmetic; the CUDA tests check the
// kernels themselves.
namespace host_emulation {
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes);
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values);
// Many streams sharing one set of tables in one launch (all their lanes in parallel: the
// way to keep a GPU busy, since one image has few lanes). A bad stream throws StreamError
// naming it ("stream j: ...").
void rans_decode_batch(const std::vector<RansDecodeJob>& jobs,
                       const std::vector<QuantizedCdf>& tables);
}  // namespace host_emulation

}  // namespace nlc::cuda
