// A chain of convolutions (cuDNN), GDN/IGDN (x^2, a cuDNN 1x1 convolution by gamma, then
// one elementwise kernel: as the CPU path) and ReLUs on the GPU: g_a, h_a and g_s with one
// upload and one download per call.
//
// Tensors stay NHWC float32 (as on the CPU). Convolutions run in fp32 with
// CUDNN_FMA_MATH (no TF32), so results stay within the golden-parity tolerance of the CPU.
// A transposed convolution is cuDNN's backward-data of the forward convolution whose
// filter is PyTorch's ConvTranspose2d weight [cin][cout][k][k] read as [K][C][R][S]; the
// output size (with PyTorch's output_padding) is the one we ask for. Filters are stored
// KRSC (NHWC) to match the activations. Bias and a following ReLU are one small kernel.
#include <cudnn.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda.h"

#define NLC_CUDNN_CHECK(expr)                                                         \
  do {                                                                                \
    cudnnStatus_t st_ = (expr);                                                       \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                  \
      throw std::runtime_error(std::string("cuDNN error in ") + #expr + ": " +        \
                               cudnnGetErrorString(st_));                             \
  } while (0)

namespace nlc::cuda {

namespace {

__global__ void square_kernel(const float* x, float* y, long long total) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < total) y[i] = x[i] * x[i];
}

// y = x / sqrt(beta + norm) (GDN) or x * sqrt(beta + norm) (IGDN); norm = gamma * x^2.
__global__ void gdn_finish_kernel(const float* x, const float* norm, const float* beta, float* y,
                                  long long total, int C, bool inverse) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const float n = beta[i % C] + norm[i];
  y[i] = inverse ? x[i] * sqrtf(n) : x[i] * rsqrtf(n);
}

unsigned blocks_for(long long total) { return unsigned((total + 255) / 256); }

__global__ void bias_relu_kernel(float* y, const float* bias, long long total, int C, bool relu) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const float v = y[i] + bias[i % C];
  y[i] = relu && v < 0.f ? 0.f : v;
}

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  explicit TensorDesc(const Shape& s) {
    NLC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    NLC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

// The fastest algorithm cuDNN reports as usable (results come sorted by time).
template <class Perf>
int first_usable(const Perf* perf, int found, const char* what) {
  for (int i = 0; i < found; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) return i;
  throw std::runtime_error(std::string("cuDNN: no ") + what + " algorithm for this shape");
}

}  // namespace

struct Transform::Layer {
  enum Kind { kConv, kGdn } kind;
  ConvSpec spec;
  bool relu = false;
  GdnWeights gdn;  // sizes only for kGdn (weights on the device)
  std::unique_ptr<DeviceBuffer<float>> w, b;  // conv: filter (KRSC) and bias; GDN: gamma, beta
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  // cuDNN's algorithm choice per input shape (n, h, w): asked once, not per call.
  std::map<std::tuple<int, int, int>, int> algo;
  ~Layer() {
    if (filter) cudnnDestroyFilterDescriptor(filter);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

Transform::Transform(bool tensor_cores) : tensor_cores_(tensor_cores) {
  if (!available()) throw std::runtime_error("no usable CUDA device");
  NLC_CUDNN_CHECK(cudnnCreate(reinterpret_cast<cudnnHandle_t*>(&handle_)));
}

Transform::~Transform() {
  layers_.clear();
  if (handle_) cudnnDestroy(static_cast<cudnnHandle_t>(handle_));
}

void Transform::add_conv(const ConvWeights& cw, bool relu_after) {
  cw.validate();
  const ConvSpec& s = cw.spec;
  auto l = std::make_unique<Layer>();
  l->kind = Layer::kConv;
  l->spec = s;
  l->relu = relu_after;
  // The filter cuDNN sees: forward conv [K][C][R][S] = conv [cout][cin] or transposed
  // [cin][cout]; stored as [K][R][S][C].
  const int K = s.transposed ? s.cin : s.cout, C = s.transposed ? s.cout : s.cin, R = s.k;
  std::vector<float> krsc(cw.weight.size());
  for (int k = 0; k < K; ++k)
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < R; ++q)
          krsc[((size_t(k) * R + r) * R + q) * C + c] = cw.weight[((size_t(k) * C + c) * R + r) * R + q];
  l->w = std::make_unique<DeviceBuffer<float>>(krsc.data(), krsc.size());
  l->b = std::make_unique<DeviceBuffer<float>>(cw.bias.data(), cw.bias.size());
  NLC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&l->filter));
  NLC_CUDNN_CHECK(cudnnSetFilter4dDescriptor(l->filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, K, C, R, R));
  NLC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&l->conv));
  NLC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(l->conv, s.pad, s.pad, s.stride, s.stride, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  NLC_CUDNN_CHECK(cudnnSetConvolutionMathType(
      l->conv, tensor_cores_ ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : CUDNN_FMA_MATH));
  layers_.push_back(std::move(l));
}

