// Lane-parallel rANS on the GPU: one thread per lane, the same arithmetic as the CPU coder
// (entropy/rans.cc, entropy/rans_internal.h), so streams are byte-identical both ways.
//
// Encode runs twice over each lane: the first pass counts the lane's renormalisation words
// (so every lane's byte offset is known: a prefix sum on the host), the second writes them.
// rANS encodes backwards and the decoder reads forwards, so the second pass writes each
// lane from its end towards its start, with the final state in the lane's first 4 bytes.
// Decode validates the lane table on the host (parse_lanes), then each thread decodes its
// lane with the 256-bucket lookup of the CPU's fast decoders and reports any inconsistency
// as an error code, which the host turns into the same StreamError the CPU would throw.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <string>

#include "entropy/rans_internal.h"
#include "kernels/cuda/check.h"
#include "entropy/cuda/rans_gpu.h"
#include "entropy/cuda/rans_resident.h"
#include "kernels/cuda/cuda.h"

namespace nlc::cuda {
namespace {

using namespace nlc::rans_detail;

// A read of data no thread writes during the launch (tables, table indices, stream bytes):
// through the read-only data cache on the device.
template <class T>
__host__ __device__ inline T ro(const T* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  return *p;
#endif
}

// Threads per block for the lane kernels: a warp. A stream has few lanes (one per 16,384
// symbols), each a long serial chain of dependent loads; one-warp blocks spread them over
// as many multiprocessors (and their L1 caches) as there are warps, instead of packing
// them into a few.
constexpr unsigned kLaneThreads = 32;

__host__ __device__ unsigned long long lane_start(unsigned long long n, unsigned lanes, unsigned k) {
  return n * k / lanes;  // n <= 2^40, k <= 2^20: no overflow
}

// ---- encoder ---------------------------------------------------------------------------

struct Op {
  uint32_t start, freq;
};

// A value's coding steps in coding order (as append_value in entropy/rans.cc): the symbol,
// and for an escape the chunk count in unary groups of 15 and the 4-bit chunks.
__host__ __device__ int value_ops(int32_t v, const uint32_t* cdf, int32_t n, int32_t offset, Op* ops) {
  const long long idx = (long long)v - offset;
  if (idx >= 0 && idx < n - 1) {
    ops[0] = {cdf[idx], cdf[idx + 1] - cdf[idx]};
    return 1;
  }
  int k = 0;
  ops[k++] = {cdf[n - 1], cdf[n] - cdf[n - 1]};
  const unsigned long long raw = idx < 0 ? (unsigned long long)(-2 * idx - 1)
                                         : (unsigned long long)(2 * (idx - (n - 1)));
  uint32_t chunks = 0;
  while (chunks < 16 && (raw >> (kBypassBits * chunks)) != 0) ++chunks;
  for (uint32_t c = chunks;; c -= kBypassMax) {
    const uint32_t sym = c < kBypassMax ? c : kBypassMax;
    ops[k++] = {sym * kBypassFreq, kBypassFreq};
    if (c < kBypassMax) break;
  }
  for (uint32_t c = 0; c < chunks; ++c)
    ops[k++] = {(uint32_t(raw >> (kBypassBits * c)) & kBypassMax) * kBypassFreq, kBypassFreq};
  return k;
}

struct EncodeArgs {
  const int32_t* values;
  const uint16_t* tid;
  unsigned long long n;
  unsigned lanes;
  const uint32_t *cdf, *base;
  const int32_t *nsym, *offset;
  uint32_t* words;                      // first pass: each lane's word count
  uint8_t* out;                         // second pass: the stream (lane table already filled)
  const unsigned long long* lane_pos;   // second pass: lane k's bytes are [pos[k], pos[k + 1])
};

// Lane k, backwards. First pass (out == nullptr): count its words. Second pass: write them
// downwards from the lane's end, then the final state at its start.
__host__ __device__ void encode_lane(unsigned k, const EncodeArgs& a) {
  const unsigned long long first = lane_start(a.n, a.lanes, k), last = lane_start(a.n, a.lanes, k + 1);
  uint8_t* w = a.out ? a.out + a.lane_pos[k + 1] : nullptr;
  uint32_t count = 0, x = kStateLower;
  Op ops[24];  // a value takes at most 1 + 2 + 16 steps
  for (unsigned long long i = last; i-- > first;) {
    const uint32_t t = ro(a.tid + i);
    const int m = value_ops(ro(a.values + i), a.cdf + ro(a.base + t), ro(a.nsym + t), ro(a.offset + t), ops);
    for (int j = m; j-- > 0;) {
      const Op op = ops[j];
      if ((unsigned long long)x >= ((unsigned long long)op.freq << 16)) {
        if (w) {
          w -= 2;
          w[0] = uint8_t(x & 0xFF);
          w[1] = uint8_t((x >> 8) & 0xFF);
        }
        ++count;
        x >>= 16;
      }
      x = ((x / op.freq) << kPrecisionBits) + (x % op.freq) + op.start;
    }
  }
  if (a.out) {
    uint8_t* s = a.out + a.lane_pos[k];
    for (int b = 0; b < 4; ++b) s[b] = uint8_t(x >> (8 * b));
  } else {
    a.words[k] = count;
  }
}

__global__ void encode_kernel(EncodeArgs a) {
  const unsigned k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k < a.lanes) encode_lane(k, a);
}

// ---- decoder ---------------------------------------------------------------------------

enum LaneError : int { kOk = 0, kBadState, kEndsEarly, kLongEscape, kEscapeRange, kNotClean };

struct Lane {
  const uint8_t* p;
  const uint8_t* end;
  uint32_t x;
  int error;
  __host__ __device__ bool advance(uint32_t start, uint32_t freq) {
    x = freq * (x >> kPrecisionBits) + (x & (kProbTotal - 1)) - start;
    if (x < kStateLower) {
      if (end - p < 2) return error = kEndsEarly, false;
      x = (x << 16) | uint32_t(ro(p)) | uint32_t(ro(p + 1)) << 8;
      p += 2;
    }
    return true;
  }
  __host__ __device__ uint32_t bypass() {
    const uint32_t sym = (x & (kProbTotal - 1)) / kBypassFreq;
    advance(sym * kBypassFreq, kBypassFreq);
    return sym;
  }
};

// As decode_escape (entropy/rans_internal.h).
__host__ __device__ bool decode_escape(Lane& d, int32_t n, int32_t offset, int32_t* value) {
  uint32_t chunks = 0;
  for (;;) {
    const uint32_t c = d.bypass();
    if (d.error) return false;
    chunks += c;
    if (c < kBypassMax) break;
    if (chunks > rans_detail::kMaxEscapeChunks) return d.error = kLongEscape, false;
  }
  if (chunks > rans_detail::kMaxEscapeChunks) return d.error = kLongEscape, false;
  unsigned long long raw = 0;
  for (uint32_t c = 0; c < chunks; ++c) {
    raw |= (unsigned long long)d.bypass() << (kBypassBits * c);
    if (d.error) return false;
  }
  const long long idx = (raw & 1) ? -(long long)((raw + 1) / 2) : (long long)(raw / 2) + (n - 1);
  const long long v = idx + offset;
  if (v < INT32_MIN || v > INT32_MAX) return d.error = kEscapeRange, false;
  *value = int32_t(v);
  return true;
}

struct DecodeArgs {
  const uint8_t* data;                           // every stream's lanes, concatenated
  const unsigned long long *lane_off, *lane_len;  // lane k's bytes in data
  const unsigned long long *sym_begin, *sym_end;  // lane k's symbols in tid and values
  const uint16_t* tid;
  unsigned lanes;                                 // lanes of all streams together
  const uint32_t *lut, *sym, *bias;
  const int32_t *nsym, *offset;
  int32_t* values;
  int* errors;  // per lane: a LaneError
};

__host__ __device__ void decode_lane(unsigned k, const DecodeArgs& a) {
  const uint8_t* p = a.data + a.lane_off[k];
  Lane d{p + 4, p + a.lane_len[k], 0, kOk};
  d.x = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  if (d.x < kStateLower) {
    a.errors[k] = kBadState;
    return;
  }
  for (unsigned long long i = a.sym_begin[k]; i < a.sym_end[k]; ++i) {
    const uint32_t t = ro(a.tid + i);
    const uint32_t slot = d.x & (kProbTotal - 1);
    uint32_t j = ro(a.lut + (t << kLutBits) + (slot >> (16 - kLutBits)));
    uint32_t e = ro(a.sym + j);
    while ((e & 0xFFFF) + (e >> 16) + 1 <= slot) e = ro(a.sym + (++j));
    const uint32_t start = e & 0xFFFF, stop = start + (e >> 16) + 1;
    if (!d.advance(start, stop - start)) break;
    if (stop != kProbTotal) {
      a.values[i] = int32_t(j + ro(a.bias + t));
    } else if (!decode_escape(d, ro(a.nsym + t), ro(a.offset + t), &a.values[i])) {
      break;
    }
  }
  if (!d.error && (d.p != d.end || d.x != kStateLower)) d.error = kNotClean;
  a.errors[k] = d.error;
}

__global__ void decode_kernel(DecodeArgs a) {
  const unsigned k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k < a.lanes) decode_lane(k, a);
}

