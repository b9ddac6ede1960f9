// The INR codec's exact part (docs/inr.md): the integer ARM, the Laplace CDF tables, the
// quantised weights and the grid symbols. One routine (arm_params) gives the encoder and the
// decoder the same table index and mu for every latent from the same decoded values; the
// tables are built with IEEE basic operations only (det_exp), so they are the same bits on
// every machine.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "entropy/rans_internal.h"
#include "models/inr/inr.h"

namespace nlc::inr {
namespace {

// exp(x) from correctly rounded +, -, *, / and an exact power-of-two scaling: the same
// double on every IEEE machine (libm's exp may differ in the last bit between libraries,
// which would change the CDF tables). Cody-Waite reduction, degree-13 Taylor polynomial;
// relative error below 1e-15 for |x| < 700.
double det_exp(double x) {
  if (x < -700) return 0.0;
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  const double k = std::nearbyint(x * 1.44269504088896338700e+00);
  const double r = (x - k * ln2_hi) - k * ln2_lo;
  double s = 1.0;
  for (int i = 13; i >= 1; --i) s = 1.0 + s * r / double(i);
  return std::ldexp(s, int(k));
}

// Laplace(mu, b) mass of [v - 1/2, v + 1/2).
double laplace_mass(double v, double mu, double b) {
  const double lo = v - 0.5 - mu, hi = v + 0.5 - mu;
  if (lo >= 0) return 0.5 * (det_exp(-lo / b) - det_exp(-hi / b));
  if (hi <= 0) return 0.5 * (det_exp(hi / b) - det_exp(lo / b));
  return 1.0 - 0.5 * det_exp(-hi / b) - 0.5 * det_exp(lo / b);
}

// The fixed-point grid of the tables: mu in 1/8 steps, log b in 1/8 steps from kLogBMin.
constexpr int kQ = 8;                 // activations and weights: Q8
constexpr int kLogStepQ8 = 32;        // 1/8 in Q8
constexpr int kLogMinQ8 = -768;       // -3.0 in Q8
constexpr int kInputClamp = 255;      // context values are clamped to +-255

}  // namespace

const std::vector<QuantizedCdf>& laplace_tables() {
  static const std::vector<QuantizedCdf> tables = [] {
    std::vector<QuantizedCdf> t;
    t.reserve(size_t(kScales) * kMuFrac);
    for (int si = 0; si < kScales; ++si) {
      const double b = det_exp(kLogBMin + (si + 0.5) / 8.0);
      const int R = std::clamp(int(std::ceil(12 * b)) + 2, 2, 255);
      for (int fr = 0; fr < kMuFrac; ++fr) {
        const double mu = (fr + 0.5) / kMuFrac;
        std::vector<double> pmf;
        double in = 0;
        for (int r = -R; r <= R; ++r) {
          pmf.push_back(laplace_mass(r, mu, b));
          in += pmf.back();
        }
        t.push_back(quantize_pmf(pmf, std::max(1.0 - in, 1e-9), -R));
      }
    }
    return t;
  }();
  return tables;
}

// ---- the integer ARM ----
ArmInt QuantNet::arm() const {
  ArmInt a;
  a.A = s.arm_hidden;
  // Q8 from the stored step (read_params and quantize keep the products within 2^25).
  auto q8 = [this](size_t i) {
    std::vector<int32_t> v = t[i];
    for (auto& e : v) e *= int32_t(1) << (kArmStepMax - step[i]);
    return v;
  };
  a.a1 = q8(6);
  a.c1 = q8(7);
  a.a2 = q8(8);
  a.c2 = q8(9);
  return a;
}

namespace {

struct ArmOut {
  uint16_t table;
  int32_t mu_int;
};

// One latent's table and mu from its context values (integers). Q8 activations, Q8 weights,
// Q16 sums in int64 (no overflow: |input| <= 2^16, |weight| <= 2^25 as read_params checks,
// at most 64 x 13 terms), floor shifts.
ArmOut arm_params(const ArmInt& a, const int32_t* ctx) {
  int64_t in[kArmInputs], hid[kMaxHidden];
  for (int m = 0; m < kArmInputs; ++m)
    in[m] = int64_t(std::clamp(ctx[m], -kInputClamp, kInputClamp)) << kQ;
  for (int k = 0; k < a.A; ++k) {
    int64_t acc = int64_t(a.c1[k]) << kQ;
    for (int m = 0; m < kArmInputs; ++m) acc += int64_t(a.a1[size_t(k) * kArmInputs + m]) * in[m];
    acc >>= kQ;
    hid[k] = std::clamp<int64_t>(acc, 0, int64_t(1) << 24);
  }
  int64_t mu = int64_t(a.c2[0]) << kQ, s = int64_t(a.c2[1]) << kQ;
  for (int k = 0; k < a.A; ++k) {
    mu += int64_t(a.a2[k]) * hid[k];
    s += int64_t(a.a2[size_t(a.A) + k]) * hid[k];
  }
  mu >>= kQ;  // Q8
  s >>= kQ;
  const int64_t mu_int = std::clamp<int64_t>(mu >> kQ, -kMaxLatent, kMaxLatent);
  const int frac = int((mu & 255) >> 5);
  static_assert(kLogStepQ8 == 32, "the scale index is a shift by 5");
  const int si = int(std::clamp<int64_t>((s - kLogMinQ8) >> 5, 0, kScales - 1));
  return {uint16_t(si * kMuFrac + frac), int32_t(mu_int)};
}

// Context of latent p of grid l (lane starting at `begin`): neighbours of its own lane, the
// co-located value of the coarser grid.
inline void context(const int32_t* ql, const Grid& G, size_t p, size_t begin, const int32_t* qc,
                    int cw, int32_t* ctx) {
  const int i = int(p / size_t(G.w)), j = int(p % size_t(G.w));
  for (int m = 0; m < kContext; ++m) {
    const int ii = i + kNeighbours[m][0], jj = j + kNeighbours[m][1];
    const bool ok = ii >= 0 && jj >= 0 && jj < G.w && size_t(ii) * G.w + jj >= begin;
    ctx[m] = ok ? ql[size_t(ii) * G.w + jj] : 0;
  }
  ctx[kContext] = qc ? qc[size_t(i / 2) * cw + j / 2] : 0;
}

void put_u32(std::vector<uint8_t>& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(uint8_t(v >> (8 * i)));
}

// LEB128: 7 bits a byte, least significant first, the top bit set on every byte but the last.
void put_leb(std::vector<uint8_t>& o, uint32_t v) {
  for (; v >= 0x80; v >>= 7) o.push_back(uint8_t(v | 0x80));
  o.push_back(uint8_t(v));
}

// Reads a LEB128 value below 2^32 at data[pos], advancing pos; a stream has one spelling of
// each value, so an overlong one (a last byte of 0 after the first) is refused like a
// truncated one.
uint32_t get_leb(const uint8_t* data, size_t size, size_t& pos, const char* what) {
  uint64_t v = 0;
  for (int i = 0; i < 5; ++i) {
    if (pos >= size) throw StreamError(std::string("INR latents truncated (") + what + ")");
    const uint8_t b = data[pos++];
    v |= uint64_t(b & 0x7F) << (7 * i);
    if (!(b & 0x80)) {
      if (i > 0 && b == 0) throw StreamError(std::string("INR latents: overlong number (") + what + ")");
      if (v > UINT32_MAX) break;
      return uint32_t(v);
    }
  }
  throw StreamError(std::string("INR latents: number out of range (") + what + ")");
}

// The compact lane header of payload version 4 (docs/bitstream.md): the coder's lane stream
// (u32 count, u32 lengths, lanes) rewritten as a LEB128 count and, per lane, its length in
// 16-bit words after the 4-byte state; the lanes' bytes are unchanged. A Kodak image's 13
// lanes in 7 grids carried 108 bytes of u32 lengths and counts; this takes about 35.
void put_compact(std::vector<uint8_t>& out, const std::vector<uint8_t>& s) {
  const rans_detail::LaneLayout L = rans_detail::parse_lanes(s.data(), s.size());
  put_leb(out, L.lanes);
  for (uint32_t k = 0; k < L.lanes; ++k) put_leb(out, uint32_t((L.length[k] - 4) / 2));
  out.insert(out.end(), s.begin() + std::ptrdiff_t(L.offset[0]), s.end());
}

// Reads a compact lane header at data[pos] for a grid of n latents; the layout's offsets
// are from data. pos ends after the grid's last lane.
rans_detail::LaneLayout get_compact(const uint8_t* data, size_t size, size_t& pos, size_t n) {
  rans_detail::LaneLayout L;
  L.lanes = get_leb(data, size, pos, "lane count");
  if (L.lanes == 0 || L.lanes > n || L.lanes > (1u << 20)) throw StreamError("INR grid has an invalid lane count");
  // Each lane takes at least 5 bytes (a length byte and its state): a count the payload
  // cannot hold is refused before anything is allocated for it.
  if (L.lanes > (size - pos) / 5) throw StreamError("INR latents truncated (lane table)");
  for (uint32_t k = 0; k < L.lanes; ++k) L.length.push_back(4 + 2 * size_t(get_leb(data, size, pos, "lane length")));
  for (uint32_t k = 0; k < L.lanes; ++k) {
    if (L.length[k] > size - pos) throw StreamError("INR latents truncated (lane " + std::to_string(k) + ")");
    L.offset.push_back(pos);
    pos += L.length[k];
  }
  return L;
}

}  // namespace

std::vector<uint8_t> encode_latents(const ArmInt& arm, const std::vector<Grid>& gr,
                                    const std::vector<std::vector<int32_t>>& q, LaneHeader header,
                                    size_t lane_latents) {
  const auto& tables = laplace_tables();
  std::vector<uint8_t> out;
  for (int l = int(gr.size()) - 1; l >= 0; --l) {
    const Grid G = gr[l];
    const size_t N = size_t(G.h) * G.w;
    const uint32_t lanes = arm_lanes(N, lane_latents);
    const int32_t* qc = l + 1 < int(gr.size()) ? q[l + 1].data() : nullptr;
    const int cw = l + 1 < int(gr.size()) ? gr[l + 1].w : 0;
    std::vector<int32_t> res(N);
    std::vector<uint16_t> idx(N);
#pragma omp parallel for schedule(dynamic, 1)
    for (uint32_t k = 0; k < lanes; ++k) {
      int32_t ctx[kArmInputs];
      const size_t begin = N * k / lanes, end = N * (k + 1) / lanes;
      for (size_t p = begin; p < end; ++p) {
        context(q[l].data(), G, p, begin, qc, cw, ctx);
        const ArmOut o = arm_params(arm, ctx);
        idx[p] = o.table;
        res[p] = q[l][p] - o.mu_int;
      }
    }
    const std::vector<uint8_t> s = rans_encode(res.data(), idx.data(), N, tables, lanes);
    if (header == LaneHeader::kCompact) {
      put_compact(out, s);
    } else {
      put_u32(out, uint32_t(s.size()));
      out.insert(out.end(), s.begin(), s.end());
    }
  }
  return out;
}

std::vector<std::vector<int32_t>> decode_latents(const ArmInt& arm, const std::vector<Grid>& gr,
                                                 const uint8_t* data, size_t size, LaneHeader header) {
  using namespace rans_detail;
  const auto& tables = laplace_tables();
  std::vector<std::vector<int32_t>> q(gr.size());
  size_t pos = 0;
  for (int l = int(gr.size()) - 1; l >= 0; --l) {
    const Grid G = gr[l];
    const size_t N = size_t(G.h) * G.w;
    const uint8_t* s = data;  // lane offsets are from s
    LaneLayout L;
    if (header == LaneHeader::kCompact) {
      L = get_compact(data, size, pos, N);
    } else {
      if (size - pos < 4) throw StreamError("INR latents truncated (grid " + std::to_string(l) + ")");
      const size_t len = get_u32(data + pos);
      pos += 4;
      if (len > size - pos) throw StreamError("INR latents truncated (grid " + std::to_string(l) + ")");
      s = data + pos;
      pos += len;
      L = parse_lanes(s, len);
      if (L.lanes > N) throw StreamError("INR grid has more lanes than latents");
    }
    q[l].assign(N, 0);
    const int32_t* qc = l + 1 < int(gr.size()) ? q[l + 1].data() : nullptr;
    const int cw = l + 1 < int(gr.size()) ? gr[l + 1].w : 0;
    std::vector<std::string> errors(L.lanes);
#pragma omp parallel for schedule(dynamic, 1)
    for (uint32_t k = 0; k < L.lanes; ++k) {
      try {
        LaneDecoder d(s + L.offset[k], L.length[k]);
        int32_t ctx[kArmInputs];
        const size_t begin = N * k / L.lanes, end = N * (k + 1) / L.lanes;
        for (size_t p = begin; p < end; ++p) {
          context(q[l].data(), G, p, begin, qc, cw, ctx);
          const ArmOut o = arm_params(arm, ctx);
          const int64_t v = int64_t(decode_value(d, tables[o.table])) + o.mu_int;
          if (v < -kMaxLatent || v > kMaxLatent) throw StreamError("INR latent out of range (corrupt stream)");
          q[l][p] = int32_t(v);
        }
        d.finish();
      } catch (const StreamError& e) {
        errors[k] = e.what();
      }
    }
    for (const auto& e : errors)
      if (!e.empty()) throw StreamError("INR grid " + std::to_string(l) + ": " + e);
  }
  if (pos != size) throw StreamError("INR latents have trailing bytes");
  return q;
}

// ---- weights: quantisation and Exp-Golomb serialisation ----
// Tensors 6..9 of Net::tensors() are the ARM's; 0..5 and 10 the synthesis' and upsampling's.
bool is_arm_tensor(size_t i) { return i >= 6 && i <= 9; }

namespace {


// Exp-Golomb of order k of a signed value: u = zigzag(v), x = u + 2^k, written as
// (n - k) zeros then the n + 1 bits of x, n = floor(log2 x).
struct ExpGolomb {
  uint64_t x;
  int n, k;
  ExpGolomb(int32_t v, int order) : k(order) {
    const uint64_t u = v >= 0 ? uint64_t(v) << 1 : (uint64_t(-int64_t(v)) << 1) - 1;
    x = u + (uint64_t(1) << k);
    n = 0;
    while ((x >> (n + 1)) != 0) ++n;
  }
  size_t bits() const { return size_t(2 * n - k + 1); }
};

class BitWriter {
 public:
  void put(uint32_t v, int bits) {
    for (int b = bits - 1; b >= 0; --b) bit((v >> b) & 1);
  }
  void bit(uint32_t b) {
    if (n_ % 8 == 0) out_.push_back(0);
    if (b) out_.back() |= uint8_t(0x80 >> (n_ % 8));
    ++n_;
  }
  void eg(int32_t v, int k) {
    const ExpGolomb e(v, k);
    for (int i = 0; i < e.n - k; ++i) bit(0);
    for (int b = e.n; b >= 0; --b) bit(uint32_t(e.x >> b) & 1);
  }
  std::vector<uint8_t> out_;
  size_t n_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* p, size_t n) : p_(p), n_(n * 8) {}
  uint32_t bit() {
    if (i_ >= n_) throw StreamError("INR parameters truncated");
    const uint32_t b = (p_[i_ / 8] >> (7 - i_ % 8)) & 1;
    ++i_;
    return b;
  }
  uint32_t get(int bits) {
    uint32_t v = 0;
    for (int b = 0; b < bits; ++b) v = v << 1 | bit();
    return v;
  }
  int32_t eg(int k) {
    int zeros = 0;
    while (bit() == 0)
      if (++zeros > 40) throw StreamError("INR parameter value too long (corrupt stream)");
    uint64_t x = 1;
    for (int b = 0; b < zeros + k; ++b) x = x << 1 | bit();
    const uint64_t u = x - (uint64_t(1) << k);
    if (u > (uint64_t(1) << 26)) throw StreamError("INR parameter value out of range (corrupt stream)");
    return (u & 1) ? -int32_t((u + 1) >> 1) : int32_t(u >> 1);
  }
  // The rest of the last byte must be zero padding.
  void finish() const {
    if (n_ - i_ >= 8) throw StreamError("INR parameters have trailing bytes");
    for (size_t i = i_; i < n_; ++i)
      if ((p_[i / 8] >> (7 - i % 8)) & 1) throw StreamError("INR parameters have nonzero padding");
  }

