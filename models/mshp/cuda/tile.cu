// The codec's tile pipeline on the GPU (TileCodec, cuda.h). Each step is one of:
//   * a cuDNN transform on device memory (Transform::forward_device),
//   * the integer h_s or the lane coder on device arrays (entropy/cuda/rans_resident.h, integer_hs_resident.h),
//   * a per-element functor from models/mshp/quantize.h run by detail::for_each,
// so in host emulation (host memory, CPU transforms, the same functors in loops) the very
// same sequence runs on machines without a GPU, where tests hold it to the CPU codec.
//
//   encode: pixels -> samples -> g_a -> *gain -> h_a -> round -> z (host: rANS)
//                                                           \-> integer h_s -> mu, index
//           y_g, mu -> round(y_g - mu) -> rANS (lanes on the device)
//   decode: z (host: rANS) -> integer h_s -> mu, index -> rANS -> (sym + mu) / gain -> g_s
//           -> clamp, round -> pixels
// The z latent is 1/4096 of the pixels: it is coded on the host, where the CPU coder is
// faster than a handful of GPU lanes, and crosses the bus as int32.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "entropy/cuda/rans_resident.h"
#include "models/mshp/cuda/integer_hs_resident.h"
#include "models/mshp/cuda/mshp_cuda.h"
#include "models/mshp/geometry.h"
#include "models/mshp/quantize.h"

namespace nlc::cuda {
namespace {

// Pixels (w x h x ch) -> samples [H][W][3], edge-replicated to the padded size
// (image_to_tensor).
struct ToSamples {
  const uint8_t* px;
  int w, h, ch, W;
  float* x;
  __host__ __device__ void operator()(long long e) const {
    const int c = int(e % 3);
    const long long p = e / 3;
    const int X = int(p % W), Y = int(p / W);
    const int sx = X < w ? X : w - 1, sy = Y < h ? Y : h - 1;
    x[e] = quant::sample(px[((long long)sy * w + sx) * ch + (ch == 3 ? c : 0)]);
  }
};

// y_g = y * gain per channel (MeanScaleHyperprior::scale_channels).
struct ScaleChannels {
  const float* y;
  const float* gain;
  int C;
  float* out;
  __host__ __device__ void operator()(long long e) const { out[e] = quant::mul_rn(y[e], gain[e % C]); }
};

// z -> rounded symbol and the integer h_s input (MeanScaleHyperprior::round, then
// IntegerHyperSynthesis::input).
struct RoundZ {
  const float* z;
  int32_t* sym;
  int32_t* hs_in;
  __host__ __device__ void operator()(long long e) const {
    const int32_t s = quant::symbol(quant::round_half_even(z[e]));
    sym[e] = s;
    hs_in[e] = quant::hs_input(s);
  }
};

struct Quantize {
  const float* y_g;
  const int32_t* mu_q;
  int32_t* sym;
  __host__ __device__ void operator()(long long e) const {
    sym[e] = quant::residual_symbol(y_g[e], mu_q[e]);
  }
};

struct Dequantize {
  const int32_t* sym;
  const int32_t* mu_q;
  const float* inv_gain;
  int M;
  float* y_hat;
  __host__ __device__ void operator()(long long e) const {
    y_hat[e] = quant::dequantize(sym[e], mu_q[e], inv_gain[e % M]);
  }
};

// Synthesised [H][W][3] -> pixels w x h x ch (tensor_to_image); one element per pixel.
struct ToPixels {
  const float* t;
  int W, w, ch;
  uint8_t* px;
  __host__ __device__ void operator()(long long e) const {
    const long long X = e % w, Y = e / w;
    const float* s = t + (Y * W + X) * 3;
    const float r = quant::pixel_scale(s[0]), g = quant::pixel_scale(s[1]), b = quant::pixel_scale(s[2]);
    if (ch == 3) {
      px[e * 3] = quant::pixel(r);
      px[e * 3 + 1] = quant::pixel(g);
      px[e * 3 + 2] = quant::pixel(b);
    } else {
      px[e] = quant::gray_pixel(r, g, b);
    }
  }
};

int round_up(int v, int a) { return (v + a - 1) / a * a; }

// Where a GPU tile call spends its time, for the first NLC_CUDA_PROFILE=N calls of each
// TileCodec (printed to stderr): events recorded on the stream between stages, so each
// figure is the wall time from one stage's end to the next's (host work in between, such
// as the z coder, counts in the stage after it). Off (no events) unless the variable is set.
class StageTimer {
 public:
  StageTimer(bool gpu, int& calls, const char* what) : what_(what) {
    static const int limit = [] {
      const char* v = std::getenv("NLC_CUDA_PROFILE");
      return v ? std::atoi(v) : 0;
    }();
    on_ = gpu && calls < limit;
    if (on_) ++calls;
    mark("start");
  }
  void mark(const char* stage) {
    if (!on_) return;
    cudaEvent_t e;
    if (cudaEventCreate(&e) != cudaSuccess) return void(on_ = false);
    cudaEventRecord(e, 0);
    marks_.push_back({stage, e});
  }
  ~StageTimer() {
    if (!on_ || marks_.empty()) return;
    cudaEventSynchronize(marks_.back().second);
    std::string line = std::string("nlc cuda profile: ") + what_ + ":";
    float total = 0;
    for (size_t i = 1; i < marks_.size(); ++i) {
      float ms = 0;
      cudaEventElapsedTime(&ms, marks_[i - 1].second, marks_[i].second);
      total += ms;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %s %.3f", marks_[i].first, ms);
      line += buf;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, " | total %.3f ms\n", total);
    std::fputs((line + buf).c_str(), stderr);
    for (auto& m : marks_) cudaEventDestroy(m.second);
  }

