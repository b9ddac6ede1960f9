// The nlc codec: image -> .nlc stream -> image (stream format: docs/bitstream.md).
//
// An Encoder or Decoder holds one loaded model (of any architecture the library knows; the
// model file names it) and runs on one device; each call is independent. One instance must
// not be used from two threads at once (its kernels cache per-shape plans); use one instance
// per thread. Errors are exceptions with messages: nlc::ImageError (input image),
// nlc::ModelError (model file), nlc::StreamError (a stream that cannot be decoded exactly),
// nlc::DeviceError (a device that cannot be used), std::invalid_argument (bad parameters).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nlc/errors.h"
#include "nlc/image.h"

namespace nlc {

struct CodecAccess;

struct EncodeStats {
  double seconds = 0;
  size_t bytes = 0;
  double bpp = 0;  // 8 * bytes / (width * height)
};

// Where an Encoder or Decoder runs: "cpu" (the default), "cuda" (a GPU through the CUDA
// plugin, libnlc_cuda.so; DeviceError when none is usable) or "auto" (the GPU when one is
// usable, else the CPU). The entropy path is exact on every device, so streams decode
// identically wherever they are decoded; pixels may differ by one 8-bit step.
struct DeviceOptions {
  bool tensor_cores = false;  // GPU convolutions on tensor cores (reduced precision)
};

// A decoded latent (Decoder::decode_latent): the dequantised latent the synthesis would
// read, row-major height x width x channels (NHWC, N = 1) of float32.
struct DecodedLatent {
  int height = 0, width = 0, channels = 0;
  double quality = 0;  // the stream's quality
  int stride = 0;      // pixels per latent element along each side (image padded up)
  std::vector<float> data;
};

// For codecs that fit a model to each image at encode time (the INR codec): how hard to
// try, where to report progress, and a flag that stops fitting early (the stream is then
// written from the state reached: still valid, at a worse rate-distortion).
struct FitProgress {
  int iteration = 0, total = 0;        // steps done and planned, over all stages
  double loss = 0, bpp = 0, psnr = 0;  // the fit's own estimates (before quantisation)
  int scale = 0;      // the stage's resolution: the image halved `scale` times (a warm-up)
  double done = 0;    // the fraction of the fit's work done (steps weighted by their cost)
};
// The INR codec's efforts: 0 (fastest) .. kMaxEffort (best); the one every front end (CLI,
// Python, batch jobs) uses when none is given. 2 since 2026-12-06: on all 24 Kodak images
// it is 4.0% ahead of AVIF at about 73 s an image on 2 cores, where effort 1 (22.5 s) is
// 8.6% behind it (docs/inr.md, "Measured"); effort 1 is the fast choice.
inline constexpr int kMaxEffort = 3;
inline constexpr int kDefaultEffort = 2;
struct FitOptions {
  int effort = kDefaultEffort;  // 0 .. kMaxEffort: iterations and network sizes
  std::function<void(const FitProgress&)> progress;
  const std::atomic<bool>* stop = nullptr;
};

class Encoder {
 public:
  explicit Encoder(const std::string& model_path);
  // A codec that needs no model file: "inr" (per-image overfitted latent grids, a small
  // synthesis and an autoregressive entropy model, all fitted here and coded into the
  // stream; docs/inr.md). Any Decoder decodes its streams.
  static Encoder without_model(const std::string& codec, const FitOptions& fit = {});
  ~Encoder();
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;
  // Quality is continuous in [0, max_quality()]; the stream stores it as 16.16 fixed point
  // and the encoder uses that rounded value, exactly as the decoder will.
  std::vector<uint8_t> encode(const Image& img, double quality, EncodeStats* stats = nullptr);
  // Many images at the same quality: one stream each, in order.
  std::vector<std::vector<uint8_t>> encode_batch(const std::vector<Image>& images, double quality);
  double max_quality() const;
  const std::string& model_identity() const;
  // Tiling: by default images over kMaxUntiledPixels are coded in tiles of kTileSize
  // overlapping by kTileOverlap, smaller ones whole. set_tiling(T, O) codes every image
  // larger than T x T in T x T tiles overlapping by O (T a multiple of 64 from 64 to 2048;
  // O 0, or a multiple of 16 up to min(128, T / 2)), which bounds a decoder's working memory
  // by T; set_tiling(0, 0) restores the default. std::invalid_argument for other values.
  void set_tiling(uint32_t tile_size, uint32_t overlap);
  // See DeviceOptions. Returns "" or, for "auto" on the CPU, why the GPU is not used.
  std::string set_device(const std::string& device, const DeviceOptions& options = {});
  std::string device() const;  // "CPU", or the GPU's description

  struct Impl;