// GDN as on the CPU: x^2, a 1x1 convolution by gamma (cuDNN: gamma [C][C], row i holding
// gamma_ij, is a [K][C] filter as it stands), then beta, the (inverse) square root and x.
void Transform::add_gdn(const GdnWeights& g) {
  g.validate();
  auto l = std::make_unique<Layer>();
  l->kind = Layer::kGdn;
  l->gdn.channels = g.channels;
  l->gdn.inverse = g.inverse;
  l->w = std::make_unique<DeviceBuffer<float>>(g.gamma.data(), g.gamma.size());
  l->b = std::make_unique<DeviceBuffer<float>>(g.beta.data(), g.beta.size());
  l->spec = {g.channels, g.channels, 1, 1, 0, 0, false};
  NLC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&l->filter));
  NLC_CUDNN_CHECK(cudnnSetFilter4dDescriptor(l->filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC,
                                             g.channels, g.channels, 1, 1));
  NLC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&l->conv));
  NLC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(l->conv, 0, 0, 1, 1, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  NLC_CUDNN_CHECK(cudnnSetConvolutionMathType(l->conv, CUDNN_FMA_MATH));
  layers_.push_back(std::move(l));
}

void Transform::add_relu() {
  if (layers_.empty() || layers_.back()->kind != Layer::kConv || layers_.back()->relu)
    throw std::invalid_argument("Transform: a ReLU must follow a convolution");
  layers_.back()->relu = true;
}

namespace {
// The layer's algorithm for this input shape: asked of cuDNN (find()) once, then remembered.
template <class Algo, class Find>
Algo cached_algo(Transform::Layer& l, const std::tuple<int, int, int>& key, Find find) {
  if (auto it = l.algo.find(key); it != l.algo.end()) return Algo(it->second);
  const Algo a = find();
  l.algo[key] = int(a);
  return a;
}

// out = conv(in) (or the transposed convolution) for a layer's filter and descriptors, with
// the algorithm cuDNN's heuristics rank first among the usable ones (remembered per shape).
void run_conv(cudnnHandle_t handle, Transform::Layer& l, const Shape& in_shape, const float* in,
              const Shape& out_shape, float* out) {
  const TensorDesc in_d(in_shape), out_d(out_shape);
  const float one = 1.f, zero = 0.f;
  size_t ws_size = 0;
  const auto key = std::make_tuple(in_shape.n, in_shape.h, in_shape.w);
  if (!l.spec.transposed) {
    const auto algo = cached_algo<cudnnConvolutionFwdAlgo_t>(l, key, [&] {
      cudnnConvolutionFwdAlgoPerf_t perf[8];
      int found = 0;
      NLC_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, in_d.d, l.filter, l.conv,
                                                             out_d.d, 8, &found, perf));
      return perf[first_usable(perf, found, "forward")].algo;
    });
    NLC_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, in_d.d, l.filter, l.conv,
                                                            out_d.d, algo, &ws_size));
    DeviceBuffer<uint8_t> ws(ws_size);
    NLC_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, in_d.d, in, l.filter, l.w->get(), l.conv,
                                            algo, ws.get(), ws_size, &zero, out_d.d, out));
  } else {
    // Transposed: our input is the forward conv's output gradient, our output its input.
    const auto algo = cached_algo<cudnnConvolutionBwdDataAlgo_t>(l, key, [&] {
      cudnnConvolutionBwdDataAlgoPerf_t perf[8];
      int found = 0;
      NLC_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, l.filter, in_d.d, l.conv,
                                                                  out_d.d, 8, &found, perf));
      return perf[first_usable(perf, found, "backward-data")].algo;
    });
    NLC_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, l.filter, in_d.d, l.conv,
                                                                 out_d.d, algo, &ws_size));
    DeviceBuffer<uint8_t> ws(ws_size);
    NLC_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &one, l.filter, l.w->get(), in_d.d, in,
                                                 l.conv, algo, ws.get(), ws_size, &zero, out_d.d,
                                                 out));
  }
}
}  // namespace

