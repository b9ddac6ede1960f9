// CUDA kernels against the plain reference. Links only the reference kernels and the CUDA
// path (no oneDNN), so that the binary can be carried to a GPU machine and run there
// (bench/gpu_check.sh). Every test skips cleanly where no GPU is usable.
#include <gtest/gtest.h>

#include <filesystem>

#include "entropy/cuda/rans_gpu.h"
#include "kernels/cuda/cuda.h"
#include "models/mshp/cuda/mshp_cuda.h"
#include "models/mshp/integer_hs.h"
#include "models/nlcm.h"
#include "rans_test_util.h"
#include "test_util.h"

namespace nlc {
namespace {

TEST(Cuda, DescribesTheDevice) {
  std::string d = cuda::describe();
  std::printf("%s\n", d.c_str());
  EXPECT_FALSE(d.empty());
}

TEST(Cuda, GdnMatchesReference) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device: " << cuda::describe();
  std::mt19937 rng(11);
  for (int c : {3, 128, 192})
    for (bool inverse : {false, true}) {
      GdnWeights g = test::random_gdn(c, inverse, rng);
      Tensor x = test::random_tensor(Shape{1, 17, 23, c}, rng, -3.f, 3.f);
      double e = test::max_rel_error(cuda::gdn(x, g), ref::gdn(x, g));
      std::printf("GDN C=%d inverse=%d rel err %.2e\n", c, int(inverse), e);
      EXPECT_LT(e, 1e-5) << "C=" << c;
    }
}

// cuDNN convolutions and transposed convolutions (PyTorch semantics, output_padding
// included) against the double-accumulating reference.
TEST(Cuda, ConvMatchesReference) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device: " << cuda::describe();
  std::mt19937 rng(12);
  const ConvSpec specs[] = {{3, 16, 5, 2, 2, 0, false},   {16, 24, 3, 1, 1, 0, false},
                            {24, 8, 1, 1, 0, 0, false},   {16, 12, 5, 2, 2, 1, true},
                            {12, 3, 5, 2, 2, 1, true},    {8, 8, 3, 1, 1, 0, true}};
  for (const ConvSpec& s : specs) {
    const ConvWeights w = test::random_conv(s, rng);
    const Tensor x = test::random_tensor(Shape{2, 13, 19, s.cin}, rng);
    const double e = test::max_rel_error(cuda::conv2d(x, w), ref::conv2d(x, w));
    std::printf("conv cin=%d cout=%d k=%d s=%d transposed=%d rel err %.2e\n", s.cin, s.cout, s.k,
                s.stride, int(s.transposed), e);
    EXPECT_LT(e, 1e-5);
  }
}

// A g_s-like chain (transposed conv, IGDN, transposed conv + ReLU, conv) in one Transform
// against the same layers run one by one on the reference.
TEST(Cuda, TransformChainMatchesReference) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device: " << cuda::describe();
  std::mt19937 rng(13);
  const ConvWeights c1 = test::random_conv({32, 24, 5, 2, 2, 1, true}, rng),
                    c2 = test::random_conv({24, 16, 5, 2, 2, 1, true}, rng),
                    c3 = test::random_conv({16, 3, 3, 1, 1, 0, false}, rng);
  const GdnWeights g = test::random_gdn(24, true, rng);
  cuda::Transform t;
  t.add_conv(c1, false);
  t.add_gdn(g);
  t.add_conv(c2, false);
  t.add_relu();
  t.add_conv(c3, false);
  const Tensor x = test::random_tensor(Shape{1, 9, 14, 32}, rng, -2.f, 2.f);
  Tensor r = ref::gdn(ref::conv2d(x, c1), g);
  r = ref::conv2d(r, c2);
  ref::relu(r);
  r = ref::conv2d(r, c3);
  const double e = test::max_rel_error(t.forward(x), r);
  std::printf("chain rel err %.2e\n", e);
  EXPECT_LT(e, 1e-5);
}

