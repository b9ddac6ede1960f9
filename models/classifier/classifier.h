// A classifier of decoded images, read from a .nlcm of arch "classifier-v1"
// (docs/model-format.md, "Classifiers"; trainer: models/train/classifier/). It reads either
// the latent a codec model's decoder gives without its synthesis (input "latent": the
// compressed-domain path) or that decoder's pixels (input "pixels": the baseline), so it
// is tied to one codec model, named in the file by identity.
//
// The network: per-channel normalisation, convolutions each followed by a ReLU (batch norm
// folded in by the exporter), a global average and a linear layer. Runs on the CPU kernels
// (reference or optimised), as the codec's transforms do.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/tensor.h"
#include "models/architecture.h"
#include "models/nlcm.h"
#include "models/sequential.h"

namespace nlc {

class LatentClassifier {
 public:
  static constexpr const char* kArch = "classifier-v1";
  enum class Input { kLatent, kPixels };

  // ModelError for another arch, a missing or mis-shaped tensor, or bad parameters.
  LatentClassifier(const ModelFile& f, Kernels kernels = Kernels::kOptimized);

  Input input() const { return input_; }
  int input_channels() const { return in_channels_; }
  const std::array<uint8_t, 32>& codec_model() const { return codec_model_; }
  const std::vector<std::string>& classes() const { return classes_; }  // e.g. WordNet ids
  const std::vector<std::string>& labels() const { return labels_; }    // readable names
  const std::array<uint8_t, 32>& identity() const { return identity_; }

  // For `nlc model-info`: input, classes, layers, flip averaging, the codec model it reads.
  std::vector<std::pair<std::string, std::string>> describe() const;

  // Whether logits() averages the network's answers for the input and its mirror image.
  bool flip_average() const { return flip_average_; }

  // x: NHWC, N = 1, input_channels() channels (a latent, or pixels as 0..255 floats).
  // Returns the logits, one per class.
  std::vector<float> logits(const Tensor& x);

 private:
  std::vector<float> network(const Tensor& x);  // one pass: normalise, layers, average, fc

  Input input_ = Input::kLatent;
  int in_channels_ = 0;
  bool flip_average_ = false;
  Kernels kernels_;
  std::array<uint8_t, 32> codec_model_{}, identity_{};
  std::vector<std::string> classes_, labels_;
  std::vector<float> mean_, inv_std_;
  Sequential features_;
  std::string layer_specs_;  // the file's "layers", for describe()
  int features_out_ = 0;
  std::vector<float> fc_w_, fc_b_;  // [classes][features_out_], [classes]
};

// Probabilities from logits (softmax in double, so that ties and order are stable).
std::vector<double> softmax(const std::vector<float>& logits);

}  // namespace nlc