const float* Transform::forward_device(const float* x, const Shape& in_shape, Shape* out_shape) {
  auto handle = static_cast<cudnnHandle_t>(handle_);
  Shape shape = in_shape;
  const float* cur = x;
  std::unique_ptr<DeviceBuffer<float>> cur_buf;  // owns cur after the first layer
  for (const auto& lp : layers_) {
    Layer& l = *lp;
    const long long total_in = (long long)shape.numel();
    if (l.kind == Layer::kGdn) {
      if (shape.c != l.gdn.channels) throw std::invalid_argument("GDN channel count mismatch");
      DeviceBuffer<float> sq(shape.numel()), norm(shape.numel());
      auto out = std::make_unique<DeviceBuffer<float>>(shape.numel());
      if (total_in) {
        square_kernel<<<blocks_for(total_in), 256>>>(cur, sq.get(), total_in);
        NLC_CUDA_CHECK(cudaGetLastError());
        run_conv(handle, l, shape, sq.get(), shape, norm.get());
        gdn_finish_kernel<<<blocks_for(total_in), 256>>>(cur, norm.get(), l.b->get(), out->get(),
                                                         total_in, shape.c, l.gdn.inverse);
        NLC_CUDA_CHECK(cudaGetLastError());
      }
      cur_buf = std::move(out);
      cur = cur_buf->get();
      continue;
    }
    const Shape next = conv_output_shape(l.spec, shape);  // throws on a bad input
    auto out = std::make_unique<DeviceBuffer<float>>(next.numel());
    if (total_in && next.numel()) {
      run_conv(handle, l, shape, cur, next, out->get());
      const long long total = (long long)next.numel();
      bias_relu_kernel<<<blocks_for(total), 256>>>(out->get(), l.b->get(), total, next.c, l.relu);
      NLC_CUDA_CHECK(cudaGetLastError());
    }
    cur_buf = std::move(out);
    cur = cur_buf->get();
    shape = next;
  }
  if (!cur_buf) {  // no layers: the output is a copy of the input
    cur_buf = std::make_unique<DeviceBuffer<float>>(shape.numel());
    if (shape.numel())
      NLC_CUDA_CHECK(cudaMemcpy(cur_buf->get(), x, shape.numel() * sizeof(float),
                                cudaMemcpyDeviceToDevice));
  }
  const float* out = cur_buf->get();
  result_ = std::shared_ptr<DeviceBuffer<float>>(std::move(cur_buf));
  *out_shape = shape;
  return out;
}

Tensor Transform::forward(const Tensor& x) {
  const DeviceBuffer<float> in(x.data(), x.numel());
  Shape shape;
  const float* out = forward_device(in.get(), x.shape(), &shape);
  Tensor y(shape);
  if (shape.numel())
    NLC_CUDA_CHECK(cudaMemcpy(y.data(), out, shape.numel() * sizeof(float), cudaMemcpyDeviceToHost));
  return y;
}

Tensor conv2d(const Tensor& x, const ConvWeights& w) {
  Transform t;
  t.add_conv(w, false);
  return t.forward(x);
}

Tensor gdn(const Tensor& x, const GdnWeights& g) {
  Transform t;
  t.add_gdn(g);
  return t.forward(x);
}

}  // namespace nlc::cuda
