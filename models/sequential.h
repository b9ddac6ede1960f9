// A chain of layers (convolutions, GDN/IGDN, ReLU) that runs on either CPU kernel set: the
// transforms of any architecture built from these layers (g_a, h_a, g_s, ...). Other
// backends (the CUDA one) build their own copies from layers().
#pragma once

#include <memory>
#include <variant>
#include <vector>

#include "kernels/cpu/ops.h"
#include "models/architecture.h"
#include "models/nlcm.h"

namespace nlc {

// The optimised kernels fuse a ReLU that follows a convolution into it.
class Sequential {
 public:
  struct Conv {
    ConvWeights w;
    std::unique_ptr<Conv2d> fast;
  };
  struct GdnLayer {
    GdnWeights w;
    std::unique_ptr<Gdn> fast;
  };
  struct Relu {};
  using Layer = std::variant<Conv, GdnLayer, Relu>;

  void add(Layer l);
  void prepare();  // builds the optimised objects (fusing ReLUs)
  Tensor forward(const Tensor& x, Kernels k);
  // The layers, in order (other backends, e.g. the CUDA one, build from them).
  const std::vector<Layer>& layers() const { return layers_; }

 private:
  std::vector<Layer> layers_;
  std::vector<bool> fused_;  // layer i is a ReLU fused into layer i-1
};

// Layers read from a model file: `name`.weight and `name`.bias in PyTorch's layouts (a
// transposed convolution gets output_padding stride - 1, as the trainer's layers), and a
// GDN's `name`.beta and `name`.gamma.
Sequential::Conv conv_layer(const ModelFile& f, const std::string& name, int cin, int cout,
                            int k, int stride, bool transposed);
Sequential::GdnLayer gdn_layer(const ModelFile& f, const std::string& name, int c, bool inverse);

}  // namespace nlc
