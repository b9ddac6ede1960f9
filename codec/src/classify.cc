// nlc::Classifier: a stream's label from its latent (or, for the baseline, its pixels).
#include "nlc/classify.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "bitstream/container.h"
#include "codec/src/codec_impl.h"
#include "models/classifier/classifier.h"

namespace nlc {

#ifndef NLC_DEFAULT_CLASSIFIER
#define NLC_DEFAULT_CLASSIFIER ""
#endif

#ifndef NLC_INSTALLED_CLASSIFIER
#define NLC_INSTALLED_CLASSIFIER ""
#endif
std::string default_classifier_path() {
  return bundled_file("NLC_CLASSIFIER", "classifier.nlcm", NLC_INSTALLED_CLASSIFIER, NLC_DEFAULT_CLASSIFIER,
                      "no classifier given and the bundled classifier was not found; use --classifier PATH");
}

struct Classifier::Impl {
  std::unique_ptr<LatentClassifier> net;
  std::unique_ptr<Decoder> decoder;
  std::string identity, codec_identity;
};

Classifier::Classifier(const std::string& classifier_path, const std::string& codec_model_path)
    : impl_(std::make_unique<Impl>()) {
  const ModelFile file = load_model_file(classifier_path);  // the network copies what it needs
  impl_->net = std::make_unique<LatentClassifier>(file);
  impl_->identity = file.identity_hex();
  impl_->codec_identity = to_hex(impl_->net->codec_model());
  const std::string codec = codec_model_path.empty() ? default_model_path() : codec_model_path;
  impl_->decoder = std::make_unique<Decoder>(codec);
  if (impl_->decoder->model_identity() != impl_->codec_identity)
    throw ModelError(classifier_path + ": classifier was trained on the streams of codec model sha256:" +
                     impl_->codec_identity.substr(0, 16) + "..., not of " + codec + " (sha256:" +
                     impl_->decoder->model_identity().substr(0, 16) + "...)");
}
Classifier::~Classifier() = default;
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;

Classification Classifier::classify(const uint8_t* data, size_t size, int top_k) {
  if (top_k < 1) throw std::invalid_argument("top_k must be at least 1");
  // A stream of another codec model (or of a model-free codec) decodes to another latent,
  // or to pixels this classifier never saw: refused by name before any decoding.
  if (size >= bitstream::kModelIdOffset + 32 && std::memcmp(data, bitstream::kMagic, 4) == 0 &&
      std::memcmp(data + bitstream::kModelIdOffset, impl_->net->codec_model().data(), 32) != 0) {
    std::array<uint8_t, 32> id{};
    std::memcpy(id.data(), data + bitstream::kModelIdOffset, 32);
    // A model-free codec's identity names no file a user has: say which codec it is.
    const auto free = model_free_architecture(id);
    throw StreamError((free ? "stream was coded with the model-free codec '" + free->arch() +
                                  "' (fitted to the image: no model's latent to classify)"
                            : "stream was encoded with model sha256:" + to_hex(id).substr(0, 16) + "...") +
                      ", this classifier reads streams of model sha256:" + impl_->codec_identity.substr(0, 16) +
                      "... (wrong model)");
  }
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  Classification r;
  const auto t0 = clock::now();
  Tensor x;
  if (impl_->net->input() == LatentClassifier::Input::kLatent) {
    DecodedLatent l = impl_->decoder->decode_latent(data, size);
    if (l.channels != impl_->net->input_channels())
      throw StreamError("stream latent has " + std::to_string(l.channels) + " channels, the classifier reads " +
                        std::to_string(impl_->net->input_channels()));
    x = Tensor::uninitialized(Shape{1, l.height, l.width, l.channels});
    std::copy(l.data.begin(), l.data.end(), x.data());
  } else {
    const Image img = impl_->decoder->decode(data, size);
    x = Tensor::uninitialized(Shape{1, img.height, img.width, 3});
    const size_t n = size_t(img.width) * img.height;
    for (size_t p = 0; p < n; ++p)
      for (int c = 0; c < 3; ++c) x.data()[p * 3 + size_t(c)] = img.pixels[p * size_t(img.channels) + size_t(img.channels == 1 ? 0 : c)];
  }
  const auto t1 = clock::now();
  const std::vector<double> p = softmax(impl_->net->logits(x));
  const auto t2 = clock::now();
  r.decode_ms = ms(t0, t1);
  r.infer_ms = ms(t1, t2);
  std::vector<int> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min(size_t(top_k), p.size());
  std::partial_sort(order.begin(), order.begin() + ptrdiff_t(k), order.end(),
                    [&](int a, int b) { return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b); });
  for (size_t i = 0; i < k; ++i) {
    const int c = order[i];
    r.top.push_back({c, impl_->net->classes()[size_t(c)], impl_->net->labels()[size_t(c)], p[size_t(c)]});
  }
  return r;
}

bool Classifier::reads_latents() const { return impl_->net->input() == LatentClassifier::Input::kLatent; }
std::vector<std::string> Classifier::class_names() const { return impl_->net->labels(); }
const std::string& Classifier::identity() const { return impl_->identity; }
const std::string& Classifier::codec_model_identity() const { return impl_->codec_identity; }
void Classifier::set_limits(const DecodeLimits& limits) { impl_->decoder->set_limits(limits); }

}  // namespace nlc