 private:
  const uint8_t* p_;
  size_t n_, i_ = 0;
};

std::vector<size_t> tensor_sizes(const Sizes& s) {
  const size_t L = size_t(s.levels), H = size_t(s.hidden), A = size_t(s.arm_hidden);
  std::vector<size_t> n = {H * L, H, 3 * H, 3, 81, 3, A * kArmInputs, A, 2 * A, 2};
  if (s.learned_up) n.push_back((L - 1) * 4);
  return n;
}

}  // namespace

namespace {
// The largest stored magnitude of tensor i at step `step`: 2^24, and for the ARM's so that
// its Q8 value, v * 2^(8 - step), stays within 2^25 (the integer ARM's overflow bound).
int32_t max_stored(size_t i, int step) {
  return is_arm_tensor(i) ? (int32_t(1) << 25) >> (kArmStepMax - step) : int32_t(1) << 24;
}
}  // namespace

void requantize(const Net& n, size_t i, int step, QuantNet& q) {
  if (step < 0 || step > (is_arm_tensor(i) ? kArmStepMax : kStepMax)) throw std::logic_error("requantize: step out of range");
  const std::vector<float>& f = *n.tensors()[i];
  const double scale = std::ldexp(1.0, step), lim = max_stored(i, step);
  q.step[i] = step;
  q.t[i].resize(f.size());
  for (size_t e = 0; e < f.size(); ++e) q.t[i][e] = int32_t(std::clamp(std::nearbyint(double(f[e]) * scale), -lim, lim));
}

