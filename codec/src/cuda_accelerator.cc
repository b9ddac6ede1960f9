#include "codec/src/cuda_accelerator.h"

#include <variant>

#include "codec/src/tile_jobs.h"
#include "kernels/cuda/cuda.h"
#include "models/hyperprior.h"

namespace nlc {
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

class CudaAccelerator final : public Accelerator {
 public:
  CudaAccelerator(const MeanScaleHyperprior& m, bool tc, bool whole_tiles)
      : g_a_(to_gpu(m.g_a_layers(), tc)), h_a_(to_gpu(m.h_a_layers(), tc)),
        g_s_(to_gpu(m.g_s_layers(), tc)), hs_(m.integer_hs()), model_(m), tensor_cores_(tc),
        whole_tiles_(whole_tiles) {}
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

  bool encode_tile(const Image& tile, const std::vector<float>& gain,
                   const std::vector<QuantizedCdf>& z_tables,
                   const std::vector<QuantizedCdf>& y_tables, std::vector<uint8_t>& z,
                   std::vector<uint8_t>& y) override {
    cuda::TileCodec* t = tiles(z_tables, y_tables);
    if (!t) return false;
    auto s = t->encode(tile.pixels.data(), tile.width, tile.height, tile.channels, gain);
    z = std::move(s.z);
    y = std::move(s.y);
    return true;
  }
  bool decode_tiles(const std::vector<TileDecodeJob>& jobs,
                    const std::vector<QuantizedCdf>& z_tables,
                    const std::vector<QuantizedCdf>& y_tables,
                    std::vector<std::string>& errors) override {
    cuda::TileCodec* t = tiles(z_tables, y_tables);
    if (!t) return false;
    errors = t->decode(tile_jobs(jobs));
    return true;
  }

 private:
  // The tile pipeline for these tables (the codec's, which live as long as it does; built
  // on first use, rebuilt if other tables come).
  cuda::TileCodec* tiles(const std::vector<QuantizedCdf>& z_tables,
                         const std::vector<QuantizedCdf>& y_tables) {
    if (!whole_tiles_) return nullptr;
    if (!tiles_ || tables_z_ != &z_tables || tables_y_ != &y_tables) {
      tiles_ = std::make_unique<cuda::TileCodec>(tile_model(model_, z_tables, y_tables),
                                                 g_a_.get(), h_a_.get(), g_s_.get());
      tables_z_ = &z_tables;
      tables_y_ = &y_tables;
    }
    return tiles_.get();
  }

  std::unique_ptr<cuda::Transform> g_a_, h_a_, g_s_;
  cuda::IntegerHyperSynthesisGpu hs_;
  const MeanScaleHyperprior& model_;
  bool tensor_cores_, whole_tiles_;
  std::unique_ptr<cuda::TileCodec> tiles_;
  const std::vector<QuantizedCdf>* tables_z_ = nullptr;
  const std::vector<QuantizedCdf>* tables_y_ = nullptr;
};

}  // namespace

bool cuda_accelerator_usable(std::string* why) {
  if (cuda::available()) return true;
  if (why) *why = cuda::describe();
  return false;
}

AcceleratorFactory cuda_accelerator(bool tensor_cores, bool whole_tiles) {
  return [tensor_cores, whole_tiles](const MeanScaleHyperprior& model) -> std::unique_ptr<Accelerator> {
    if (!model.has_integer_hs()) throw ModelError("model has no integer h_s");
    return std::make_unique<CudaAccelerator>(model, tensor_cores, whole_tiles);
  };
}

}  // namespace nlc
