// The overfitted INR codec (architecture "inr-v1", Cool-chic/C3 class; docs/inr.md): for
// each image (tile) the encoder fits, from scratch,
//   * latent grids at 1/1 ... 1/2^(L-1) of the image, one channel each,
//   * an upsampling of the grids to the full resolution, coarse to fine, by learned separable
//     2x filters initialised bicubic (upsampling.cc; streams of parameters version 1: bilinear),
//   * a synthesis: per pixel, the L upsampled values -> 1x1 layer (H, ReLU) -> 1x1 layer (3)
//     -> + a residual 3x3 convolution (3 -> 3) -> RGB,
//   * an autoregressive model (ARM) of the quantised grids: per latent, 12 causal neighbours
//     of its grid and the co-located value of the next coarser grid -> 1x1 layer (A, ReLU)
//     -> (mu, log b) of a Laplace distribution,
// and writes the quantised weights and the grid symbols into the stream; no model file is
// needed. Everything the entropy coder depends on (the ARM, mu and scale indices, the CDF
// tables) is integer or fixed point, computed by one routine for encoder and decoder
// (coding.cc); the synthesis is float (a 1-LSB pixel difference across machines is allowed).
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "entropy/rans.h"
#include "models/architecture.h"
#include "nlc/codec.h"
#include "nlc/image.h"