// GPU rANS: byte-identical streams with the CPU encoder, identical values (or the same
// rejection) as the CPU decoder, over random distributions with escapes, any lane count
// (including more lanes than symbols), truncations and bit flips. Each test runs the CUDA
// kernels where a GPU is usable, and always the same lane functions in host emulation, so
// the kernels' arithmetic is checked on machines without a GPU too.
struct GpuCoder {
  const char* name;
  decltype(&cuda::rans_encode) encode;
  decltype(&cuda::rans_decode) decode;
  decltype(&cuda::rans_decode_batch) decode_batch;
};

std::vector<GpuCoder> coders() {
  std::vector<GpuCoder> v{{"host emulation", cuda::host_emulation::rans_encode,
                           cuda::host_emulation::rans_decode,
                           cuda::host_emulation::rans_decode_batch}};
  if (cuda::available())
    v.push_back({"CUDA", cuda::rans_encode, cuda::rans_decode, cuda::rans_decode_batch});
  return v;
}

TEST(CudaRans, StreamsAndValuesIdenticalToTheCpu) {
  for (const GpuCoder& c : coders()) {
    SCOPED_TRACE(c.name);
    std::mt19937 rng(21);
    for (int trial = 0; trial < 12; ++trial) {
      auto tables = test::random_tables(rng, 1 + trial % 5);
      const size_t n = std::uniform_int_distribution<size_t>(0, 20000)(rng);
      std::vector<uint16_t> idx(n);
      for (auto& i : idx) i = uint16_t(rng() % tables.size());
      const auto values = test::draw(tables, idx, rng);
      for (uint32_t lanes : {1u, 7u, 64u, 4096u, 30000u}) {
        const auto cpu = rans_encode(values.data(), idx.data(), n, tables, lanes);
        const auto gpu = c.encode(values.data(), idx.data(), n, tables, lanes);
        ASSERT_EQ(gpu, cpu) << "trial " << trial << " lanes " << lanes;
        std::vector<int32_t> back(n, 777);
        c.decode(cpu.data(), cpu.size(), idx.data(), n, tables, back.data());
        ASSERT_EQ(back, values) << "trial " << trial << " lanes " << lanes;
      }
    }
  }
  if (!cuda::available()) GTEST_SKIP() << "checked in host emulation only: " << cuda::describe();
}

TEST(CudaRans, CorruptStreamsBehaveAsOnTheCpu) {
  for (const GpuCoder& c : coders()) {
    SCOPED_TRACE(c.name);
    std::mt19937 rng(22);
    const size_t n = 3000;
    const auto [tables, idx, values] = test::random_symbols(22, 3, n);
    const auto bytes = rans_encode(values.data(), idx.data(), n, tables, 19);
    std::vector<int32_t> out(n);
    for (size_t len = 0; len < bytes.size(); len += 7)
      EXPECT_THROW(c.decode(bytes.data(), len, idx.data(), n, tables, out.data()), StreamError)
          << "prefix " << len;
    int rejected = 0;
    for (int k = 0; k < 300; ++k) {
      auto bad = bytes;
      bad[rng() % bad.size()] ^= uint8_t(1u << (rng() % 8));
      std::vector<int32_t> a(n, 0), b(n, 0);
      bool threw_cpu = false, threw_gpu = false;
      try {
        rans_decode(bad.data(), bad.size(), idx.data(), n, tables, a.data(), RansImpl::kScalar);
      } catch (const StreamError&) {
        threw_cpu = true;
      }
      try {
        c.decode(bad.data(), bad.size(), idx.data(), n, tables, b.data());
      } catch (const StreamError&) {
        threw_gpu = true;
        ++rejected;
      }
      EXPECT_EQ(threw_cpu, threw_gpu) << "flip " << k;
      if (!threw_cpu && !threw_gpu) {
        EXPECT_EQ(a, b) << "flip " << k;
      }
    }
    EXPECT_GT(rejected, 200);
  }
  if (!cuda::available()) GTEST_SKIP() << "checked in host emulation only: " << cuda::describe();
}

