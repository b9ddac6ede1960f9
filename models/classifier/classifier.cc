#include "models/classifier/classifier.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace nlc {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

std::array<uint8_t, 32> from_hex(const std::string& hex, const std::string& source) {
  std::array<uint8_t, 32> id{};
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw ModelError(source + ": codec_model is not a lower-case hex SHA-256");
  };
  if (hex.size() != 64) throw ModelError(source + ": codec_model is not a lower-case hex SHA-256");
  for (size_t i = 0; i < 32; ++i) id[i] = uint8_t(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return id;
}

std::string param_string(const ModelFile& f, const std::string& key) {
  auto it = f.params.find(key);
  if (it == f.params.end() || !std::holds_alternative<std::string>(it->second))
    throw ModelError(f.source + ": classifier parameter '" + key + "' missing or not a string");
  return std::get<std::string>(it->second);
}

}  // namespace

LatentClassifier::LatentClassifier(const ModelFile& f, Kernels kernels) : kernels_(kernels) {
  if (f.arch != kArch) throw ModelError(f.source + ": arch '" + f.arch + "' is not a classifier (" + kArch + ")");
  identity_ = f.identity;
  const std::string input = param_string(f, "input");
  if (input == "latent") {
    input_ = Input::kLatent;
  } else if (input == "pixels") {
    input_ = Input::kPixels;
  } else {
    throw ModelError(f.source + ": classifier input '" + input + "' is not latent or pixels");
  }
  codec_model_ = from_hex(param_string(f, "codec_model"), f.source);
  classes_ = split(param_string(f, "classes"), ',');
  labels_ = split(param_string(f, "labels"), ',');
  if (classes_.empty() || classes_.size() > 100000 || labels_.size() != classes_.size())
    throw ModelError(f.source + ": classifier classes and labels do not match");
  in_channels_ = int(f.param_int("input_channels"));
  // Optional (absent in the first files: 0). The trainer flips its inputs left-right, so the
  // mean of the logits of an input and of its mirror image is a steadier answer.
  if (f.params.count("flip_average")) {
    const int64_t fa = f.param_int("flip_average");
    if (fa != 0 && fa != 1) throw ModelError(f.source + ": flip_average must be 0 or 1");
    flip_average_ = fa == 1;
  }
  if (in_channels_ < 1 || in_channels_ > 4096) throw ModelError(f.source + ": bad input_channels");
  mean_ = f.tensor("norm.mean", {in_channels_}).data;
  inv_std_ = f.tensor("norm.std", {in_channels_}).data;
  for (float& s : inv_std_) {
    if (!(s > 0) || !std::isfinite(s)) throw ModelError(f.source + ": norm.std must be positive");
    s = 1.f / s;
  }
  // "k:stride,k:stride,...": one convolution (then a ReLU) each; channels from the tensors.
  int cin = in_channels_, i = 0;
  layer_specs_ = param_string(f, "layers");
  for (const std::string& spec : split(layer_specs_, ',')) {
    const auto ks = split(spec, ':');
    if (ks.size() != 2) throw ModelError(f.source + ": bad layer spec '" + spec + "'");
    const int k = std::atoi(ks[0].c_str()), stride = std::atoi(ks[1].c_str());
    if (k < 1 || k > 7 || k % 2 == 0 || stride < 1 || stride > 4)
      throw ModelError(f.source + ": bad layer spec '" + spec + "'");
    const std::string name = "features." + std::to_string(i++);
    if (!f.has_tensor(name + ".bias")) throw ModelError(f.source + ": tensor " + name + ".bias missing");
    const auto& b = f.tensors.at(name + ".bias");
    if (b.dims.size() != 1 || b.dims[0] < 1 || b.dims[0] > 4096) throw ModelError(f.source + ": bad " + name + ".bias");
    const int cout = int(b.dims[0]);
    features_.add(conv_layer(f, name, cin, cout, k, stride, false));
    features_.add(Sequential::Relu{});
    cin = cout;
  }
  if (i == 0) throw ModelError(f.source + ": classifier has no layers");
  features_.prepare();
  features_out_ = cin;
  const int classes = int(classes_.size());
  fc_w_ = f.tensor("fc.weight", {classes, cin}).data;
  fc_b_ = f.tensor("fc.bias", {classes}).data;
}

std::vector<float> LatentClassifier::logits(const Tensor& x) {
  if (x.n() != 1 || x.c() != in_channels_ || x.h() < 1 || x.w() < 1)
    throw std::invalid_argument("classifier input must be 1 x H x W x " + std::to_string(in_channels_));
  std::vector<float> out = network(x);
  if (flip_average_) {
    Tensor m = Tensor::uninitialized(x.shape());
    const size_t w = size_t(x.w()), c = size_t(in_channels_);
    for (size_t row = 0; row < size_t(x.h()); ++row)
      for (size_t col = 0; col < w; ++col)
        std::copy_n(x.data() + (row * w + col) * c, c, m.data() + (row * w + (w - 1 - col)) * c);
    const std::vector<float> mirrored = network(m);
    for (size_t k = 0; k < out.size(); ++k) out[k] = float((double(out[k]) + double(mirrored[k])) / 2);
  }
  return out;
}

std::vector<float> LatentClassifier::network(const Tensor& x) {
  Tensor t = Tensor::uninitialized(x.shape());
  const size_t pixels = size_t(x.h()) * x.w();
  const float* s = x.data();
  float* d = t.data();
  for (size_t p = 0; p < pixels; ++p)
    for (int c = 0; c < in_channels_; ++c) d[p * in_channels_ + c] = (s[p * in_channels_ + c] - mean_[c]) * inv_std_[c];
  const Tensor y = features_.forward(t, kernels_);
  // Global average (in double: the order of a float sum would differ from PyTorch's anyway),
  // then the linear layer.
  std::vector<double> avg(size_t(features_out_), 0.0);
  const size_t n = size_t(y.h()) * y.w();
  for (size_t p = 0; p < n; ++p)
    for (int c = 0; c < features_out_; ++c) avg[size_t(c)] += y.data()[p * features_out_ + c];
  std::vector<float> out(classes_.size());
  for (size_t k = 0; k < out.size(); ++k) {
    double a = fc_b_[k];
    for (int c = 0; c < features_out_; ++c) a += double(fc_w_[k * features_out_ + size_t(c)]) * (avg[size_t(c)] / double(n));
    out[k] = float(a);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> LatentClassifier::describe() const {
  std::string first;
  for (size_t k = 0; k < labels_.size() && k < 3; ++k) first += (k ? ", " : "") + labels_[k];
  if (labels_.size() > 3) first += ", ...";
  return {{"input", (input_ == Input::kLatent ? "latent, " : "pixels, ") + std::to_string(in_channels_) + " channels"},
          {"classes", std::to_string(classes_.size()) + " (" + first + ")"},
          {"layers", layer_specs_ + " (kernel:stride, each with a ReLU), then mean and linear"},
          {"flips", flip_average_ ? "logits averaged with the mirror image's" : "no"},
          {"reads", "streams of codec model sha256:" + to_hex(codec_model_)}};
}

std::vector<double> softmax(const std::vector<float>& logits) {
  std::vector<double> p(logits.size());
  if (logits.empty()) return p;
  const double m = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += (p[i] = std::exp(double(logits[i]) - m));
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace nlc
