#include "emgan/nn/conv_transpose.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "emgan/core/error.h"

namespace emgan::nn {

namespace {

/// 0 native, 1 onednn, 2 auto.
std::atomic<int> g_mode{2};

template <size_t D>
std::vector<int64_t> vec(torch::ExpandingArray<D> a) {
  return std::vector<int64_t>(a->begin(), a->end());
}

/// y = input-gradient of the regular convolution with W at grad_output x (no bias), for
/// 2D (x [N, C, H, W]) and 3D (x [N, C, D, H, W]) inputs; backward through oneDNN convs.
struct OneDnnConvTranspose : torch::autograd::Function<OneDnnConvTranspose> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, std::vector<int64_t> stride, std::vector<int64_t> padding,
                               std::vector<int64_t> output_padding, int64_t groups) {
    const size_t dims = stride.size();
    std::vector<int64_t> shape = {x.size(0), weight.size(1) * groups};
    for (size_t d = 0; d < dims; ++d)
      shape.push_back((x.size(static_cast<int64_t>(d) + 2) - 1) * stride[d] - 2 * padding[d] +
                      weight.size(static_cast<int64_t>(d) + 2) + output_padding[d]);
    const std::vector<int64_t> ones(dims, 1), zeros(dims, 0);
    // Only the shape, dtype and device of this tensor are read.
    const torch::Tensor shape_of_y = torch::empty(shape, x.options());
    auto y =
        std::get<0>(at::convolution_backward(x, shape_of_y, weight, c10::nullopt, stride, padding,
                                             ones, false, zeros, groups, {true, false, false}));
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["groups"] = groups;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const int64_t groups = ctx->saved_data["groups"].toInt();
    const std::vector<int64_t> ones(stride.size(), 1), zeros(stride.size(), 0);
    const torch::Tensor gy = grads[0].contiguous();
    torch::Tensor gx, gw;
    if (ctx->needs_input_grad(0))
      gx = at::convolution(gy, weight, {}, stride, padding, ones, false, zeros, groups);
    if (ctx->needs_input_grad(1))
      gw = std::get<1>(at::convolution_backward(x, gy, weight, c10::nullopt, stride, padding, ones,
                                                false, zeros, groups, {false, true, false}));
    return {gx, gw, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

/// True where the oneDNN route computes this call at all (mode aside): CPU, float32, no
/// autocast, no dilation, a plain (not mkldnn-layout) input of `dims` spatial dimensions.
template <size_t D>
bool onednn_applies(const torch::Tensor& x, const torch::Tensor& weight,
                    torch::ExpandingArray<D> dilation) {
  const bool undilated =
      std::all_of(dilation->begin(), dilation->end(), [](int64_t v) { return v == 1; });
  return x.dim() == static_cast<int64_t>(D) + 2 && x.device().is_cpu() &&
         x.scalar_type() == torch::kFloat && weight.scalar_type() == torch::kFloat &&
         !x.is_mkldnn() && undilated && !at::autocast::is_cpu_enabled();
}

/// A D-dimensional transposed convolution with the geometry of `o`: through oneDNN
/// (OneDnnConvTranspose, the bias added outside it, so autograd differentiates the add)
/// or through ATen's own kernel.
template <size_t D>
torch::Tensor transposed(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, const torch::nn::ConvTransposeOptions<D>& o,
                         bool onednn) {
  if (!onednn) {
    const auto native = D == 2 ? &at::conv_transpose2d : &at::conv_transpose3d;
    return native(x, weight, bias, *o.stride(), *o.padding(), *o.output_padding(), o.groups(),
                  *o.dilation());
  }
  auto y = OneDnnConvTranspose::apply(x, weight, vec<D>(o.stride()), vec<D>(o.padding()),
                                      vec<D>(o.output_padding()), o.groups());
  if (bias.defined()) {
    std::vector<int64_t> shape(D + 2, 1);
    shape[1] = -1;
    y.add_(bias.view(shape));
  }
  return y;
}

}  // namespace

void set_conv_transpose_mode(const std::string& mode) {
  if (mode == "native")
    g_mode = 0;
  else if (mode == "onednn")
    g_mode = 1;
  else if (mode == "auto")
    g_mode = 2;
  else
    EMGAN_CHECK(ConfigError, false, "conv_transpose mode = '", mode, "': expected native, onednn or auto");
}

std::string conv_transpose_mode() {
  const int m = g_mode.load();
  return m == 0 ? "native" : m == 1 ? "onednn" : "auto";
}

namespace {
torch::nn::ConvTranspose2dOptions transpose_options(const torch::nn::detail::ConvNdOptions<2>& o) {
  EMGAN_CHECK(ConfigError, c10::holds_alternative<torch::ExpandingArray<2>>(o.padding()),
              "conv_transpose2d: padding must be given in pixels (not 'same' or 'valid')");
  return torch::nn::ConvTranspose2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
      .stride(o.stride())
      .padding(c10::get<torch::ExpandingArray<2>>(o.padding()))
      .output_padding(o.output_padding())
      .groups(o.groups())
      .bias(o.bias())
      .dilation(o.dilation());
}
}  // namespace

bool conv_transpose_uses_onednn(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::nn::detail::ConvNdOptions<2>& options) {
  return conv_transpose_uses_onednn(x, weight, transpose_options(options));
}

torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::detail::ConvNdOptions<2>& options) {
  return conv_transpose2d(x, weight, bias, transpose_options(options));
}

bool conv_transpose_uses_onednn(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::nn::ConvTranspose2dOptions& o) {
  const int mode = g_mode.load();
  if (mode == 0) return false;
  const bool applies = onednn_applies<2>(x, weight, o.dilation());
  if (!applies || mode == 1) return applies;
  return x.size(2) * x.size(3) >= 256 && weight.size(1) * o.groups() >= 16;
}

torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::ConvTranspose2dOptions& o) {
  return transposed<2>(x, weight, bias, o, conv_transpose_uses_onednn(x, weight, o));
}