QuantNet quantize(const Net& n, int synth_step) {
  QuantNet q;
  q.s = n.s;
  q.version = n.s.learned_up ? 4 : 1;
  const size_t T = n.tensors().size();
  q.step.assign(T, 0);
  q.t.resize(T);
  for (size_t i = 0; i < T; ++i) requantize(n, i, is_arm_tensor(i) ? kArmStepMax : synth_step, q);
  return q;
}

Net QuantNet::dequantize() const {
  Net n;
  n.s = s;
  auto ts = n.tensors();
  for (size_t i = 0; i < ts.size(); ++i) {
    const double scale = std::ldexp(1.0, -step[i]);
    ts[i]->clear();
    for (int32_t v : t[i]) ts[i]->push_back(float(v * scale));
  }
  return n;
}

namespace {
BitWriter params_bits(const QuantNet& q) {
  const bool v3 = q.version >= 3;  // a step per tensor (versions 3 and 4)
  if (q.version < 1 || q.version > 4 || (q.version == 1) == q.s.learned_up || q.step.size() != q.t.size())
    throw std::logic_error("write_params: version and upsampling disagree");
  BitWriter w;
  w.put(uint32_t(q.version), 8);
  w.put(uint32_t(q.s.levels), 8);
  w.put(uint32_t(q.s.hidden), 8);
  w.put(uint32_t(q.s.arm_hidden), 8);
  if (!v3) {  // versions 1 and 2: one step for the synthesis and upsampling, Q8 for the ARM
    for (size_t i = 0; i < q.t.size(); ++i)
      if (q.step[i] != (is_arm_tensor(i) ? kArmStepMax : q.step[0]))
        throw std::logic_error("write_params: versions 1 and 2 have one synthesis step and a Q8 ARM");
    w.put(uint32_t(q.step[0]), 8);
  }
  for (size_t i = 0; i < q.t.size(); ++i) {
    const auto& t = q.t[i];
    int best_k = 0;
    size_t best = SIZE_MAX;
    for (int k = 0; k <= 15; ++k) {
      size_t bits = 0;
      for (int32_t v : t) bits += ExpGolomb(v, k).bits();
      if (bits < best) best = bits, best_k = k;
    }
    if (v3) w.put(uint32_t(q.step[i]), 5);
    w.put(uint32_t(best_k), 4);
    for (int32_t v : t) w.eg(v, best_k);
  }
  return w;
}
}  // namespace

