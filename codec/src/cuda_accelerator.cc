#include "codec/src/cuda_accelerator.h"

#include <variant>

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
  CudaAccelerator(const MeanScaleHyperprior& m, bool tc)
      : g_a_(to_gpu(m.g_a_layers(), tc)), h_a_(to_gpu(m.h_a_layers(), tc)),
        g_s_(to_gpu(m.g_s_layers(), tc)), hs_(m.integer_hs()), tensor_cores_(tc) {}
  std::string describe() const override {
    return cuda::describe() + (tensor_cores_ ? ", tensor cores" : ", fp32");
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

 private:
  std::unique_ptr<cuda::Transform> g_a_, h_a_, g_s_;
  cuda::IntegerHyperSynthesisGpu hs_;
  bool tensor_cores_;
};

}  // namespace

bool cuda_accelerator_usable(std::string* why) {
  if (cuda::available()) return true;
  if (why) *why = cuda::describe();
  return false;
}

AcceleratorFactory cuda_accelerator(bool tensor_cores) {
  return [tensor_cores](const MeanScaleHyperprior& model) -> std::unique_ptr<Accelerator> {
    if (!model.has_integer_hs()) throw ModelError("model has no integer h_s");
    return std::make_unique<CudaAccelerator>(model, tensor_cores);
  };
}

}  // namespace nlc
