#include "models/mshp/cuda/backend.h"

#include <variant>

#include "entropy/cuda/rans_gpu.h"
#include "kernels/cuda/cuda.h"
#include "models/mshp/cuda/mshp_cuda.h"
#include "models/mshp/cuda/tile_jobs.h"

namespace nlc::mshp {
namespace {

std::unique_ptr<cuda::Transform> to_gpu(const Sequential& s, bool tensor_cores) {
  auto t = std::make_unique<cuda::Transform>(tensor_cores);
  for (const auto& layer : s.layers()) {
    if (const auto* c = std::get_if<Sequential::Conv>(&layer))
      t->add_conv(c->w, false);
    else if (const auto* g = std::get_if<Sequential::GdnLayer>(&layer))
      t->add_gdn(g->w);
    else
      t->add_relu();
  }
  return t;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const MeanScaleHyperprior& m, bool tc, bool whole_tiles)
      : g_a_(to_gpu(m.g_a_layers(), tc)), h_a_(to_gpu(m.h_a_layers(), tc)),
        g_s_(to_gpu(m.g_s_layers(), tc)), hs_(m.integer_hs()), model_(m), tensor_cores_(tc),
        whole_tiles_(whole_tiles) {}
  uint64_t batch_pixels() const override { return uint64_t(1) << 25; }
  std::string describe() const override {
    return cuda::describe() + (tensor_cores_ ? ", tensor cores" : ", fp32") +
           (whole_tiles_ ? "" : ", stage by stage");
  }
  Tensor g_a(const Tensor& x) override { return g_a_->forward(x); }
  Tensor h_a(const Tensor& y_g) override { return h_a_->forward(y_g); }
  Tensor g_s(const Tensor& y_hat) override { return g_s_->forward(y_hat); }
  IntegerHyperSynthesis::Output integer_hs(const Tensor& z_hat) override { return hs_.run(z_hat); }
  std::vector<uint8_t> rans_encode(const int32_t* values, const uint16_t* table_index, size_t n,
                                   const std::vector<QuantizedCdf>& tables, uint32_t lanes) override {
    return cuda::rans_encode(values, table_index, n, tables, lanes);
  }
  void rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index, size_t n,
                   const std::vector<QuantizedCdf>& tables, int32_t* values) override {
    cuda::rans_decode(data, size, table_index, n, tables, values);
  }

  bool encode_tile(const Image& tile, const std::vector<float>& gain, std::vector<uint8_t>& z,
                   std::vector<uint8_t>& y) override {
    cuda::TileCodec* t = tiles();
    if (!t) return false;
    auto s = t->encode(tile.pixels.data(), tile.width, tile.height, tile.channels, gain);
    z = std::move(s.z);
    y = std::move(s.y);
    return true;
  }
  bool decode_tiles(const std::vector<TileDecodeJob>& jobs,
                    std::vector<std::string>& errors) override {
    cuda::TileCodec* t = tiles();
    if (!t) return false;
    errors = t->decode(cuda::tile_jobs(jobs));
    return true;
  }

 private:
  // The tile pipeline (built on first use).
  cuda::TileCodec* tiles() {
    if (!whole_tiles_) return nullptr;
    if (!tiles_)
      tiles_ = std::make_unique<cuda::TileCodec>(cuda::tile_model(model_), g_a_.get(), h_a_.get(),
                                                 g_s_.get());
    return tiles_.get();
  }

  std::unique_ptr<cuda::Transform> g_a_, h_a_, g_s_;
  cuda::IntegerHyperSynthesisGpu hs_;
  const MeanScaleHyperprior& model_;
  bool tensor_cores_, whole_tiles_;
  std::unique_ptr<cuda::TileCodec> tiles_;
};

}  // namespace

std::unique_ptr<ArchBackend> cuda_backend(const MeanScaleHyperprior& model,
                                          const BackendOptions& options) {
  if (!model.has_integer_hs()) throw ModelError("model has no integer h_s");
  return std::make_unique<CudaBackend>(model, options.tensor_cores, options.whole_tiles);
}

}  // namespace nlc::mshp