// A lane's error as the CPU decoder words it (null for kOk).
const char* lane_error_text(int e) {
  switch (e) {
    case kOk: return nullptr;
    case kBadState: return "entropy-coded lane has an invalid initial state";
    case kEndsEarly: return "entropy-coded lane ends early (truncated or corrupt)";
    case kLongEscape: return "escape-coded value is too long (corrupt stream)";
    case kEscapeRange: return "escape-coded value out of range";
    default: return "entropy-coded lane does not end cleanly (corrupt stream)";
  }
}

// The first failing lane's error as a StreamError; `prefix` names the stream.
void throw_lane_error(int e, const std::string& prefix) {
  if (const char* text = lane_error_text(e)) throw StreamError(prefix + text);
}

void check_inputs(const uint16_t* table_index, size_t n, const std::vector<QuantizedCdf>& tables,
                  bool gpu) {
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  for (const auto& t : tables) t.validate();
  check_table_indices(table_index, n, tables.size());
  if (gpu && !available()) throw std::runtime_error("no usable CUDA device");
}

unsigned blocks(unsigned lanes, unsigned threads) { return (lanes + threads - 1) / threads; }

// Lanes of one or more streams laid end to end, as the decoder reads them.
struct LaneSet {
  std::vector<uint8_t> data;
  std::vector<unsigned long long> off, len, sym_begin, sym_end;
};

