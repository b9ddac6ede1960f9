// The nlc codec: image -> .nlc stream -> image (stream format: docs/bitstream.md).
//
// An Encoder or Decoder holds one loaded model; each call is independent. One instance must
// not be used from two threads at once (its kernels cache per-shape plans); use one instance
// per thread. Errors are exceptions with messages: nlc::ImageError (input image),
// nlc::ModelError (model file), nlc::StreamError (a stream that cannot be decoded exactly),
// std::invalid_argument (bad parameters).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nlc/errors.h"
#include "nlc/image.h"

namespace nlc {

class MeanScaleHyperprior;
struct CodecTables;
class Accelerator;
// Builds an accelerator (GPU backend) for a loaded model; internal to nlc: the `nlc` tool
// uses it for --device cuda (codec/src/accelerator.h). A null factory means the CPU.
using AcceleratorFactory = std::function<std::unique_ptr<Accelerator>(const MeanScaleHyperprior&)>;

struct EncodeStats {
  double seconds = 0;
  size_t bytes = 0;
  double bpp = 0;  // 8 * bytes / (width * height)
};

class Encoder {
 public:
  explicit Encoder(const std::string& model_path);
  ~Encoder();
  // Quality is continuous in [0, max_quality()]; the stream stores it as 16.16 fixed point
  // and the encoder uses that rounded value, exactly as the decoder will.
  std::vector<uint8_t> encode(const Image& img, double quality, EncodeStats* stats = nullptr);
  // Many images at the same quality: one stream each, in order.
  std::vector<std::vector<uint8_t>> encode_batch(const std::vector<Image>& images, double quality);
  double max_quality() const;
  const std::string& model_identity() const;
  void set_accelerator(const AcceleratorFactory& make);
  std::string device() const;  // "CPU", or the accelerator's description

 private:
  std::unique_ptr<MeanScaleHyperprior> model_;
  std::unique_ptr<CodecTables> tables_;
  std::unique_ptr<Accelerator> accel_;  // after model_: destroyed first
};

class Decoder {
 public:
  explicit Decoder(const std::string& model_path);
  ~Decoder();
  Image decode(const uint8_t* data, size_t size);
  Image decode(const std::vector<uint8_t>& s) { return decode(s.data(), s.size()); }
  // Many streams: one image each, in order. With an accelerator, the tiles of all of them
  // are decoded together (one launch of the coder for many streams, the synthesis batched).
  // An invalid stream throws StreamError "stream i: ...".
  std::vector<Image> decode_batch(const std::vector<std::vector<uint8_t>>& streams);
  const std::string& model_identity() const;
  void set_accelerator(const AcceleratorFactory& make);
  std::string device() const;

 private:
  std::unique_ptr<MeanScaleHyperprior> model_;
  std::unique_ptr<CodecTables> tables_;
  std::unique_ptr<Accelerator> accel_;
};

// Images up to this many pixels are coded whole; larger ones in independent tiles of
// kTileSize x kTileSize (raster order), so that the transforms' memory stays bounded by one
// tile's tensors (about 1 GiB at most) whatever the image size.
inline constexpr uint64_t kMaxUntiledPixels = uint64_t(2048) * 2048;
inline constexpr uint32_t kTileSize = 1024;
// Largest image a Decoder reconstructs (the output alone is 3 bytes a pixel): streams that
// announce more are refused before anything is allocated.
inline constexpr uint64_t kMaxDecodedPixels = uint64_t(16384) * 16384;

// The default model: $NLC_MODEL, else <prefix>/share/nlc/default.nlcm next to the
// executable, else the source tree's models/mshp-gain-v1.nlcm. Throws ModelError if none.
std::string default_model_path();

}  // namespace nlc
