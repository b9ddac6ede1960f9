// Optimised CPU kernels: oneDNN convolutions on NHWC tensors, OpenMP elementwise loops.
#include <omp.h>

#include <cmath>
#include <dnnl.hpp>
#include <list>
#include <stdexcept>

#include "kernels/cpu/ops.h"

namespace nlc {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct DnnlContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

DnnlContext& context() {
  static DnnlContext ctx;
  return ctx;
}

}  // namespace

void set_num_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}
int num_threads() { return omp_get_max_threads(); }

struct Conv2d::Impl {
  ConvWeights w;
  bool relu;
  struct Plan {
    Shape in;
    dnnl::primitive prim;
    memory weights, bias;
  };
  std::list<Plan> plans;  // most recently used first; a handful of shapes at most

  Plan& plan_for(const Shape& in) {
    for (auto it = plans.begin(); it != plans.end(); ++it)
      if (it->in == in) {
        plans.splice(plans.begin(), plans, it);
        return plans.front();
      }
    const ConvSpec& s = w.spec;
    Shape out = conv_output_shape(s, in);
    auto& ctx = context();
    memory::dims src_d{in.n, in.c, in.h, in.w}, dst_d{out.n, out.c, out.h, out.w};
    memory::dims wei_d{s.cout, s.cin, s.k, s.k}, bias_d{s.cout};
    memory::dims strides{s.stride, s.stride}, pad_l{s.pad, s.pad};
    // oneDNN wants explicit right padding; PyTorch's output_padding is padding taken away
    // on the right of a transposed convolution's output.
    memory::dims pad_r{s.pad - s.output_padding, s.pad - s.output_padding};
    memory::desc src_md(src_d, dt::f32, tag::nhwc), dst_md(dst_d, dt::f32, tag::nhwc);
    memory::desc wei_any(wei_d, dt::f32, tag::any), bias_md(bias_d, dt::f32, tag::x);
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops po;
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(po);
    }
    Plan p;
    p.in = in;
    memory::desc wei_md;
    if (s.transposed) {
      dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::deconvolution_direct, src_md,
                                          wei_any, bias_md, dst_md, strides, pad_l, pad_r);
      dnnl::deconvolution_forward::primitive_desc pd(d, attr, ctx.engine);
      p.prim = dnnl::deconvolution_forward(pd);
      wei_md = pd.weights_desc();
    } else {
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                        dnnl::algorithm::convolution_direct, src_md, wei_any,
                                        bias_md, dst_md, strides, pad_l, pad_r);
      dnnl::convolution_forward::primitive_desc pd(d, attr, ctx.engine);
      p.prim = dnnl::convolution_forward(pd);
      wei_md = pd.weights_desc();
    }
    // PyTorch layouts: conv weight is [O][I][kh][kw] (oihw); a transposed conv's is
    // [I][O][kh][kw], which oneDNN names iohw.
    memory user_w({wei_d, dt::f32, s.transposed ? tag::iohw : tag::oihw}, ctx.engine,
                  const_cast<float*>(w.weight.data()));
    p.weights = memory(wei_md, ctx.engine);
    dnnl::reorder(user_w, p.weights).execute(ctx.stream, user_w, p.weights);
    p.bias = memory(bias_md, ctx.engine, const_cast<float*>(w.bias.data()));
    ctx.stream.wait();
    plans.push_front(std::move(p));
    if (plans.size() > 8) plans.pop_back();
    return plans.front();
  }
};

Conv2d::Conv2d(ConvWeights w, bool fuse_relu) : impl_(std::make_unique<Impl>()) {
  w.validate();
  impl_->w = std::move(w);
  impl_->relu = fuse_relu;
}
Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) noexcept = default;
Conv2d& Conv2d::operator=(Conv2d&&) noexcept = default;
const ConvSpec& Conv2d::spec() const { return impl_->w.spec; }

Tensor Conv2d::forward(const Tensor& x) {
  Shape out_shape = conv_output_shape(impl_->w.spec, x.shape());
  Impl::Plan& p = impl_->plan_for(x.shape());
  auto& ctx = context();
  Tensor y = Tensor::uninitialized(out_shape);
  const Shape& in = x.shape();
  memory src({{in.n, in.c, in.h, in.w}, dt::f32, tag::nhwc}, ctx.engine,
             const_cast<float*>(x.data()));
  memory dst({{out_shape.n, out_shape.c, out_shape.h, out_shape.w}, dt::f32, tag::nhwc},
             ctx.engine, y.data());
  p.prim.execute(ctx.stream, {{DNNL_ARG_SRC, src},
                              {DNNL_ARG_WEIGHTS, p.weights},
                              {DNNL_ARG_BIAS, p.bias},
                              {DNNL_ARG_DST, dst}});
  ctx.stream.wait();
  return y;
}

static ConvWeights gdn_as_conv(const GdnWeights& g) {
  g.validate();
  ConvWeights w;
  w.spec = ConvSpec{g.channels, g.channels, 1, 1, 0, 0, false};
  w.weight = g.gamma;  // [C_out=i][C_in=j] == gamma[i][j]
  w.bias = g.beta;
  return w;
}

Gdn::Gdn(GdnWeights g) : inverse_(g.inverse), norm_(gdn_as_conv(g)) {}

Tensor Gdn::forward(const Tensor& x) {
  Tensor sq = Tensor::uninitialized(x.shape());
  const float* in = x.data();
  float* s = sq.data();
  const ptrdiff_t n = ptrdiff_t(x.numel());
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < n; ++i) s[i] = in[i] * in[i];
  Tensor y = norm_.forward(sq);
  float* out = y.data();
  if (inverse_) {
#pragma omp parallel for simd schedule(static)
    for (ptrdiff_t i = 0; i < n; ++i) out[i] = in[i] * std::sqrt(out[i]);
  } else {
#pragma omp parallel for simd schedule(static)
    for (ptrdiff_t i = 0; i < n; ++i) out[i] = in[i] / std::sqrt(out[i]);
  }
  return y;
}

void relu_inplace(Tensor& x) {
  float* d = x.data();
  const ptrdiff_t n = ptrdiff_t(x.numel());
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < n; ++i) d[i] = d[i] > 0.f ? d[i] : 0.f;
}

}  // namespace nlc
