#pragma once
/// \file conv_transpose.h
/// 2D and 3D transposed convolutions through oneDNN's convolution kernels on the CPU.
///
/// LibTorch 1.13 computes a CPU `conv_transpose2d` / `conv_transpose3d` (forward and
/// backward) with im2col / vol2col + GEMM (`slow_conv_transpose2d/3d`); regular
/// convolutions go through oneDNN. A transposed
/// convolution is the input-gradient of the regular convolution with the same weight,
/// so it can be computed by oneDNN exactly (up to float summation order):
///   forward   y  = conv_input_grad(x, W)   (ATen's convolution_backward, input part)
///   backward  dx = conv2d(dy, W),  dW = conv_weight_grad(input = dy, grad = x),
///             db = sum of dy over N, H, W.
/// Same parameters and shapes as torch::nn::ConvTranspose2d (weight [C_in, C_out/groups,
/// kH, kW]), so checkpoints are interchangeable. Measured (BENCHMARKS.md, issue 8): faster
/// for the wide, large-map layers of a U-Net's up path, slower for tiny maps and for a
/// few output channels, hence the `auto` rule below. In 3D (SliceGAN's generator) the route
/// was faster for every layer measured and needs no vol2col buffer (BENCHMARKS.md, SliceGAN).
#include <torch/torch.h>

#include <string>

namespace emgan::nn {

/// Which implementation conv_transpose2d uses: "native" (ATen's conv_transpose2d
/// always), "onednn" (the route above whenever it applies: CPU, float32, no autocast,
/// dilation 1), "auto" (onednn where it applies and the input map has >= 256 pixels and
/// the layer >= 16 output channels; native otherwise). Process-wide; default "auto".
void set_conv_transpose_mode(const std::string& mode);
/// The current mode ("native", "onednn" or "auto").
std::string conv_transpose_mode();

/// True when the current mode routes this call (input `x` [N, C, H, W], `weight`) through
/// oneDNN.
bool conv_transpose_uses_onednn(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::nn::ConvTranspose2dOptions& options);
/// The same for the options a torch::nn::ConvTranspose2d module keeps.
bool conv_transpose_uses_onednn(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::nn::detail::ConvNdOptions<2>& options);

/// A transposed convolution with `weight`, `bias` (may be undefined) and the stride,
/// padding, output padding, groups and dilation of `options` (its channel counts and
/// kernel size are taken from `weight`); differentiable; equal to
/// torch::nn::functional::conv_transpose2d within float rounding.
torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::ConvTranspose2dOptions& options);
/// The same with the options a torch::nn::ConvTranspose2d module keeps.
torch::Tensor conv_transpose2d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::detail::ConvNdOptions<2>& options);

/// True when the current mode routes this 3D call (input `x` [N, C, D, H, W], `weight`)
/// through oneDNN: modes onednn and auto wherever it applies (CPU, float32, no autocast,
/// dilation 1), native never.
bool conv_transpose3d_uses_onednn(const torch::Tensor& x, const torch::Tensor& weight,
                                  const torch::nn::ConvTranspose3dOptions& options);

/// A 3D transposed convolution with `weight` [C_in, C_out/groups, kD, kH, kW], `bias` (may
/// be undefined) and the stride, padding, output padding, groups and dilation of
/// `options`; differentiable (once: its backward is not itself differentiable); equal to
/// torch::nn::functional::conv_transpose3d within float rounding.
torch::Tensor conv_transpose3d(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias,
                               const torch::nn::ConvTranspose3dOptions& options);

/// A resize convolution as one transposed convolution: linear 2x upsampling along each
/// spatial axis (align_corners false: the stride-2 transposed convolution with the kernel
/// (1/4, 3/4, 3/4, 1/4) per axis) followed by the cross-correlation `weight`
/// [C_out, C_in, 3, 3] or [C_out, C_in, 3, 3, 3] equals, away from the upsampling's clamped
/// borders, a stride-2 transposed convolution with the returned kernel [C_in, C_out, 6, 6(, 6)]:
/// flip(weight) convolved with the upsampling's kernel. Differentiable in `weight`.
torch::Tensor resize_conv_kernel(const torch::Tensor& weight);

/// torch::nn::ConvTranspose2d whose forward is conv_transpose2d above (same parameters,
/// same names; `output_size` is not supported: use output_padding).
class FastConvTranspose2dImpl : public torch::nn::ConvTranspose2dImpl {
 public:
  using torch::nn::ConvTranspose2dImpl::ConvTranspose2dImpl;
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(FastConvTranspose2d);

}  // namespace emgan::nn