// Appends a stream's lanes (checked as the CPU decoder checks them), its symbols starting
// at sym_base. Returns the number of lanes added.
size_t add_stream(LaneSet& L, const uint8_t* data, size_t size, size_t n, unsigned long long sym_base) {
  const LaneLayout layout = parse_lanes(data, size);  // the CPU decoder's checks and messages
  const unsigned long long base = L.data.size();
  for (uint32_t k = 0; k < layout.lanes; ++k) {
    L.off.push_back(base + layout.offset[k]);
    L.len.push_back(layout.length[k]);
    L.sym_begin.push_back(sym_base + lane_begin(n, layout.lanes, k));
    L.sym_end.push_back(sym_base + lane_begin(n, layout.lanes, k + 1));
  }
  L.data.insert(L.data.end(), data, data + size);
  return layout.lanes;
}

// Decodes every lane of L into `values` (indexed by the lanes' symbol ranges, table
// indices from `tid`; both where T lives). Returns each lane's LaneError.
std::vector<int> decode_lanes(const LaneSet& L, const uint16_t* tid, const detail::RansTables& T,
                              int32_t* values) {
  if (L.off.size() > UINT32_MAX) throw std::invalid_argument("too many lanes");
  const unsigned lanes = unsigned(L.off.size());
  std::vector<int> errors(lanes);
  if (!lanes) return errors;
  const bool gpu = T.gpu;
  detail::Array<uint8_t> data(L.data.data(), L.data.size(), gpu);
  detail::Array<unsigned long long> off(L.off.data(), lanes, gpu), len(L.len.data(), lanes, gpu),
      sb(L.sym_begin.data(), lanes, gpu), se(L.sym_end.data(), lanes, gpu);
  detail::Array<int> err(lanes, gpu);
  DecodeArgs d{data.get(), off.get(), len.get(), sb.get(), se.get(), tid, lanes, T.lut.get(),
               T.sym.get(), T.bias.get(), T.nsym.get(), T.offset.get(), values, err.get()};
  if (gpu) {
    decode_kernel<<<blocks(lanes, kLaneThreads), kLaneThreads>>>(d);
    NLC_CUDA_CHECK(cudaGetLastError());
  } else {
    for (uint32_t k = 0; k < lanes; ++k) decode_lane(k, d);
  }
  err.download(errors.data(), 0, lanes);
  return errors;
}

