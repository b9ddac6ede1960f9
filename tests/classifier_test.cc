// The classifier (models/classifier/, nlc::Classifier): golden parity with PyTorch on the
// exported weights (tests/golden/make_classifier_golden.py, run first by ctest as a
// fixture; NLC_CLASSIFIER_GOLDEN_DIR names its folder), on both kernel sets; and the API:
// labels from a stream's latent, the baseline from its pixels, refusals by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include "models/classifier/classifier.h"
#include "nlc/classify.h"
#include "nlc/codec.h"

namespace nlc {
namespace {

const std::string kTiny = std::string(NLC_TEST_DATA) + "/tiny.nlcm";

std::string golden_dir() {
  const char* d = std::getenv("NLC_CLASSIFIER_GOLDEN_DIR");
  return d ? d : "";
}

Image test_image(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t((i / 3 % 97) * 2 + rng() % 40);
  return img;
}

// Logits agree with PyTorch's to float rounding noise (different summation orders): bound
// the largest error by 1e-4 of the largest logit.
TEST(Classifier, GoldenParityWithPyTorch) {
  const std::string dir = golden_dir();
  ASSERT_FALSE(dir.empty()) << "NLC_CLASSIFIER_GOLDEN_DIR is not set (run through ctest)";
  const ModelFile data = load_model_file(dir + "/classifier_tensors.nlcm");
  for (const char* kind : {"latent", "pixels", "latent_flip"}) {
    for (Kernels k : {Kernels::kReference, Kernels::kOptimized}) {
      SCOPED_TRACE(std::string(kind) + (k == Kernels::kReference ? " reference" : " optimised"));
      LatentClassifier net(load_model_file(dir + "/classifier_" + kind + ".nlcm"), k);
      EXPECT_EQ(net.input() == LatentClassifier::Input::kLatent, std::string(kind) != "pixels");
      EXPECT_EQ(net.flip_average(), std::string(kind) == "latent_flip");
      const ModelTensor& in = data.tensors.at(std::string(kind) + ".input");
      const ModelTensor& want = data.tensors.at(std::string(kind) + ".logits");
      const int n = int(in.dims[0]), h = int(in.dims[1]), w = int(in.dims[2]), c = int(in.dims[3]);
      const int classes = int(want.dims[1]);
      ASSERT_EQ(net.classes().size(), size_t(classes));
      for (int i = 0; i < n; ++i) {
        Tensor x = Tensor::uninitialized(Shape{1, h, w, c});
        std::copy_n(&in.data[size_t(i) * h * w * c], size_t(h) * w * c, x.data());
        const std::vector<float> got = net.logits(x);
        double err = 0, scale = 0;
        for (int j = 0; j < classes; ++j) {
          err = std::max(err, std::abs(double(got[size_t(j)]) - want.data[size_t(i) * classes + j]));
          scale = std::max(scale, std::abs(double(want.data[size_t(i) * classes + j])));
        }
        EXPECT_GT(scale, 0.1) << "vacuous: logits near zero";
        EXPECT_LT(err / scale, 1e-4) << "input " << i;
      }
    }
  }
}

TEST(Classifier, LabelsStreamsFromTheirLatentsAndRefusesOthers) {
  const std::string dir = golden_dir();
  ASSERT_FALSE(dir.empty());
  Classifier latent(dir + "/classifier_latent.nlcm", kTiny);
  Classifier pixels(dir + "/classifier_pixels.nlcm", kTiny);
  EXPECT_TRUE(latent.reads_latents());
  EXPECT_FALSE(pixels.reads_latents());
  EXPECT_EQ(latent.class_names().size(), 7u);
  const auto s = Encoder(kTiny).encode(test_image(96, 80, 3), 2.0);
  for (Classifier* c : {&latent, &pixels}) {
    const Classification r = c->classify(s, 3);
    ASSERT_EQ(r.top.size(), 3u);
    for (size_t i = 1; i < r.top.size(); ++i) EXPECT_GE(r.top[i - 1].probability, r.top[i].probability);
    EXPECT_EQ(r.top[0].name, "class " + std::to_string(r.top[0].index));
    EXPECT_EQ(r.top[0].id, "c" + std::to_string(r.top[0].index));
    const Classification all = c->classify(s, 100);  // k above the class count: every class
    ASSERT_EQ(all.top.size(), 7u);
    double sum = 0;
    for (const auto& l : all.top) sum += l.probability;
    EXPECT_NEAR(sum, 1.0, 1e-9);
    EXPECT_EQ(all.top[0].index, r.top[0].index);
    EXPECT_GE(r.decode_ms, 0);
    EXPECT_GE(r.infer_ms, 0);
  }
  // The latent path reads exactly the decoder's latent: the same logits as the network on
  // Decoder::decode_latent.
  {
    LatentClassifier net(load_model_file(dir + "/classifier_latent.nlcm"));
    const DecodedLatent l = Decoder(kTiny).decode_latent(s.data(), s.size());
    Tensor x = Tensor::uninitialized(Shape{1, l.height, l.width, l.channels});
    std::copy(l.data.begin(), l.data.end(), x.data());
    const std::vector<double> p = softmax(net.logits(x));
    const Classification r = latent.classify(s, 1);
    EXPECT_EQ(r.top[0].index, int(std::max_element(p.begin(), p.end()) - p.begin()));
    EXPECT_DOUBLE_EQ(r.top[0].probability, *std::max_element(p.begin(), p.end()));
  }
  // A stream of another codec model is refused by name, before decoding.
  const std::string default_model = default_model_path();
  const auto other = Encoder(default_model).encode(test_image(64, 64, 4), 2.0);
  try {
    latent.classify(other);
    ADD_FAILURE() << "accepted";
  } catch (const StreamError& e) {
    EXPECT_NE(std::string(e.what()).find("wrong model"), std::string::npos) << e.what();
  }
  // Damaged streams and bad arguments.
  auto bad = s;
  bad[bad.size() / 2] ^= 0x10;
  EXPECT_THROW(latent.classify(bad), StreamError);
  EXPECT_THROW(latent.classify(s.data(), 10), StreamError);
  EXPECT_THROW(latent.classify(s, 0), std::invalid_argument);
  // A classifier paired with a codec model it was not trained on.
  try {
    Classifier wrong(dir + "/classifier_latent.nlcm", default_model);
    ADD_FAILURE() << "accepted";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("trained on the streams of codec model"), std::string::npos) << e.what();
  }
  // A codec model is not a classifier.
  EXPECT_THROW(Classifier(kTiny, kTiny), ModelError);
}

}  // namespace
}  // namespace nlc
