// Compressed-domain inference: a label for a .nlc stream without rebuilding its pixels.
//
// A Classifier holds a classifier model (.nlcm, arch classifier-v1; docs/model-format.md,
// "Classifiers") and a Decoder for the codec model it was trained on. One that reads latents
// decodes each stream to its latent (Decoder::decode_latent: entropy decoding and the
// hyper-synthesis only, no g_s) and runs a small CNN on it; one that reads pixels (the
// baseline) decodes the image and classifies that. As with Encoder and Decoder, one
// instance must not be used from two threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nlc/codec.h"

namespace nlc {

struct Classification {
  struct Label {
    int index = 0;       // class number in the classifier's order
    std::string id;      // the class's identifier (e.g. a WordNet id)
    std::string name;    // its readable name
    double probability = 0;
  };
  std::vector<Label> top;  // the k most probable, most probable first
  double decode_ms = 0;    // decoding the stream (to the latent, or to pixels)
  double infer_ms = 0;     // the classifier network
};

// The bundled classifier: $NLC_CLASSIFIER, else <prefix>/share/nlc/classifier.nlcm next to
// the executable, else the source tree's models/imagenette-latent-v4.nlcm (Imagenette's 10
// classes, from latents of the default model at quality 2). ModelError if none.
std::string default_classifier_path();

class Classifier {
 public:
  // classifier_path: the classifier model. codec_model_path: the codec model of the streams
  // ("" for the default model, as Decoder). ModelError when either cannot be loaded or the
  // codec model is not the one the classifier was trained on.
  explicit Classifier(const std::string& classifier_path, const std::string& codec_model_path = "");
  ~Classifier();
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;

  // StreamError for a stream that cannot be decoded, including one from another codec model
  // (the message names both models); std::invalid_argument for top_k < 1.
  Classification classify(const uint8_t* stream, size_t size, int top_k = 5);
  Classification classify(const std::vector<uint8_t>& s, int top_k = 5) { return classify(s.data(), s.size(), top_k); }

  bool reads_latents() const;                    // false: reads decoded pixels (the baseline)
  std::vector<std::string> class_names() const;  // readable names, in class order
  const std::string& identity() const;           // the classifier model's SHA-256, hex
  const std::string& codec_model_identity() const;
  // The decoder's limits (DecodeLimits) for untrusted streams.
  void set_limits(const DecodeLimits& limits);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nlc
