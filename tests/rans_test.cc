// rANS lane coder: property tests over random distributions, extreme probabilities,
// escapes, empty and one-symbol lanes, and corrupted streams.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <random>

#include <omp.h>

#include "entropy/rans.h"
#include "rans_test_util.h"

namespace nlc {
namespace {

using test::draw;
using test::random_tables;

// The fast decoders, each checked against the scalar reference.
std::vector<RansImpl> fast_impls() {
  std::vector<RansImpl> v{RansImpl::kInterleaved};
  if (rans_avx2_available()) v.push_back(RansImpl::kAvx2);
  return v;
}
const char* name(RansImpl impl) { return impl == RansImpl::kAvx2 ? "AVX2" : "interleaved"; }

TEST(Rans, QuantizedPmfIsValidAndDeterministic) {
  std::vector<double> pmf{0.5, 0.25, 0.0, 1e-12, 0.25};
  QuantizedCdf a = quantize_pmf(pmf, 1e-9, -2), b = quantize_pmf(pmf, 1e-9, -2);
  EXPECT_EQ(a.cdf, b.cdf);
  EXPECT_EQ(a.num_symbols(), 6);
  EXPECT_EQ(a.cdf.back(), kProbTotal);
  for (int s = 0; s < a.num_symbols(); ++s) EXPECT_GE(a.cdf[s + 1] - a.cdf[s], 1u);
  EXPECT_NEAR(double(a.cdf[1] - a.cdf[0]) / kProbTotal, 0.5, 1e-3);
  EXPECT_THROW(quantize_pmf({0.0, 0.0}, 0.0, 0), std::invalid_argument);
  EXPECT_THROW(quantize_pmf({-1.0}, 0.0, 0), std::invalid_argument);
}

TEST(Rans, RoundTripsRandomDistributionsAnyLaneCount) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 20; ++trial) {
    auto tables = random_tables(rng, 1 + trial % 7);
    size_t n = std::uniform_int_distribution<size_t>(0, 5000)(rng);
    std::vector<uint16_t> idx(n);
    for (auto& i : idx) i = uint16_t(rng() % tables.size());
    auto values = draw(tables, idx, rng);
    std::vector<uint8_t> first;
    for (uint32_t lanes : {1u, 2u, 7u, 64u, 9000u}) {  // 9000 > n: empty lanes
      auto bytes = rans_encode(values.data(), idx.data(), n, tables, lanes);
      std::vector<int32_t> back(n, 12345);
      rans_decode(bytes.data(), bytes.size(), idx.data(), n, tables, back.data(), RansImpl::kScalar);
      ASSERT_EQ(back, values) << "trial " << trial << " lanes " << lanes;
      for (RansImpl impl : fast_impls()) {
        std::vector<int32_t> fast(n, 54321);
        rans_decode(bytes.data(), bytes.size(), idx.data(), n, tables, fast.data(), impl);
        ASSERT_EQ(fast, values) << name(impl) << ", trial " << trial << " lanes " << lanes;
      }
      // Deterministic: the same input gives the same bytes.
      EXPECT_EQ(bytes, rans_encode(values.data(), idx.data(), n, tables, lanes));
    }
  }
}

TEST(Rans, OneSymbolLanesAndEmptyInput) {
  auto t = std::vector<QuantizedCdf>{quantize_pmf({1, 2, 3}, 0.01, 0)};
  std::vector<int32_t> v{2, 0, -7, 1};
  std::vector<uint16_t> idx(4, 0);
  auto bytes = rans_encode(v.data(), idx.data(), 4, t, 4);
  std::vector<int32_t> back(4);
  rans_decode(bytes.data(), bytes.size(), idx.data(), 4, t, back.data());
  EXPECT_EQ(back, v);
  auto empty = rans_encode(nullptr, nullptr, 0, t, 1);
  EXPECT_EQ(empty.size(), 12u);  // lane count, one length, one 4-byte state
  rans_decode(empty.data(), empty.size(), nullptr, 0, t, nullptr);
}