 private:
  Encoder();
  friend struct CodecAccess;  // internal (tests)
  std::unique_ptr<Impl> impl_;
};

// Images up to this many pixels are coded whole; larger ones in independent tiles of
// kTileSize x kTileSize (raster order), so that the transforms' memory stays bounded by one
// tile's tensors (about 1 GiB at most) whatever the image size. Each tile also codes
// kTileOverlap pixels past its right and bottom edges, which the decoder blends with the
// next tiles' so that tile borders do not show at low rates (docs/bitstream.md, "Tiles").
inline constexpr uint64_t kMaxUntiledPixels = uint64_t(2048) * 2048;
inline constexpr uint32_t kTileSize = 1024;
inline constexpr uint32_t kTileOverlap = 16;
// Largest image a Decoder reconstructs (the output alone is 3 bytes a pixel): streams that
// announce more are refused before anything is allocated.
inline constexpr uint64_t kMaxDecodedPixels = kMaxImagePixels;  // 16384 x 16384 (image.h)

// Bounds on the work one stream may cause a Decoder (set_limits). A stream is checked against
// max_pixels before anything is allocated; the time is checked after every tile (a tile's
// own work is bounded by its size), so a decode stops within one tile of max_seconds.
// Exceeding either throws LimitError. The defaults bound memory (the format's own limit,
// 268 Mpixels, 0.8 GB of output) but not time: a service decoding untrusted streams should
// set both (a valid 633 kB stream of repeated tiles can ask for 16 CPU-minutes).
struct DecodeLimits {
  uint64_t max_pixels = kMaxDecodedPixels;  // width x height of the decoded image
  double max_seconds = 0;                   // wall time of one decode call; 0: none
};

class Decoder {
 public:
  // model_path: the model of the streams it decodes; streams of codecs that need no model
  // (Encoder::without_model) decode with any Decoder.
  explicit Decoder(const std::string& model_path);
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;
  Image decode(const uint8_t* data, size_t size);
  Image decode(const std::vector<uint8_t>& s) { return decode(s.data(), s.size()); }
  // Many streams: one image each, in order. On a GPU, the tiles of all of them are decoded
  // together (one launch of the coder for many streams, the synthesis batched). An invalid
  // stream throws StreamError "stream i: ...".
  std::vector<Image> decode_batch(const std::vector<std::vector<uint8_t>>& streams);
  // The latent without the synthesis (bit-identical to what decode() synthesises from; a
  // tiled stream's tiles are placed side by side). StreamError as decode().
  DecodedLatent decode_latent(const uint8_t* data, size_t size);
  const std::string& model_identity() const;
  std::string set_device(const std::string& device, const DeviceOptions& options = {});
  std::string device() const;
  // Milliseconds per stage of the last decode, for codecs that measure them (the INR codec:
  // parameters, ARM, upsampling, synthesis; summed over tiles); empty otherwise.
  std::vector<std::pair<std::string, double>> last_profile() const;
  // See DecodeLimits; applies to decode, decode_batch (max_pixels to each stream, max_seconds
  // to the whole call; the check between tiles counts "tiles" or "streams") and decode_latent.
  // max_pixels above the format's limit is lowered to it.
  void set_limits(const DecodeLimits& limits);
  const DecodeLimits& limits() const;

  struct Impl;

 private:
  friend struct CodecAccess;  // internal (tests)
  std::unique_ptr<Impl> impl_;
};


// The default model: $NLC_MODEL, else <prefix>/share/nlc/default.nlcm next to the
// executable, else the source tree's models/mshp-gain-v1.nlcm. Throws ModelError if none.
std::string default_model_path();
// The bundled CLC model: the default model's transforms with a reference dictionary and the
// conditional entropy branch (docs/clc.md): $NLC_CLC_MODEL, else <prefix>/share/nlc/clc.nlcm
// next to the executable, else the source tree's models/mshp-gain-v1-clc.nlcm. Throws
// ModelError if none. A Decoder of either bundled model decodes the other's streams too.
std::string default_clc_model_path();

// CPU threads for coding, process-wide: every later encode/decode, from any thread, uses n
// (n <= 0 leaves it); threads() is the number in use.
void set_threads(int n);
int threads();

// What a model file holds (nlc model-info): a codec model, or a classifier (arch
// "classifier-v1", nlc/classify.h; max_quality 0, details say what it reads).
struct ModelInfo {
  std::string path, arch, identity;  // identity: lower-case hex SHA-256
  int format_major = 0, format_minor = 0;
  double max_quality = 0;
  std::vector<std::pair<std::string, std::string>> details;  // architecture-specific
};
ModelInfo model_info(const std::string& model_path);

// A stream's header and sections, read without its model (nlc info). StreamError for a
// stream the container cannot parse.
struct StreamInfo {
  int major = 0, minor = 0;
  std::string model_identity;  // lower-case hex SHA-256
  uint32_t width = 0, height = 0;
  int bit_depth = 0, channels = 0;
  double quality = 0;
  uint32_t tile_size = 0;  // 0: one tile
  uint32_t tile_overlap = 0;  // pixels tiles overlap (blended); 0: edge to edge
  struct Section {
    uint8_t type = 0;
    std::string name;  // "HYPER_LATENT", ..., or "0x.." for a type no architecture here writes
    size_t size = 0, offset = 0;
  };
  std::vector<Section> sections;
  size_t skipped_optional = 0;
  size_t bytes = 0;
};
StreamInfo stream_info(const uint8_t* data, size_t size);

// The model run without coding: its own rate estimate and reconstruction (nlc estimate).
struct Estimate {
  Image reconstruction;
  double bpp = 0;
  std::vector<std::pair<std::string, double>> bpp_parts;  // per latent ("y", "z", ...)
  double seconds = 0;
};
// reference_kernels: the plain reference kernels (the definition; slow) instead of the
// optimised ones.
Estimate estimate(const std::string& model_path, const Image& img, double quality,
                  bool reference_kernels = false);

}  // namespace nlc
