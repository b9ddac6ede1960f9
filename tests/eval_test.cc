// nlc eval's parts: MS-SSIM against a torch reference, BD-rate against published figures
// and exact properties, each baseline codec's round trip, and the report files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "eval/baselines.h"
#include "eval/bd_rate.h"
#include "eval/metrics.h"
#include "eval/report.h"

namespace nlc::eval {
namespace {

// The synthetic pair of tests/eval/ms_ssim_reference.py.
std::pair<Image, Image> make_pair(int w, int h) {
  Image a{w, h, 3, std::vector<uint8_t>(size_t(w) * size_t(h) * 3)}, b = a;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const int va = (x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256;
        const int noise = (x * 31 + y * 17 + c * 11) % 121 - 60;
        const size_t i = (size_t(y) * size_t(w) + size_t(x)) * 3 + size_t(c);
        a.pixels[i] = uint8_t(va);
        b.pixels[i] = uint8_t(std::clamp(va + noise, 0, 255));
      }
  return {a, b};
}

TEST(Metrics, MsSsimMatchesTheTorchReference) {
  // Values printed by tests/eval/ms_ssim_reference.py (float64, pytorch_msssim's recipe).
  // 200x170 has odd sides at the coarser scales (85, 43...): exercises the pooling padding.
  auto [a, b] = make_pair(200, 170);
  EXPECT_NEAR(ms_ssim(a, b), 0.963537254498, 1e-9);
  auto [c, d] = make_pair(256, 256);
  EXPECT_NEAR(ms_ssim(c, d), 0.963483502033, 1e-9);
}

TEST(Metrics, MsSsimProperties) {
  auto [a, b] = make_pair(200, 170);
  EXPECT_DOUBLE_EQ(ms_ssim(a, a), 1.0);
  EXPECT_NEAR(ms_ssim(a, b), ms_ssim(b, a), 1e-12);
  Image slight = a;
  for (size_t i = 0; i < slight.pixels.size(); i += 7) slight.pixels[i] ^= 1;
  EXPECT_LT(ms_ssim(a, slight), 1.0);
  EXPECT_GT(ms_ssim(a, slight), ms_ssim(a, b));
  auto [small, small2] = make_pair(160, 300);
  EXPECT_TRUE(std::isnan(ms_ssim(small, small2)));  // the window does not fit 5 scales
  EXPECT_THROW(ms_ssim(a, small), ImageError);
}

TEST(Metrics, PsnrOfAKnownError) {
  Image a{4, 4, 3, std::vector<uint8_t>(48, 100)}, b = a;
  for (auto& v : b.pixels) v = 110;  // MSE 100
  EXPECT_NEAR(nlc::psnr(a, b), 10 * std::log10(255.0 * 255.0 / 100.0), 1e-9);
}

// Published Kodak curves (CompressAI results/image/kodak, ../shared/data/published).
const std::vector<double> kVtmBpp{0.048245, 0.112495, 0.245817, 0.490545,
                                  0.874810, 1.430850, 2.324607, 3.632609};
const std::vector<double> kVtmPsnr{26.144845, 28.493022, 31.199874, 34.261533,
                                   37.419793, 40.424444, 43.505767, 46.591760};
const std::vector<double> kWebpBpp{0.234419, 0.296336, 0.352865, 0.407049, 0.460802,
                                   0.512705, 0.567407, 0.620739, 0.674676, 0.721817,
                                   0.770877, 0.823675, 0.874027, 0.934291, 0.998388,
                                   1.216314, 1.520081, 2.010354, 2.928479};
const std::vector<double> kWebpPsnr{28.328424, 29.151205, 29.820851, 30.406979, 30.939177,
                                    31.442621, 31.935957, 32.424824, 32.883460, 33.237553,
                                    33.606664, 33.971663, 34.328179, 34.693450, 35.104168,
                                    36.369046, 37.778259, 39.556952, 41.759249};
const std::vector<double> kHyperBpp{0.131293, 0.208893, 0.319858, 0.478356,
                                    0.668688, 0.938826, 1.259172, 1.660224};
const std::vector<double> kHyperPsnr{27.581537, 29.196703, 30.972162, 32.838183,
                                     34.526264, 36.743348, 38.583848, 40.556866};

TEST(BdRate, ReproducesThePublishedFigures) {
  // ../shared/data/published/README.md: against VTM, WebP +78%, hyperprior +30%.
  EXPECT_NEAR(bd_rate(kVtmBpp, kVtmPsnr, kWebpBpp, kWebpPsnr), 78, 1.0);
  EXPECT_NEAR(bd_rate(kVtmBpp, kVtmPsnr, kHyperBpp, kHyperPsnr), 30, 1.0);
}

TEST(BdRate, ExactProperties) {
  EXPECT_NEAR(bd_rate(kVtmBpp, kVtmPsnr, kVtmBpp, kVtmPsnr), 0, 1e-9);
  std::vector<double> half = kVtmBpp;
  for (double& b : half) b /= 2;  // same PSNR at half the rate: exactly -50%
  EXPECT_NEAR(bd_rate(kVtmBpp, kVtmPsnr, half, kVtmPsnr), -50, 1e-9);
  EXPECT_NEAR(bd_rate(half, kVtmPsnr, kVtmBpp, kVtmPsnr), 100, 1e-9);
  // Anchor and test swap: (1 + a)(1 + b) = 1 only for parallel curves, but the sign flips.
  EXPECT_LT(bd_rate(kWebpBpp, kWebpPsnr, kVtmBpp, kVtmPsnr), 0);
  EXPECT_THROW(bd_rate({1, 2, 3}, {30, 31, 32}, kVtmBpp, kVtmPsnr), std::invalid_argument);
  EXPECT_THROW(bd_rate({1, 2, 3, 4}, {50, 51, 52, 53}, kVtmBpp, kVtmPsnr), std::invalid_argument);
  EXPECT_THROW(bd_rate({1, 2, 0, 4}, {30, 31, 32, 33}, kVtmBpp, kVtmPsnr), std::invalid_argument);
}

Image photo_like(int w, int h) {  // smooth gradients and an edge: codecs behave normally
  Image img{w, h, 3, std::vector<uint8_t>(size_t(w) * size_t(h) * 3)};
  std::mt19937 rng(9);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.pixels[(size_t(y) * size_t(w) + size_t(x)) * 3 + size_t(c)] =
            uint8_t(std::clamp(int(60 + 2 * x + y + 40 * c + (x > w / 2 ? 50 : 0)) + int(rng() % 5),
                               0, 255));
  return img;
}

TEST(Baselines, EachRoundTripsAndRateFollowsQuality) {
  const Image img = photo_like(70, 45);  // odd sizes on purpose
  for (const std::string& name : baseline_names()) {
    SCOPED_TRACE(name);
    const Baseline b = make_baseline(name);
    EXPECT_FALSE(b.library.empty());
    ASSERT_GE(b.qualities.size(), 4u);  // enough points for a BD-rate
    const auto low = b.encode(img, b.qualities.front()), high = b.encode(img, b.qualities.back());
    EXPECT_LT(low.size(), high.size());
    const Image dl = b.decode(low), dh = b.decode(high);
    ASSERT_EQ(dh.width, img.width);
    ASSERT_EQ(dh.height, img.height);
    ASSERT_EQ(dh.channels, 3);
    EXPECT_GT(nlc::psnr(img, dh), 30);
    EXPECT_GT(nlc::psnr(img, dh), nlc::psnr(img, dl));
    EXPECT_ANY_THROW(b.decode(std::vector<uint8_t>(low.begin(), low.begin() + 10)));
  }
  EXPECT_THROW(make_baseline("gif"), std::invalid_argument);
}

TEST(Report, JsonCsvSvgAndPublishedCurves) {
  Report r;
  r.date = "2026-11-26";
  r.dataset = "set \"A\"";
  r.images = 2;
  Curve c;
  c.name = "nlc";
  c.quality = {0, 1};
  c.samples = {{"a", 0, 100, 0.5, 30, 0.9, 1, 2}, {"b", 0, 300, 1.5, 32, 0.95, 3, 4},
               {"a", 1, 200, 1.0, 34, 0.97, 1, 2}, {"b", 1, 400, 2.0, 36, 0.98, 3, 4}};
  average(c);
  EXPECT_EQ(c.bpp, (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(c.psnr, (std::vector<double>{31, 35}));
  r.curves.push_back(c);
  r.bd_rate["webp"] = "-12.5";
  r.bd_rate["avif"] = "not computed: too few points";
  const std::string json = to_json(r);
  EXPECT_NE(json.find("\"bpp\": [1, 1.5]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"psnr_rgb\": [31, 35]"), std::string::npos);
  EXPECT_NE(json.find("\"webp\": -12.5"), std::string::npos);
  EXPECT_NE(json.find("\"set \\\"A\\\"\""), std::string::npos);  // escaped
  const std::string csv = to_csv(r);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 4 + 2);
  EXPECT_NE(csv.find("nlc,1,average,,1.5,35"), std::string::npos) << csv;
  EXPECT_NE(to_svg(r).find("<polyline"), std::string::npos);

  auto pub = read_published(R"({"VTM": {"bpp": [0.1, 0.2], "psnr_rgb": [30, 32], "x": null},
                                "note": "skipped", "Other": {"bpp": [1]}})");
  ASSERT_EQ(pub.size(), 1u);
  EXPECT_EQ(pub[0].name, "VTM");
  EXPECT_EQ(pub[0].psnr, (std::vector<double>{30, 32}));
  EXPECT_THROW(read_published("{\"a\": {\"bpp\": [1,"), std::runtime_error);
  EXPECT_THROW(read_published("{\"a\": {\"bpp\": [1], \"psnr_rgb\": [1, 2]}}"), std::runtime_error);
}

}  // namespace
}  // namespace nlc::eval