bool conv_transpose3d_uses_onednn(const torch::Tensor& x, const torch::Tensor& weight,
                                  const torch::nn::ConvTranspose3dOptions& o) {
  const int mode = g_mode.load();
  return mode != 0 && onednn_applies<3>(x, weight, o.dilation());
}

torch::Tensor conv_transpose3d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::ConvTranspose3dOptions& o) {
  return transposed<3>(x, weight, bias, o, conv_transpose3d_uses_onednn(x, weight, o));
}

torch::Tensor FastConvTranspose2dImpl::forward(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, c10::holds_alternative<torch::enumtype::kZeros>(options.padding_mode()),
              "FastConvTranspose2d: only zero padding is supported (as torch::nn::ConvTranspose2d)");
  return conv_transpose2d(x, weight, bias, options);
}

torch::Tensor resize_conv_kernel(const torch::Tensor& weight) {
  const int64_t d = weight.dim() - 2;
  EMGAN_CHECK(ConfigError,
              (d == 2 || d == 3) && weight.size(2) == 3 && weight.size(3) == 3 &&
                  (d == 2 || weight.size(4) == 3),
              "resize_conv_kernel: weight of shape ", weight.sizes(),
              " does not match [C_out, C_in, 3, 3] or [C_out, C_in, 3, 3, 3]");
  const auto h1 = torch::tensor({0.25, 0.75, 0.75, 0.25}, weight.options());
  const int64_t c_out = weight.size(0), c_in = weight.size(1);
  std::vector<int64_t> flip_dims, one_kernel = {c_out * c_in, 1}, h_shape = {1, 1},
                                  out_shape = {c_out, c_in};
  auto h = h1;
  for (int64_t i = 0; i < d; ++i) {
    flip_dims.push_back(2 + i);
    one_kernel.push_back(3);
    h_shape.push_back(4);
    out_shape.push_back(6);
    if (i > 0) h = h.unsqueeze(-1) * h1;  // the outer product h1 x ... x h1
  }
  const auto single = weight.flip(flip_dims).reshape(one_kernel);
  const auto kernel = d == 2 ? torch::conv_transpose2d(single, h.reshape(h_shape))
                             : torch::conv_transpose3d(single, h.reshape(h_shape));
  return kernel.view(out_shape).transpose(0, 1).contiguous();
}

}  // namespace emgan::nn