// Both directions run the lane functions either as CUDA kernels (one thread per lane) or,
// for host_emulation (tests of the kernels' logic on machines without a GPU), in a loop here.
std::vector<uint8_t> encode(const int32_t* values, const uint16_t* table_index, size_t n,
                            const std::vector<QuantizedCdf>& tables, uint32_t lanes, bool gpu) {
  if (lanes == 0 || lanes > (1u << 20)) throw std::invalid_argument("lane count out of range");
  check_inputs(table_index, n, tables, gpu);
  const auto T = detail::make_rans_tables(tables, gpu);
  const detail::Array<int32_t> v(values, n, gpu);
  const detail::Array<uint16_t> t(table_index, n, gpu);
  return detail::rans_encode(v.get(), t.get(), n, *T, lanes);
}

// Any number of streams (sharing one set of tables) in one launch: their lanes are laid end
// to end, so the GPU has as many threads as all streams have lanes.
void decode(const std::vector<RansDecodeJob>& jobs, const std::vector<QuantizedCdf>& tables,
            bool gpu) {
  for (const auto& t : tables) t.validate();
  if (gpu && !available()) throw std::runtime_error("no usable CUDA device");
  LaneSet L;
  std::vector<uint16_t> tid;
  std::vector<size_t> first_lane;  // of each job
  const bool single = jobs.size() == 1;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const RansDecodeJob& job = jobs[j];
    if (job.n > kMaxSymbols) throw std::invalid_argument("too many symbols");
    check_table_indices(job.table_index, job.n, tables.size());
    first_lane.push_back(L.off.size());
    try {
      add_stream(L, job.data, job.size, job.n, tid.size());
    } catch (const StreamError& e) {
      throw StreamError(single ? e.what() : "stream " + std::to_string(j) + ": " + e.what());
    }
    tid.insert(tid.end(), job.table_index, job.table_index + job.n);
  }
  const auto T = detail::make_rans_tables(tables, gpu);
  const detail::Array<uint16_t> dtid(tid.data(), tid.size(), gpu);
  detail::Array<int32_t> dvalues(tid.size(), gpu);
  const std::vector<int> errors = decode_lanes(L, dtid.get(), *T, dvalues.get());
  const std::vector<int32_t> values = dvalues.to_vector();
  size_t sym = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const size_t end_lane = j + 1 < jobs.size() ? first_lane[j + 1] : errors.size();
    for (size_t k = first_lane[j]; k < end_lane; ++k)
      throw_lane_error(errors[k], single ? "" : "stream " + std::to_string(j) + ": ");
    std::copy(values.begin() + long(sym), values.begin() + long(sym + jobs[j].n), jobs[j].values);
    sym += jobs[j].n;
  }
}

}  // namespace