TEST(Rans, ExtremeProbabilitiesCodeAtTheirCost) {
  // One symbol takes all but 2^-16 of each other symbol's mass.
  std::vector<double> pmf(100, 0.0);
  pmf[50] = 1.0;
  auto t = std::vector<QuantizedCdf>{quantize_pmf(pmf, 0.0, -50)};
  ASSERT_EQ(t[0].cdf[51] - t[0].cdf[50], kProbTotal - 100);
  std::mt19937 rng(3);
  const size_t n = 200000;
  std::vector<int32_t> v(n, 0);
  std::vector<uint16_t> idx(n, 0);
  for (int k = 0; k < 50; ++k) v[rng() % n] = int32_t(rng() % 99) - 50;  // rare symbols
  double ideal = 0;
  for (int32_t x : v) {
    size_t s = size_t(x + 50);
    ideal -= std::log2(double(t[0].cdf[s + 1] - t[0].cdf[s]) / kProbTotal);
  }
  auto bytes = rans_encode(v.data(), idx.data(), n, t, 16);
  for (RansImpl impl : {RansImpl::kScalar, RansImpl::kInterleaved, RansImpl::kAvx2}) {
    if (impl == RansImpl::kAvx2 && !rans_avx2_available()) continue;
    std::vector<int32_t> back(n);
    rans_decode(bytes.data(), bytes.size(), idx.data(), n, t, back.data(), impl);
    EXPECT_EQ(back, v) << int(impl);
  }
  // Within 1% of the ideal plus the fixed overhead (header, lengths, final states).
  EXPECT_LT(double(bytes.size()) * 8, ideal * 1.01 + 8 * (4 + 16 * 8));
}

TEST(Rans, TruncationsAndCorruptionNeverCrash) {
  std::mt19937 rng(5);
  const size_t n = 3000;
  const auto [tables, idx, values] = test::random_symbols(5, 3, n);
  // 19 lanes: two groups of 8 for the group decoders, then 3 left over.
  auto bytes = rans_encode(values.data(), idx.data(), n, tables, 19);
  std::vector<int32_t> back(n);
  std::vector<RansImpl> impls = fast_impls();
  impls.push_back(RansImpl::kScalar);
  for (RansImpl impl : impls)
    for (size_t len = 0; len < bytes.size(); ++len)
      EXPECT_THROW(rans_decode(bytes.data(), len, idx.data(), n, tables, back.data(), impl),
                   StreamError)
          << "prefix " << len;
  int detected = 0;
  for (int k = 0; k < 2000; ++k) {
    auto bad = bytes;
    bad[rng() % bad.size()] ^= uint8_t(1u << (rng() % 8));
    // A flip the coder cannot see decodes to other values (the container CRC's job); the
    // fast decoders must then agree with the reference exactly, or all must reject.
    std::vector<int32_t> a(n, 0);
    bool threw_a = false;
    try {
      rans_decode(bad.data(), bad.size(), idx.data(), n, tables, a.data(), RansImpl::kScalar);
    } catch (const StreamError&) {
      threw_a = true;
      ++detected;
    }
    for (RansImpl impl : fast_impls()) {
      std::vector<int32_t> b(n, 0);
      bool threw_b = false;
      try {
        rans_decode(bad.data(), bad.size(), idx.data(), n, tables, b.data(), impl);
      } catch (const StreamError&) {
        threw_b = true;
      }
      EXPECT_EQ(threw_a, threw_b) << name(impl) << ", flip " << k;
      if (!threw_a && !threw_b) {
        EXPECT_EQ(a, b) << name(impl) << ", flip " << k;
      }
    }
  }
  // The final-state check alone catches most flips.
  EXPECT_GT(detected, 1500);
}

// Large tensors decode their lanes on several threads: the values, and the error a corrupt
// stream gives, must not depend on the thread count.
// One lane written directly from (start, freq) steps, as the coder's encoder writes them
// (reverse order, 16-bit renormalisation): for streams no valid encoder produces.
std::vector<uint8_t> craft_lane_stream(const std::vector<std::pair<uint32_t, uint32_t>>& ops) {
  std::vector<uint16_t> words;
  uint32_t x = 1u << 16;
  for (size_t i = ops.size(); i-- > 0;) {
    const auto [start, freq] = ops[i];
    if (x >= uint64_t(freq) << 16) {
      words.push_back(uint16_t(x & 0xFFFF));
      x >>= 16;
    }
    x = ((x / freq) << kPrecisionBits) + (x % freq) + start;
  }
  std::vector<uint8_t> lane;
  for (int b = 0; b < 4; ++b) lane.push_back(uint8_t(x >> (8 * b)));
  for (size_t i = words.size(); i-- > 0;) {
    lane.push_back(uint8_t(words[i] & 0xFF));
    lane.push_back(uint8_t(words[i] >> 8));
  }
  std::vector<uint8_t> s = {1, 0, 0, 0};
  for (int b = 0; b < 4; ++b) s.push_back(uint8_t(lane.size() >> (8 * b)));
  s.insert(s.end(), lane.begin(), lane.end());
  return s;
}

