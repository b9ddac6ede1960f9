#include "models/sequential.h"

namespace nlc {

void Sequential::prepare() {
  fused_.assign(layers_.size(), false);
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (auto* c = std::get_if<Conv>(&layers_[i])) {
      bool relu_next = i + 1 < layers_.size() && std::holds_alternative<Relu>(layers_[i + 1]);
      c->fast = std::make_unique<Conv2d>(c->w, relu_next);
      if (relu_next) fused_[i + 1] = true;
    } else if (auto* g = std::get_if<GdnLayer>(&layers_[i])) {
      g->fast = std::make_unique<Gdn>(g->w);
    }
  }
}

// Out of line: inlined into a loop of adds, GCC 12 warns (falsely) that moving the vector's
// variants on growth reads their inactive members.
void Sequential::add(Layer l) { layers_.push_back(std::move(l)); }

Tensor Sequential::forward(const Tensor& x, Kernels k) {
  Tensor cur = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    if (auto* c = std::get_if<Conv>(&l)) {
      cur = k == Kernels::kReference ? ref::conv2d(cur, c->w) : c->fast->forward(cur);
    } else if (auto* g = std::get_if<GdnLayer>(&l)) {
      cur = k == Kernels::kReference ? ref::gdn(cur, g->w) : g->fast->forward(cur);
    } else if (k == Kernels::kReference) {
      ref::relu(cur);
    } else if (!fused_[i]) {
      relu_inplace(cur);
    }
  }
  return cur;
}


Sequential::Conv conv_layer(const ModelFile& f, const std::string& name, int cin, int cout,
                            int k, int stride, bool transposed) {
  Sequential::Conv c;
  c.w.spec = ConvSpec{cin, cout, k, stride, k / 2, transposed ? stride - 1 : 0, transposed};
  std::vector<int64_t> wd = transposed ? std::vector<int64_t>{cin, cout, k, k}
                                       : std::vector<int64_t>{cout, cin, k, k};
  c.w.weight = f.tensor(name + ".weight", wd).data;
  c.w.bias = f.tensor(name + ".bias", {cout}).data;
  return c;
}

Sequential::GdnLayer gdn_layer(const ModelFile& f, const std::string& name, int c,
                               bool inverse) {
  Sequential::GdnLayer g;
  g.w.channels = c;
  g.w.inverse = inverse;
  g.w.beta = f.tensor(name + ".beta", {c}).data;
  g.w.gamma = f.tensor(name + ".gamma", {c, c}).data;
  return g;
}


}  // namespace nlc