namespace detail {

std::unique_ptr<RansTables> make_rans_tables(const std::vector<QuantizedCdf>& tables, bool gpu) {
  for (const auto& t : tables) t.validate();
  if (gpu && !available()) throw std::runtime_error("no usable CUDA device");
  std::vector<uint32_t> cdf, base;
  std::vector<int32_t> nsym, offset;
  for (const auto& t : tables) {
    base.push_back(uint32_t(cdf.size()));
    nsym.push_back(t.num_symbols());
    offset.push_back(t.offset);
    cdf.insert(cdf.end(), t.cdf.begin(), t.cdf.end());
  }
  const DecodeTables D = make_decode_tables(tables);
  auto T = std::make_unique<RansTables>();
  T->gpu = gpu;
  T->count = tables.size();
  T->cdf = Array<uint32_t>(cdf.data(), cdf.size(), gpu);
  T->base = Array<uint32_t>(base.data(), base.size(), gpu);
  T->nsym = Array<int32_t>(nsym.data(), nsym.size(), gpu);
  T->offset = Array<int32_t>(offset.data(), offset.size(), gpu);
  T->lut = Array<uint32_t>(D.lut.data(), D.lut.size(), gpu);
  T->sym = Array<uint32_t>(D.sym.data(), D.sym.size(), gpu);
  T->bias = Array<uint32_t>(D.bias.data(), D.bias.size(), gpu);
  return T;
}

std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const RansTables& T, uint32_t lanes) {
  if (lanes == 0 || lanes > (1u << 20)) throw std::invalid_argument("lane count out of range");
  if (n > kMaxSymbols) throw std::invalid_argument("too many symbols");
  const bool gpu = T.gpu;
  auto run = [&](const EncodeArgs& a) {
    if (gpu) {
      encode_kernel<<<blocks(lanes, kLaneThreads), kLaneThreads>>>(a);
      NLC_CUDA_CHECK(cudaGetLastError());
    } else {
      for (uint32_t k = 0; k < lanes; ++k) encode_lane(k, a);
    }
  };
  // First pass: each lane's word count.
  Array<uint32_t> dwords(lanes, gpu);
  run(EncodeArgs{values, table_index, n, lanes, T.cdf.get(), T.base.get(), T.nsym.get(),
                 T.offset.get(), dwords.get(), nullptr, nullptr});
  std::vector<uint32_t> words = dwords.to_vector();
  // Layout: u32 L | L x u32 length | lanes; lane k's bytes are [pos[k], pos[k + 1]).
  std::vector<unsigned long long> pos(size_t(lanes) + 1);
  pos[0] = 4 + 4ull * lanes;
  for (uint32_t k = 0; k < lanes; ++k) pos[k + 1] = pos[k] + 4 + 2ull * words[k];
  std::vector<uint8_t> out(pos[lanes]);
  for (int b = 0; b < 4; ++b) out[size_t(b)] = uint8_t(lanes >> (8 * b));
  for (uint32_t k = 0; k < lanes; ++k) {
    const uint32_t len = uint32_t(pos[k + 1] - pos[k]);
    for (int b = 0; b < 4; ++b) out[4 + 4 * size_t(k) + size_t(b)] = uint8_t(len >> (8 * b));
  }
  // Second pass: the lanes (the table above is written here; only the lanes come back).
  Array<uint8_t> dout(out.size(), gpu);
  const Array<unsigned long long> dpos(pos.data(), pos.size(), gpu);
  run(EncodeArgs{values, table_index, n, lanes, T.cdf.get(), T.base.get(), T.nsym.get(),
                 T.offset.get(), nullptr, dout.get(), dpos.get()});
  dout.download(out.data() + pos[0], pos[0], out.size() - pos[0]);
  return out;
}

void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const RansTables& T, int32_t* values) {
  const auto errors = rans_decode_many({{data, size, n, 0}}, table_index, T, values);
  if (!errors[0].empty()) throw StreamError(errors[0]);
}

std::vector<std::string> rans_decode_many(const std::vector<LaneStream>& streams,
                                          const uint16_t* table_index, const RansTables& T,
                                          int32_t* values) {
  std::vector<std::string> result(streams.size());
  LaneSet L;
  std::vector<size_t> first_lane(streams.size() + 1);
  for (size_t j = 0; j < streams.size(); ++j) {
    const LaneStream& s = streams[j];
    if (s.n > kMaxSymbols) throw std::invalid_argument("too many symbols");
    first_lane[j] = L.off.size();
    try {
      add_stream(L, s.data, s.size, s.n, s.sym_base);
    } catch (const StreamError& e) {
      result[j] = e.what();  // no lanes from this stream
    }
  }
  first_lane[streams.size()] = L.off.size();
  const std::vector<int> errors = decode_lanes(L, table_index, T, values);
  for (size_t j = 0; j < streams.size(); ++j)
    for (size_t k = first_lane[j]; k < first_lane[j + 1] && result[j].empty(); ++k)
      if (const char* text = lane_error_text(errors[k])) result[j] = text;
  return result;
}

}  // namespace detail

std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes) {
  return encode(values, table_index, n, tables, lanes, true);
}
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values) {
  decode({{data, size, table_index, n, values}}, tables, true);
}
void rans_decode_batch(const std::vector<RansDecodeJob>& jobs,
                       const std::vector<QuantizedCdf>& tables) {
  decode(jobs, tables, true);
}

namespace host_emulation {
std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                 const std::vector<QuantizedCdf>& tables, uint32_t lanes) {
  return encode(values, table_index, n, tables, lanes, false);
}
void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                 const std::vector<QuantizedCdf>& tables, int32_t* values) {
  decode({{data, size, table_index, n, values}}, tables, false);
}
void rans_decode_batch(const std::vector<RansDecodeJob>& jobs,
                       const std::vector<QuantizedCdf>& tables) {
  decode(jobs, tables, false);
}
}  // namespace host_emulation

}  // namespace nlc::cuda