namespace nlc::inr {

inline constexpr const char* kArch = "inr-v1";
// Section types (docs/bitstream.md).
inline constexpr uint8_t kParams = 0x10;   // a tile's sizes and quantised network weights
inline constexpr uint8_t kLatents = 0x11;  // a tile's grid symbols: one lane stream per grid
inline constexpr int kMaxLevels = 7;       // grids 1/1 ... 1/64
inline constexpr int kContext = 12;        // causal neighbours in the ARM's context
inline constexpr int kArmInputs = kContext + 1;  // + the co-located coarser value
inline constexpr int kMaxHidden = 64;
inline constexpr int32_t kMaxLatent = 1 << 15;  // |symbol| bound (a decoder refuses more)
// A tile's sections, in order.
const std::vector<SectionKind>& section_kinds();

// The ARM's causal neighbourhood, nearest first: (dy, dx) relative to the current latent.
inline constexpr std::array<std::array<int, 2>, kContext> kNeighbours = {{
    {0, -1}, {-1, 0}, {-1, -1}, {-1, 1}, {0, -2}, {-2, 0},
    {-1, -2}, {-1, 2}, {-2, -1}, {-2, 1}, {0, -3}, {-3, 0}}};

// Sizes of one fitted network.
struct Sizes {
  int levels = 0;        // L
  int hidden = 16;       // synthesis hidden width H
  int arm_hidden = 16;   // ARM hidden width A
  bool learned_up = true;  // learned 2x filters (payload version 2); false: bilinear (version 1)
};

// The grid geometry of a w x h image.
struct Grid {
  int h = 0, w = 0;
};
int level_count(int w, int h);
std::vector<Grid> grids(int w, int h, int levels);

// The network's float parameters (weights as the trainer holds them).
struct Net {
  Sizes s;
  std::vector<float> w1, b1;    // synthesis 1x1: [H][L], [H]
  std::vector<float> w2, b2;    // [3][H], [3]
  std::vector<float> wc, bc;    // residual 3x3: [3 out][3 in][3][3], [3]
  std::vector<float> a1, c1;    // ARM: [A][kArmInputs], [A]
  std::vector<float> a2, c2;    // [2][A], [2]
  std::vector<float> up;        // upsampling filters: [L-1][4] (stage l: grid l+1 -> l); empty if bilinear
  // Every parameter tensor in a fixed order (serialisation, Adam, gradients).
  std::vector<std::vector<float>*> tensors();
  std::vector<const std::vector<float>*> tensors() const;
  void init(const Sizes& s, std::mt19937& rng);
  void zero_like(const Net& o);
};

// ---- the float model (training and decoding's synthesis) ----

// Upsampling (upsampling.cc): the grids y to the features [L][P] of the image (gr[0]'s size),
// with the net's learned filters or bilinearly (n.s.learned_up); scratch keeps what the
// backward pass needs. The backward pass adds d features / d y to dy and / d filters to g->up.
struct UpScratch {
  std::vector<std::vector<float>> in, mid;  // per stage: its input stack, its rows pass
};
void upsample(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y, float* feat,
              UpScratch* scratch = nullptr);
void upsample_backward(const Net& n, const std::vector<Grid>& gr, const float* d_feat, const UpScratch& s,
                       std::vector<std::vector<float>>& dy, Net* g);
// One grid (gh x gw, at 1/2^level) straight to h x w bilinearly, and its transpose.
void upsample_bilinear(const float* g, const Grid& gg, int level, int h, int w, float* out);
void upsample_bilinear_backward(const float* dout, const Grid& gg, int level, int h, int w, float* dg);
// The learned filters' initial value (Keys' bicubic): output 2i+1 = sum_t k[t] in[i-1+t].
const std::array<float, 4>& bicubic_taps();

// Synthesis of P = h x w pixels from features [L][P] into rgb [3][P] (planar).
// scratch: keeps what synthesis_backward needs (the hidden activations it recomputes).
struct SynthScratch {
  std::vector<float> o;       // [3][P], the 1x1 layers' output (the residual conv's input)
  std::vector<float> d_o;     // [3][P], synthesis_backward()'s (kept to spare an allocation a step)
};
void synthesis(const Net& n, const float* feat, int h, int w, float* rgb, SynthScratch& s);
// d_rgb [3][P] -> gradients of the weights (added to g) and of the features [L][P] (written
// to d_feat, whatever it held).
void synthesis_backward(const Net& n, const float* feat, int h, int w, const float* d_rgb,
                        SynthScratch& s, Net& g, float* d_feat);

// The ARM over all grids (values y_hat per level, raster order): total rate in bits, and,
// with grads, d rate / d y_hat (added to dy) and / d ARM weights (added to g).
// Context availability (lanes): latent p of a grid with n latents coded in `lanes` lanes
// sees only neighbours in its own lane (arm_lanes()).
double arm_rate(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y,
                std::vector<std::vector<float>>* dy, Net* g);
// The same, one latent at a time in double (the plain reference the tests check against).
double arm_rate_ref(const Net& n, const std::vector<Grid>& gr, const std::vector<std::vector<float>>& y,
                    std::vector<std::vector<float>>* dy, Net* g);
// The lane count of a grid of n latents (the coder's: rANS lanes = ARM stripes): one lane
// per kLaneLatents, at most 4,096. Lanes are what lets a grid decode in parallel, but each
// costs 5-7 bytes of the stream (its length and the rANS state; 8 in the u32 headers of
// INR_PARAMS versions 1-3) and cuts the ARM's context
// along its first rows; at 16,384 latents a lane (the coder's default, 36 lanes in a Kodak
// image, 344 bytes with the grids' headers: 8% of a stream at q 0) held-out fits were 4.5%
// worse in D + lambda R than at 65,536 (13 lanes, 6 on the finest grid: enough for the
// decoder's threads). Decoders take the count from the stream, so this is the encoder's choice.
inline constexpr size_t kLaneLatents = 65536;
uint32_t arm_lanes(size_t n, size_t lane_latents = kLaneLatents);

// Laplace bin probability of value v under (mu, b), floored at 2^-16, and its derivatives.
struct LaplaceBin {
  double p, dp_dv, dp_dmu, dp_db;
  bool floored;
};
LaplaceBin laplace_bin(double v, double mu, double b);
// The ARM's log-scale range (the CDF tables' grid): log b in [kLogBMin, kLogBMax].
inline constexpr double kLogBMin = -3.0, kLogBMax = 4.875;

// ---- fitting ----
// The public options (nlc/codec.h: effort, progress every 10 steps and at each stage's end,
// the stop flag that codes the state reached) and what the codec derives for each image.
struct FitOptions : nlc::FitOptions {
  double lambda = 1e-3;  // loss = MSE([0,1] RGB) + lambda * bpp
  uint32_t seed = 1;
};
struct Fitted {
  Net net;
  std::vector<std::vector<float>> y;  // latents per level (continuous)
};
// The fit's latent proxy (C3): y_hat = sr(sr(y, t) + noise * u, t), sr the soft rounding of
// Agustsson & Theis (2020) at temperature t, u = fit_noise(key, i) uniform in [-1/2, 1/2);
// factor = d y_hat / d y. Float and vectorised; tests check it against a double reference.
void soft_round_noisy(const float* y, size_t n, double t, uint32_t key, double noise, float* y_hat,
                      float* factor);
float fit_noise(uint32_t key, size_t i);
// SOAP (Vyas et al., 2024, "SOAP: Improving and Stabilizing Shampoo using Adam"; Cool-chic 5
// fits its networks with it): Adam run in the eigenbases of Shampoo's two Kronecker factors
// of a weight matrix's gradient (L = E[G G^T], R = E[G^T G]), refreshed every `every` steps.
// The fit's matrices are at most 81 x 81, so the factors are decomposed exactly, in double.
struct Soap {
  int m = 0, n = 0;  // the matrix' shape, row-major
  double b1 = 0.95, b2 = 0.95, shampoo_b = 0.95, eps = 1e-8;
  int every = 10;
  void update(float* w, const float* g, double lr);  // w -= lr * SOAP's step for gradient g
 private:
  int step = 0;
  std::vector<double> l, r, ql, qr, mom, var;
};
// The eigenvectors of the symmetric n x n matrix a (row-major) as the columns of q (n x n),
// by cyclic Jacobi rotations.
void symmetric_eigvecs(std::vector<double> a, int n, std::vector<double>& q);
Sizes preset_sizes(int effort, int w, int h);
// The fit's length in steps at full resolution (fit() spends part of it at half size).
int preset_iterations(int effort);
// Fits the model to an image ([3][P] planar in [0,1]): first the coarse grids and the
// network on the image at half size (its grids are this image's levels 1..L-1; the rate is
// weighed per pixel of the full image), then everything at full size from that state.
Fitted fit(const std::vector<float>& x, int w, int h, const FitOptions& o);
// The fit's pieces, exposed for the tests: a 2x2 box downscale of [3][h][w] to w2 x h2
// (edges replicated), and a half-size fit lifted to the full-size model (grid 0 zero, the
// first synthesis layer's column for it and the finest upsampling stage as `full` has them).
std::vector<float> downscale2(const std::vector<float>& x, int w, int h, int w2, int h2);
void lift_half(const Fitted& half, Fitted& full);

// ---- coding (exact: coding.cc) ----
// The integer ARM's output for one latent: table index and integer part of mu.
struct ArmInt {
  std::vector<int32_t> a1, c1, a2, c2;  // Q8 weights; biases Q16
  int A = 0;
};
// How INR_LATENTS spells each grid's lanes: kU32, a u32 byte length and the coder's lane
// stream (u32 count and lengths; INR_PARAMS versions 1-3); kCompact, LEB128 count and
// lengths (version 4, bitstream 1.5).
enum class LaneHeader { kU32, kCompact };
// The coder's Laplace tables: 64 scales x 8 fractional offsets of mu.
const std::vector<QuantizedCdf>& laplace_tables();
inline constexpr int kMuFrac = 8, kScales = 64;

// Quantised network, as the stream carries it: tensor i of Net::tensors() as integers times
// 2^-step[i]. The ARM's steps are at most 2^-8 (kArmStepMax: its integer routine runs on Q8
// weights, v << (8 - step)); the synthesis' and upsampling's at most 2^-24 (kStepMax).
inline constexpr int kStepMax = 24, kArmStepMax = 8;
struct QuantNet {
  Sizes s;
  // INR_PARAMS payload version: 4 and 3 write a step per tensor (4: the INR_LATENTS that
  // follows has compact lane headers); 1 (bilinear upsampling) and 2 (learned) had one step
  // for the synthesis and upsampling and Q8 for the ARM.
  int version = 4;
  LaneHeader lane_header() const { return version >= 4 ? LaneHeader::kCompact : LaneHeader::kU32; }
  std::vector<int> step;
  std::vector<std::vector<int32_t>> t;
  ArmInt arm() const;
  Net dequantize() const;  // as floats (the ARM's exactly its Q8 values)
};
// Is tensor i of Net::tensors() one of the ARM's (a1, c1, a2, c2)?
bool is_arm_tensor(size_t i);
// Every synthesis and upsampling tensor at 2^-synth_step, the ARM's at 2^-8.
QuantNet quantize(const Net& n, int synth_step);
// Tensor i of q again from n, at 2^-step (the encoder's search of steps).
void requantize(const Net& n, size_t i, int step, QuantNet& q);
std::vector<uint8_t> write_params(const QuantNet& q);
size_t param_bits(const QuantNet& q);  // write_params()'s size in bits before the padding
QuantNet read_params(const uint8_t* data, size_t size, int levels);

// Grid symbols <-> the LATENTS payload (one lane stream per grid, coarsest first), with the
// lane header the INR_PARAMS version calls for (QuantNet::lane_header()).
// lane_latents: the lanes' size (arm_lanes(); other sizes only for tests, since the fit
// assumes kLaneLatents for its contexts).
std::vector<uint8_t> encode_latents(const ArmInt& arm, const std::vector<Grid>& gr,
                                    const std::vector<std::vector<int32_t>>& q, LaneHeader header,
                                    size_t lane_latents = kLaneLatents);
std::vector<std::vector<int32_t>> decode_latents(const ArmInt& arm, const std::vector<Grid>& gr,
                                                 const uint8_t* data, size_t size, LaneHeader header);
// The image from quantised latents and network (float synthesis): [3][P] in [0,1] unclamped.
// upsample_ms: where to add the upsampling's share of the time (optional).
std::vector<float> reconstruct(const Net& n, const std::vector<Grid>& gr,
                               const std::vector<std::vector<float>>& y, int w, int h,
                               double* upsample_ms = nullptr);

}  // namespace nlc::inr