 private:
  const char* what_;
  bool on_ = false;
  std::vector<std::pair<const char*, cudaEvent_t>> marks_;
};

}  // namespace

struct TileCodec::Impl {
  TileModel m;
  bool gpu = false;
  Transform* dev[3] = {nullptr, nullptr, nullptr};  // g_a, h_a, g_s on the GPU
  HostTransform host[3];                             // or on the host
  Tensor host_out[3];                                // their last outputs (host emulation)
  std::unique_ptr<detail::RansTables> y_tables;
  std::unique_ptr<detail::IntegerHsWeights> hs;
  int profiled = 0;  // calls profiled so far (StageTimer)

  void init(const TileModel& model, bool on_gpu) {
    if (!model.hs || !model.hs->loaded() || !model.z_tables || !model.y_tables || model.N <= 0 ||
        model.M <= 0)
      throw std::invalid_argument("TileCodec: incomplete model");
    if (model.z_tables->size() != size_t(model.N) ||
        model.y_tables->size() < model.hs->thresholds().size() + 1)
      throw std::invalid_argument("TileCodec: the tables do not match the model");
    m = model;
    gpu = on_gpu;
    y_tables = detail::make_rans_tables(*m.y_tables, gpu);
    hs = detail::make_integer_hs_weights(*m.hs, gpu);
  }