std::vector<uint8_t> write_params(const QuantNet& q) { return params_bits(q).out_; }
size_t param_bits(const QuantNet& q) { return params_bits(q).n_; }

QuantNet read_params(const uint8_t* data, size_t size, int levels) {
  BitReader r(data, size);
  QuantNet q;
  q.version = int(r.get(8));
  if (q.version < 1 || q.version > 4) throw StreamError("INR parameters of an unknown version");
  q.s.learned_up = q.version >= 2;
  q.s.levels = int(r.get(8));
  q.s.hidden = int(r.get(8));
  q.s.arm_hidden = int(r.get(8));
  const int synth_step = q.version < 3 ? int(r.get(8)) : 0;
  if (q.s.levels != levels)
    throw StreamError("INR parameters declare " + std::to_string(q.s.levels) + " grids, the tile has " +
                      std::to_string(levels));
  if (q.s.hidden < 1 || q.s.hidden > kMaxHidden || q.s.arm_hidden < 1 || q.s.arm_hidden > kMaxHidden)
    throw StreamError("INR network widths out of range");
  if (synth_step > kStepMax) throw StreamError("INR weight step out of range");
  const std::vector<size_t> sizes = tensor_sizes(q.s);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int step = q.version < 3 ? (is_arm_tensor(i) ? kArmStepMax : synth_step) : int(r.get(5));
    if (step > (is_arm_tensor(i) ? kArmStepMax : kStepMax)) throw StreamError("INR weight step out of range");
    const int k = int(r.get(4));
    std::vector<int32_t> t(sizes[i]);
    const int32_t lim = max_stored(i, step);
    for (auto& v : t) {
      v = r.eg(k);
      if (v > lim || v < -lim) throw StreamError("INR parameter value out of range (corrupt stream)");
    }
    q.step.push_back(step);
    q.t.push_back(std::move(t));
  }
  r.finish();
  return q;
}

}  // namespace nlc::inr
