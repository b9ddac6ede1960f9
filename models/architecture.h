// What a model kind provides to the codec (docs/architecture.md, "Adding an architecture").
//
// The codec (codec/src/codec.cc) knows images, tiles, the container and the quality; it
// does not know what a latent is. An Architecture is a loaded model of one kind: it says how
// images must be padded, codes one tile into its own sections and decodes them back, and
// runs on a backend (the CPU, or a GPU through the plugin). A model file names its kind in
// its `arch` field; load_architecture() picks the implementation from the registry
// (models/architecture.cc).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bitstream/container.h"
#include "models/nlcm.h"
#include "nlc/image.h"

namespace nlc {

// Which CPU kernels an architecture runs: the plain reference ones (the definition, slow)
// or the optimised ones (oneDNN).
enum class Kernels { kReference, kOptimized };

// How a GPU backend should run (codec/src/device.cc passes it to the plugin).
struct BackendOptions {
  bool tensor_cores = false;  // convolutions on tensor cores (reduced precision)
  bool whole_tiles = true;    // keep each tile on the device (false: stage by stage)
};

// Where an architecture's heavy stages run. Each architecture defines what its backends do
// (e.g. mshp::Backend); the CPU is one backend among them, not the absence of one.
class ArchBackend {
 public:
  virtual ~ArchBackend() = default;
  // The architecture it serves (checked by Architecture::set_backend: a backend made for
  // another architecture is refused rather than cast).
  virtual std::string arch() const = 0;
  virtual std::string describe() const = 0;  // "CPU", "NVIDIA H100 ..., fp32", ...
  // Decoding many tiles at once pays on this backend (a GPU): the codec then hands over
  // tiles up to this many pixels per call; 0: one tile at a time (bounded memory).
  virtual uint64_t batch_pixels() const { return 0; }
};

// A section type an architecture writes, with its name for `nlc info` (numbers are
// allocated in docs/bitstream.md, unique across architectures).
struct SectionKind {
  uint8_t type;
  const char* name;
};

// A decoded latent, before any synthesis: what vision models read instead of pixels.
struct Latent {
  int height = 0, width = 0, channels = 0;  // NHWC with N = 1
  std::vector<float> data;
};

class Architecture {
 public:
  virtual ~Architecture() = default;

  // --- identity and geometry ---
  virtual std::string arch() const = 0;  // the model file's `arch`
  const std::array<uint8_t, 32>& identity() const { return identity_; }
  const std::string& identity_hex() const { return identity_hex_; }
  virtual double max_quality() const = 0;  // qualities are continuous in [0, max]
  // A tile's width and height are padded up to a multiple of this before the analysis.
  virtual int align() const = 0;
  // The latent decode_latent returns is 1/latent_stride() of the padded image per side.
  virtual int latent_stride() const = 0;
  // The bitstream minor version (1.x) that introduced this architecture's sections; its
  // streams carry it, so that older decoders refuse them by version.
  virtual int stream_minor() const { return 0; }
  // The sections one tile is coded into, in stream order.
  virtual const std::vector<SectionKind>& tile_sections() const = 0;
  // The section types a decoder of this architecture accepts while parsing a stream: its own
  // tile sections, and any its other models write, so that a stream of a sibling model is
  // explained (mismatch_note) rather than refused as unknown.
  virtual std::vector<uint8_t> recognised_sections() const {
    std::vector<uint8_t> t;
    for (const SectionKind& k : tile_sections()) t.push_back(k.type);
    return t;
  }
  // Added to the wrong-model message for a parsed stream of another model ("" if nothing).
  virtual std::string mismatch_note(const bitstream::Parsed&) const { return ""; }
  // Lines for `nlc model-info` after the common ones (name, value).
  virtual std::vector<std::pair<std::string, std::string>> describe() const = 0;

  // --- backends ---
  // The CPU backend is set at load time; a GPU backend comes from the plugin
  // (codec/src/device.cc). An architecture refuses a backend that is not its own.
  virtual void set_backend(std::unique_ptr<ArchBackend> b) = 0;
  virtual const ArchBackend& backend() const = 0;
  virtual std::unique_ptr<ArchBackend> cpu_backend() const = 0;

  // --- coding ---
  // One tile (or a whole untiled image) at quality q (already the stream's 16.16 value):
  // appends its tile_sections() in order.
  virtual void encode_tile(const Image& tile, double q,
                           std::vector<bitstream::Section>& out) = 0;
  struct TileJob {
    const bitstream::SectionView* sections;  // tile_sections().size() of them, checked
    double q;                                // the stream's quality
    Image* tile;                             // width, height, channels set
  };
  // Decodes the jobs' tiles; returns per job "" or the message of the StreamError that
  // makes that tile undecodable (its pixels are then unspecified).
  virtual std::vector<std::string> decode_tiles(const std::vector<TileJob>& jobs) = 0;
  // The dequantised latent of one tile (w x h pixels), without the synthesis; throws
  // StreamError for a bad tile, std::logic_error where the architecture has no latent.
  virtual Latent decode_latent(const bitstream::SectionView* sections, double q, int w,
                               int h) = 0;

  // Milliseconds per stage of the last decode_tiles call, where the architecture measures them.
  virtual std::vector<std::pair<std::string, double>> last_decode_profile() const { return {}; }

  // --- estimate (no coding: the model's own rate estimate and reconstruction) ---
  struct Estimate {
    Image reconstruction;
    std::vector<std::pair<std::string, double>> bits;  // per part ("y", "z", ...)
  };
  virtual Estimate estimate(const Image& img, double q) = 0;

 protected:
  std::array<uint8_t, 32> identity_{};
  std::string identity_hex_;
};

// The registry: the architecture a model file names, loaded (ModelError for an unknown
// arch or a bad file).
std::unique_ptr<Architecture> load_architecture(const ModelFile& f,
                                                Kernels kernels = Kernels::kOptimized);
std::unique_ptr<Architecture> load_architecture(const std::string& path,
                                                Kernels kernels = Kernels::kOptimized);
// Architectures that need no model file (the INR codec fits everything per image): by name
// for an encoder ("inr"), by the identity a stream's header carries for a decoder; null
// when none matches.
std::unique_ptr<Architecture> model_free_architecture(const std::string& name);
std::unique_ptr<Architecture> model_free_architecture(const std::array<uint8_t, 32>& identity);
// Every section type any registered architecture writes (for `nlc info`, which reads a
// stream without its model).
const std::vector<SectionKind>& all_section_kinds();

}  // namespace nlc