  // Runs transform i (0 g_a, 1 h_a, 2 g_s) on x (where the pipeline runs); the result stays
  // valid until transform i runs again.
  const float* transform(int i, const float* x, const Shape& in, Shape* out) {
    if (gpu) return dev[i]->forward_device(x, in, out);
    // Host emulation: one image of the batch at a time (the CPU transforms take n = 1).
    const Shape one{1, in.h, in.w, in.c};
    for (int b = 0; b < in.n; ++b) {
      Tensor t = Tensor::uninitialized(one);
      std::copy(x + b * one.numel(), x + (b + 1) * one.numel(), t.data());
      const Tensor r = host[i](t);
      if (b == 0) host_out[i] = Tensor::uninitialized(Shape{in.n, r.h(), r.w(), r.c()});
      if (r.numel() * size_t(in.n) != host_out[i].numel())
        throw std::logic_error("TileCodec: transform output sizes differ within a batch");
      std::copy(r.data(), r.data() + r.numel(), host_out[i].data() + b * r.numel());
    }
    *out = host_out[i].shape();
    return host_out[i].data();
  }
};

TileCodec::TileCodec(const TileModel& m, Transform* g_a, Transform* h_a, Transform* g_s)
    : impl_(std::make_unique<Impl>()) {
  if (!g_a || !h_a || !g_s) throw std::invalid_argument("TileCodec: missing transform");
  if (!available()) throw std::runtime_error("no usable CUDA device");
  impl_->init(m, true);
  impl_->dev[0] = g_a;
  impl_->dev[1] = h_a;
  impl_->dev[2] = g_s;
}

TileCodec::TileCodec(const TileModel& m, HostTransform g_a, HostTransform h_a, HostTransform g_s)
    : impl_(std::make_unique<Impl>()) {
  if (!g_a || !h_a || !g_s) throw std::invalid_argument("TileCodec: missing transform");
  impl_->init(m, false);
  impl_->host[0] = std::move(g_a);
  impl_->host[1] = std::move(h_a);
  impl_->host[2] = std::move(g_s);
}

TileCodec::~TileCodec() = default;

TileCodec::Streams TileCodec::encode(const uint8_t* pixels, int w, int h, int ch,
                                     const std::vector<float>& gain) {
  Impl& I = *impl_;
  const bool gpu = I.gpu;
  const TileModel& m = I.m;
  if (w <= 0 || h <= 0 || (ch != 1 && ch != 3)) throw std::invalid_argument("TileCodec: bad tile");
  if (gain.size() != size_t(m.M)) throw std::invalid_argument("TileCodec: gain size mismatch");
  const int H = round_up(h, mshp::kAlign), W = round_up(w, mshp::kAlign);
  StageTimer timer(gpu, I.profiled, "encode (ms)");

  const detail::Array<uint8_t> px(pixels, size_t(w) * h * ch, gpu);
  detail::Array<float> x(size_t(H) * W * 3, gpu);
  detail::for_each(gpu, (long long)x.size(), ToSamples{px.get(), w, h, ch, W, x.get()});
  timer.mark("upload");

  Shape ys;
  const float* y = I.transform(0, x.get(), Shape{1, H, W, 3}, &ys);
  timer.mark("g_a");
  if (ys.c != m.M) throw std::logic_error("TileCodec: g_a output has the wrong channels");
  const detail::Array<float> g(gain.data(), gain.size(), gpu);
  detail::Array<float> y_g(ys.numel(), gpu);
  detail::for_each(gpu, (long long)ys.numel(), ScaleChannels{y, g.get(), m.M, y_g.get()});

  Shape zs;
  const float* z = I.transform(1, y_g.get(), ys, &zs);
  if (zs.c != m.N) throw std::logic_error("TileCodec: h_a output has the wrong channels");
  const size_t nz = zs.numel();
  detail::Array<int32_t> z_sym(nz, gpu), hs_in(nz, gpu);
  detail::for_each(gpu, (long long)nz, RoundZ{z, z_sym.get(), hs_in.get()});
  timer.mark("h_a");

  int oh = 0, ow = 0;
  detail::integer_hs_output_size(*m.hs, zs.h, zs.w, oh, ow);
  if (oh != ys.h || ow != ys.w) throw std::logic_error("TileCodec: h_s and g_a grids differ");
  const size_t ny = ys.numel();
  detail::Array<int32_t> mu(ny, gpu), y_sym(ny, gpu);
  detail::Array<uint16_t> tid(ny, gpu);
  detail::integer_hs(*m.hs, *I.hs, hs_in.get(), 1, zs.h, zs.w, mu.get(), nullptr, tid.get());
  detail::for_each(gpu, (long long)ny, Quantize{y_g.get(), mu.get(), y_sym.get()});
  timer.mark("h_s+quantise");

  Streams s;
  const std::vector<int32_t> zv = z_sym.to_vector();
  std::vector<uint16_t> zi(nz);
  for (size_t i = 0; i < nz; ++i) zi[i] = uint16_t(i % size_t(m.N));
  s.z = nlc::rans_encode(zv.data(), zi.data(), nz, *m.z_tables, default_lane_count(nz));
  timer.mark("z_coder(host)");
  s.y = detail::rans_encode(y_sym.get(), tid.get(), ny, *I.y_tables, default_lane_count(ny));
  timer.mark("y_coder");
  return s;
}

void TileCodec::decode(const uint8_t* zb, size_t z_size, const uint8_t* yb, size_t y_size, int w,
                       int h, int ch, const std::vector<float>& inv_gain, uint8_t* pixels) {
  const auto errors = decode({DecodeJob{zb, z_size, yb, y_size, w, h, ch, &inv_gain, pixels}});
  if (!errors[0].empty()) throw StreamError(errors[0]);
}

std::vector<std::string> TileCodec::decode(const std::vector<DecodeJob>& jobs) {
  Impl& I = *impl_;
  const bool gpu = I.gpu;
  const TileModel& m = I.m;
  const size_t J = jobs.size();
  std::vector<std::string> errors(J);
  struct Geometry {
    int zh, zw, oh, ow;
    size_t ny, base;  // y symbols and their first index in the shared arrays
  };
  std::vector<Geometry> geo(J);
  size_t total = 0;
  for (size_t j = 0; j < J; ++j) {
    const DecodeJob& d = jobs[j];
    if (d.w <= 0 || d.h <= 0 || (d.channels != 1 && d.channels != 3) || !d.pixels)
      throw std::invalid_argument("TileCodec: bad tile");
    if (!d.inv_gain || d.inv_gain->size() != size_t(m.M))
      throw std::invalid_argument("TileCodec: gain size mismatch");
    Geometry& g = geo[j];
    const mshp::LatentGeometry lg = mshp::latent_geometry(d.w, d.h);
    g.zh = lg.zh;
    g.zw = lg.zw;
    detail::integer_hs_output_size(*m.hs, g.zh, g.zw, g.oh, g.ow);
    g.ny = size_t(g.oh) * g.ow * m.M;
    g.base = total;
    total += g.ny;
  }

  StageTimer timer(gpu, I.profiled, J == 1 ? "decode 1 tile (ms)" : "decode tiles (ms)");
  // z on the host, then the integer h_s of every tile into the shared arrays.
  detail::Array<int32_t> mu(total, gpu), y_sym(total, gpu);
  detail::Array<uint16_t> tid(total, gpu);
  std::vector<detail::LaneStream> streams;
  std::vector<size_t> stream_job;
  for (size_t j = 0; j < J; ++j) {
    const DecodeJob& d = jobs[j];
    const Geometry& g = geo[j];
    const size_t nz = size_t(g.zh) * g.zw * m.N;
    std::vector<uint16_t> zi(nz);
    for (size_t i = 0; i < nz; ++i) zi[i] = uint16_t(i % size_t(m.N));
    std::vector<int32_t> zv(nz);
    try {
      nlc::rans_decode(d.z, d.z_size, zi.data(), nz, *m.z_tables, zv.data());
    } catch (const StreamError& e) {
      errors[j] = e.what();
      continue;
    }
    for (int32_t& v : zv) v = quant::hs_input(v);
    const detail::Array<int32_t> hs_in(zv.data(), nz, gpu);  // freed in stream order
    detail::integer_hs(*m.hs, *I.hs, hs_in.get(), 1, g.zh, g.zw, mu.get() + g.base, nullptr,
                       tid.get() + g.base);
    streams.push_back({d.y, d.y_size, g.ny, g.base});
    stream_job.push_back(j);
  }
  timer.mark("z_coder(host)+h_s");
  // Every tile's y lanes in one launch.
  const auto y_errors = detail::rans_decode_many(streams, tid.get(), *I.y_tables, y_sym.get());
  for (size_t k = 0; k < streams.size(); ++k)
    if (!y_errors[k].empty()) errors[stream_job[k]] = y_errors[k];
  timer.mark("y_coder");

  // Synthesis per group of tiles with the same latent size, in batches of up to
  // kGroupPixels pixels (bounds g_s's activations: ~1 KB per pixel).
  constexpr size_t kGroupPixels = size_t(1) << 23;
  std::vector<bool> done(J, false);
  for (size_t j = 0; j < J; ++j) {
    if (done[j] || !errors[j].empty()) continue;
    std::vector<size_t> group;
    size_t pixels = 0;
    for (size_t k = j; k < J; ++k) {
      if (done[k] || !errors[k].empty() || geo[k].oh != geo[j].oh || geo[k].ow != geo[j].ow) continue;
      const size_t p = size_t(geo[k].oh) * geo[k].ow * 256;
      if (!group.empty() && pixels + p > kGroupPixels) break;
      group.push_back(k);
      pixels += p;
      done[k] = true;
    }
    const Geometry& g = geo[j];
    detail::Array<float> y_hat(group.size() * g.ny, gpu);
    std::vector<detail::Array<float>> inv_gains;  // alive until the kernels have run
    for (size_t i = 0; i < group.size(); ++i) {
      const Geometry& gk = geo[group[i]];
      const std::vector<float>& ig = *jobs[group[i]].inv_gain;
      inv_gains.emplace_back(ig.data(), ig.size(), gpu);
      detail::for_each(gpu, (long long)gk.ny,
                       Dequantize{y_sym.get() + gk.base, mu.get() + gk.base, inv_gains.back().get(),
                                  m.M, y_hat.get() + i * g.ny});
    }
    timer.mark("dequantise");
    Shape xs;
    const float* t = I.transform(2, y_hat.get(), Shape{int(group.size()), g.oh, g.ow, m.M}, &xs);
    timer.mark("g_s");
    if (xs.n != int(group.size()) || xs.c != 3)
      throw std::logic_error("TileCodec: g_s output " + xs.str() + " does not match its input");
    for (size_t i = 0; i < group.size(); ++i) {
      const DecodeJob& d = jobs[group[i]];
      if (xs.h < d.h || xs.w < d.w)
        throw std::logic_error("TileCodec: g_s output " + xs.str() + " does not hold the tile");
      detail::Array<uint8_t> px(size_t(d.w) * d.h * d.channels, gpu);
      detail::for_each(gpu, (long long)d.w * d.h,
                       ToPixels{t + i * size_t(xs.h) * xs.w * 3, xs.w, d.w, d.channels, px.get()});
      px.download(d.pixels, 0, px.size());
    }
    timer.mark("pixels");
  }
  return errors;
}

}  // namespace nlc::cuda