// An escape longer than any int32 needs (16 four-bit chunks, an even folded distance near
// 2^64) is refused before its value is assembled: the old check let 16 chunks through and
// the signed arithmetic overflowed (UBSan aborted on it); 9 chunks is the most a valid
// stream has. The same crafted stream decodes fine when shortened to the longest valid
// escape.
TEST(Rans, OverlongEscapesAreRefusedBeforeTheirArithmetic) {
  const QuantizedCdf t = quantize_pmf({1.0, 1.0}, 1.0, 0);  // values 0, 1, then the escape
  const std::vector<QuantizedCdf> tables = {t};
  const uint32_t bf = kProbTotal >> 4;
  auto escape = [&](uint32_t chunks, uint32_t low_nibble) {
    std::vector<std::pair<uint32_t, uint32_t>> ops = {{t.cdf[2], t.cdf[3] - t.cdf[2]}};
    for (uint32_t c = chunks;; c -= 15) {  // the count, in unary groups of 15
      ops.push_back({std::min(c, 15u) * bf, bf});
      if (c < 15) break;
    }
    ops.push_back({low_nibble * bf, bf});
    for (uint32_t c = 1; c < chunks; ++c) ops.push_back({15u * bf, bf});  // 0xF...FE
    return craft_lane_stream(ops);
  };
  const uint16_t idx = 0;
  int32_t v = 0;
  for (RansImpl impl : {RansImpl::kScalar, RansImpl::kInterleaved, RansImpl::kAvx2}) {
    if (impl == RansImpl::kAvx2 && !rans_avx2_available()) continue;
    const auto long_escape = escape(16, 14);
    try {
      rans_decode(long_escape.data(), long_escape.size(), &idx, 1, tables, &v, impl);
      ADD_FAILURE() << "a 16-chunk escape was accepted";
    } catch (const StreamError& e) {
      EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
    }
    const auto ten = escape(10, 14);
    EXPECT_THROW(rans_decode(ten.data(), ten.size(), &idx, 1, tables, &v, impl), StreamError);
    // 9 chunks (the most a valid stream uses), folded distance 0xffffffffe: past int32.
    const auto nine = escape(9, 14);
    EXPECT_THROW(rans_decode(nine.data(), nine.size(), &idx, 1, tables, &v, impl), StreamError);
  }
  // The longest escapes valid encoders write decode.
  const std::vector<int32_t> extremes = {INT32_MIN, INT32_MAX};
  const std::vector<uint16_t> idx2(2, 0);
  const auto s = rans_encode(extremes.data(), idx2.data(), 2, tables, 1);
  std::vector<int32_t> back(2);
  rans_decode(s.data(), s.size(), idx2.data(), 2, tables, back.data(), RansImpl::kScalar);
  EXPECT_EQ(back, extremes);
}

TEST(Rans, ThreadCountDoesNotChangeResults) {
  const size_t n = 300000;
  const auto [tables, idx, values] = test::random_symbols(9, 4, n);
  const auto bytes = rans_encode(values.data(), idx.data(), n, tables, 61);
  const int saved = omp_get_max_threads();
  // The error each corrupt stream gives on one thread (and whether the reference rejects it).
  std::vector<std::string> one_thread;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    std::vector<int32_t> back(n);
    rans_decode(bytes.data(), bytes.size(), idx.data(), n, tables, back.data());
    EXPECT_EQ(back, values) << threads << " threads";
    for (int k = 0; k < 40; ++k) {
      auto bad = bytes;
      std::mt19937 flip{unsigned(k)};
      bad[4 + 4 * 61 + flip() % (bad.size() - 4 - 4 * 61)] ^= uint8_t(1u << (flip() % 8));
      std::string error = "none";
      try {
        rans_decode(bad.data(), bad.size(), idx.data(), n, tables, back.data());
      } catch (const StreamError& e) {
        error = e.what();
      }
      if (threads == 1) {
        bool rejected = false;
        try {
          rans_decode(bad.data(), bad.size(), idx.data(), n, tables, back.data(), RansImpl::kScalar);
        } catch (const StreamError&) {
          rejected = true;
        }
        EXPECT_EQ(rejected, error != "none") << "flip " << k;
        one_thread.push_back(error);
      } else {
        EXPECT_EQ(error, one_thread[size_t(k)]) << threads << " threads, flip " << k;
      }
    }
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace nlc