// Many streams in one launch: each decodes to its own values; a bad one is named.
TEST(CudaRans, BatchDecodesEachStream) {
  for (const GpuCoder& c : coders()) {
    SCOPED_TRACE(c.name);
    std::mt19937 rng(23);
    const auto tables = test::random_tables(rng, 4);
    struct Stream {
      std::vector<uint16_t> idx;
      std::vector<int32_t> values, out;
      std::vector<uint8_t> bytes;
    };
    std::vector<Stream> streams(6);
    std::vector<cuda::RansDecodeJob> jobs;
    for (size_t j = 0; j < streams.size(); ++j) {
      Stream& st = streams[j];
      const size_t n = j == 2 ? 0 : 1000 + 3000 * j;  // one empty stream
      st.idx.resize(n);
      for (auto& i : st.idx) i = uint16_t(rng() % tables.size());
      st.values = test::draw(tables, st.idx, rng);
      st.bytes = rans_encode(st.values.data(), st.idx.data(), n, tables, uint32_t(1 + j * 5));
      st.out.assign(n, -1);
      jobs.push_back({st.bytes.data(), st.bytes.size(), st.idx.data(), n, st.out.data()});
    }
    c.decode_batch(jobs, tables);
    for (const Stream& st : streams) EXPECT_EQ(st.out, st.values);
    auto bad = streams[4].bytes;
    bad[bad.size() / 2] ^= 0x10;
    jobs[4].data = bad.data();
    try {
      c.decode_batch(jobs, tables);
      // A flip the coder cannot see is possible; then the CPU must agree it decodes.
      std::vector<int32_t> v(streams[4].idx.size());
      rans_decode(bad.data(), bad.size(), streams[4].idx.data(), v.size(), tables, v.data());
    } catch (const StreamError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("stream 4: ", 0), 0u) << e.what();
    }
    EXPECT_NO_THROW(c.decode_batch({}, tables));
  }
  if (!cuda::available()) GTEST_SKIP() << "checked in host emulation only: " << cuda::describe();
}

// Integer h_s: identical mu_q, sigma_q and scale indices to the CPU on the shipped model
// and the tiny test model, for z values inside and beyond the clamp range.
std::string model_path(const char* relative) {
  const std::filesystem::path compiled = std::filesystem::path(NLC_SOURCE_DIR) / relative;
  return std::filesystem::exists(compiled) ? compiled.string() : relative;  // GPU machine: cwd
}

TEST(CudaIntegerHs, IdenticalToTheCpu) {
  bool gpu_ran = false;
  for (const char* m : {"models/mshp-gain-v1.nlcm", "tests/data/tiny.nlcm"}) {
    SCOPED_TRACE(m);
    const ModelFile f = load_model_file(model_path(m));
    const IntegerHyperSynthesis ihs(f, int(f.param_int("N")), int(f.param_int("M")));
    std::mt19937 rng(31);
    for (Shape shape : {Shape{1, 1, 1, 0}, Shape{1, 5, 7, 0}, Shape{2, 3, 4, 0}}) {
      shape.c = int(f.param_int("N"));
      Tensor z(shape);
      std::uniform_int_distribution<int> small(-12, 12), any(-400, 400);
      for (size_t i = 0; i < z.numel(); ++i) z.data()[i] = float(i % 17 ? small(rng) : any(rng));
      const auto cpu = ihs.run(z);
      std::vector<IntegerHyperSynthesis::Output> others{cuda::host_emulation::integer_hs(ihs, z)};
      if (cuda::available()) {
        others.push_back(cuda::IntegerHyperSynthesisGpu(ihs).run(z));
        gpu_ran = true;
      }
      for (const auto& o : others) {
        EXPECT_EQ(o.mu_q, cpu.mu_q);
        EXPECT_EQ(o.sigma_q, cpu.sigma_q);
        EXPECT_EQ(o.index, cpu.index);
        EXPECT_EQ(o.h, cpu.h);
        EXPECT_EQ(o.w, cpu.w);
      }
    }
  }
  if (!gpu_ran) GTEST_SKIP() << "checked in host emulation only: " << cuda::describe();
}

}  // namespace
}  // namespace nlc
