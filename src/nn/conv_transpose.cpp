#include "emgan/nn/conv_transpose.h"

#include <ATen/autocast_mode.h>

#include <atomic>

#include "emgan/core/error.h"

namespace emgan::nn {

namespace {

/// 0 native, 1 onednn, 2 auto.
std::atomic<int> g_mode{2};

std::vector<int64_t> vec(torch::ExpandingArray<2> a) { return {(*a)[0], (*a)[1]}; }

/// y = input-gradient of conv2d(., W) at grad_output x (no bias); backward through oneDNN convs.
struct OneDnnConvTranspose2d : torch::autograd::Function<OneDnnConvTranspose2d> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, std::vector<int64_t> stride, std::vector<int64_t> padding,
                               std::vector<int64_t> output_padding, int64_t groups) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    const int64_t cout = weight.size(1) * groups;
    const int64_t hout = (h - 1) * stride[0] - 2 * padding[0] + weight.size(2) + output_padding[0];
    const int64_t wout = (w - 1) * stride[1] - 2 * padding[1] + weight.size(3) + output_padding[1];
    // Only the shape, dtype and device of this tensor are read.
    const torch::Tensor shape_of_y = torch::empty({n, cout, hout, wout}, x.options());
    auto y = std::get<0>(at::convolution_backward(x, shape_of_y, weight, c10::nullopt, stride, padding,
                                                  {1, 1}, false, {0, 0}, groups, {true, false, false}));
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
    const torch::Tensor gy = grads[0].contiguous();
    torch::Tensor gx, gw;
    if (ctx->needs_input_grad(0)) gx = at::conv2d(gy, weight, {}, stride, padding, {1, 1}, groups);
    if (ctx->needs_input_grad(1))
      gw = std::get<1>(at::convolution_backward(x, gy, weight, c10::nullopt, stride, padding, {1, 1},
                                                false, {0, 0}, groups, {false, true, false}));
    return {gx, gw, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

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
  const auto d = vec(o.dilation());
  const bool applies = x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
                       weight.scalar_type() == torch::kFloat && !x.is_mkldnn() && d[0] == 1 &&
                       d[1] == 1 && !at::autocast::is_cpu_enabled();
  if (!applies || mode == 1) return applies;
  return x.size(2) * x.size(3) >= 256 && weight.size(1) * o.groups() >= 16;
}

torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::ConvTranspose2dOptions& o) {
  if (!conv_transpose_uses_onednn(x, weight, o)) {
    namespace F = torch::nn::functional;
    return F::conv_transpose2d(x, weight,
                               F::ConvTranspose2dFuncOptions()
                                   .bias(bias)
                                   .stride(o.stride())
                                   .padding(o.padding())
                                   .output_padding(o.output_padding())
                                   .groups(o.groups())
                                   .dilation(o.dilation()));
  }
  auto y = OneDnnConvTranspose2d::apply(x, weight, vec(o.stride()), vec(o.padding()),
                                        vec(o.output_padding()), o.groups());
  // The bias outside the custom function (autograd differentiates the add).
  if (bias.defined()) y.add_(bias.view({1, -1, 1, 1}));
  return y;
}

torch::Tensor FastConvTranspose2dImpl::forward(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, c10::holds_alternative<torch::enumtype::kZeros>(options.padding_mode()),
              "FastConvTranspose2d: only zero padding is supported (as torch::nn::ConvTranspose2d)");
  return conv_transpose2d(x, weight, bias, options);
}

}  // namespace emgan::nn