namespace nlc {

// The architecture (models/architecture.h): needs no model file; its identity is the
// SHA-256 of the string "nlc:inr-v1", which a stream's header carries.
class InrCodec final : public Architecture {
 public:
  InrCodec();
  static const std::array<uint8_t, 32>& arch_identity();
  void set_fit(const inr::FitOptions& o) { fit_ = o; }

  std::string arch() const override { return inr::kArch; }
  // 1.5: INR_PARAMS of version 4 with compact INR_LATENTS (1.4 streams, version 3, and 1.1
  // streams, versions 1 and 2, still decode).
  int stream_minor() const override { return 5; }
  double max_quality() const override { return 5.0; }
  int align() const override { return 1; }
  int latent_stride() const override { return 1; }
  const std::vector<SectionKind>& tile_sections() const override;
  std::vector<std::pair<std::string, std::string>> describe() const override;
  void set_backend(std::unique_ptr<ArchBackend> b) override;
  const ArchBackend& backend() const override { return *backend_; }
  std::unique_ptr<ArchBackend> cpu_backend() const override;
  void encode_tile(const Image& tile, double q, std::vector<bitstream::Section>& out) override;
  std::vector<std::string> decode_tiles(const std::vector<TileJob>& jobs) override;
  Latent decode_latent(const bitstream::SectionView* sections, double q, int w, int h) override;
  Estimate estimate(const Image& img, double q) override;
  std::vector<std::pair<std::string, double>> last_decode_profile() const override { return profile_; }

  // Quality q in [0, 5] -> lambda (log-linear from 2e-2 at 0 to 1e-4 at 5).
  static double lambda(double q);

 private:
  Image decode_one(const bitstream::SectionView* s, int w, int h, int channels);
  // A tile's network and grid values from its two sections (StreamError if damaged).
  struct Decoded {
    inr::QuantNet net;
    std::vector<inr::Grid> grids;
    std::vector<std::vector<float>> y;
  };
  static Decoded decode_grids(const bitstream::SectionView* s, int w, int h);
  inr::FitOptions fit_;
  std::vector<std::pair<std::string, double>> profile_;  // the last decode's stages
  std::unique_ptr<ArchBackend> backend_;
};

}  // namespace nlc
