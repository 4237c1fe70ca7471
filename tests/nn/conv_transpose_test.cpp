// The oneDNN route of 2D transposed convolutions (emgan/nn/conv_transpose.h) against
// ATen's conv_transpose2d: outputs and all three gradients, dispatch rule, modules.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <tuple>
#include <vector>

#include "emgan/core/error.h"
#include "emgan/nn/conv_transpose.h"
#include "emgan/nn/weight_norms.h"

namespace en = emgan::nn;
namespace F = torch::nn::functional;

namespace {

/// Restores the process-wide mode when a test ends.
struct ModeGuard {
  std::string saved = en::conv_transpose_mode();
  explicit ModeGuard(const std::string& mode) { en::set_conv_transpose_mode(mode); }
  ~ModeGuard() { en::set_conv_transpose_mode(saved); }
};

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item<double>();
}

/// y (the route under test) against y_ref (ATen's module): the same output, and the same
/// gradients of a random upstream gradient w.r.t. x, the weight and (when defined) the bias.
void expect_same_output_and_gradients(const torch::Tensor& y, const torch::Tensor& y_ref,
                                      const torch::Tensor& x, const torch::Tensor& weight,
                                      const torch::Tensor& bias, const std::string& label) {
  ASSERT_EQ(y.sizes(), y_ref.sizes()) << label;
  EXPECT_LT(rel_diff(y, y_ref), 1e-5) << label;
  const auto gy = torch::randn_like(y_ref);
  std::vector<torch::Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  const auto g_ref = torch::autograd::grad({y_ref}, inputs, {gy});
  const auto g_new = torch::autograd::grad({y}, inputs, {gy});
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_LT(rel_diff(g_new[i], g_ref[i]), 1e-5) << "gradient " << i << ", " << label;
}

}  // namespace

TEST(ConvTranspose2d, OneDnnRouteMatchesAtenOutputAndGradients) {
  ModeGuard guard("onednn");
  torch::manual_seed(3);
  // (C_in, C_out, kernel, stride, padding, output padding, groups, bias, H, W)
  using Case = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, int64_t, int64_t>;
  for (const auto& [cin, cout, k, s, p, op, g, bias, h, w] :
       {Case{8, 6, 4, 2, 1, 0, 1, true, 9, 7},     // the U-Net / DCGAN up-convolution
        Case{6, 4, 3, 2, 1, 1, 1, false, 5, 6},    // ResNet generator's, with output padding
        Case{8, 6, 4, 2, 1, 0, 2, true, 4, 4},     // grouped
        Case{3, 5, 4, 1, 0, 0, 1, true, 1, 1},     // DCGAN's first layer: 1x1 -> 4x4
        Case{4, 2, 5, 3, 2, 2, 1, true, 6, 3}}) {  // odd kernel, stride 3
    auto options = torch::nn::ConvTranspose2dOptions(cin, cout, k).stride(s).padding(p).output_padding(op).groups(g).bias(bias);
    torch::nn::ConvTranspose2d ref(options);
    const auto x = torch::randn({2, cin, h, w}, torch::requires_grad());
    ASSERT_TRUE(en::conv_transpose_uses_onednn(x, ref->weight, options));
    const auto y_ref = ref->forward(x);
    const auto y = en::conv_transpose2d(x, ref->weight, ref->bias, options);
    expect_same_output_and_gradients(
        y, y_ref, x, ref->weight, ref->bias,
        "case cin=" + std::to_string(cin) + " k=" + std::to_string(k) + " s=" + std::to_string(s));
  }
}

TEST(ConvTranspose2d, AutoRuleKeepsSmallMapsAndFewChannelsNative) {
  ModeGuard guard("auto");
  auto options = torch::nn::ConvTranspose2dOptions(32, 16, 4).stride(2).padding(1);
  const auto w16 = torch::zeros({32, 16, 4, 4});
  EXPECT_TRUE(en::conv_transpose_uses_onednn(torch::zeros({1, 32, 16, 16}), w16, options));
  EXPECT_FALSE(en::conv_transpose_uses_onednn(torch::zeros({1, 32, 8, 8}), w16, options));  // 64 px map
  EXPECT_FALSE(en::conv_transpose_uses_onednn(torch::zeros({1, 32, 64, 64}), torch::zeros({32, 1, 4, 4}),
                                              torch::nn::ConvTranspose2dOptions(32, 1, 4).stride(2).padding(1)));
  // Not float32 / dilated: never.
  en::set_conv_transpose_mode("onednn");
  EXPECT_FALSE(en::conv_transpose_uses_onednn(torch::zeros({1, 32, 16, 16}, torch::kDouble), w16.to(torch::kDouble), options));
  EXPECT_FALSE(en::conv_transpose_uses_onednn(torch::zeros({1, 32, 16, 16}), w16,
                                              torch::nn::ConvTranspose2dOptions(32, 16, 4).dilation(2)));
  en::set_conv_transpose_mode("native");
  EXPECT_FALSE(en::conv_transpose_uses_onednn(torch::zeros({1, 32, 16, 16}), w16, options));
  EXPECT_THROW(en::set_conv_transpose_mode("fast"), emgan::ConfigError);
  EXPECT_EQ(en::conv_transpose_mode(), "native");
}

TEST(ConvTranspose2d, ModuleSharesParametersWithTorchLayerAndWrappers) {
  ModeGuard guard("onednn");
  torch::manual_seed(4);
  auto options = torch::nn::ConvTranspose2dOptions(6, 4, 4).stride(2).padding(1);
  en::FastConvTranspose2d fast(options);
  torch::nn::ConvTranspose2d plain(options);
  // Same parameter names and shapes: a checkpoint of one loads into the other.
  std::vector<std::string> fast_names, plain_names;
  for (const auto& p : fast->named_parameters()) fast_names.push_back(p.key());
  for (const auto& p : plain->named_parameters()) plain_names.push_back(p.key());
  EXPECT_EQ(fast_names, plain_names);
  {
    torch::NoGradGuard no_grad;
    plain->weight.copy_(fast->weight);
    plain->bias.copy_(fast->bias);
  }
  const auto x = torch::randn({1, 6, 17, 17});
  EXPECT_LT(rel_diff(fast->forward(x), plain->forward(x)), 1e-5);
  // Weight norm over a transposed convolution uses the same route and the same result.
  en::WeightNorm wn{torch::nn::ConvTranspose2d(options)};
  const auto y_onednn = wn->forward(x);
  en::set_conv_transpose_mode("native");
  EXPECT_LT(rel_diff(y_onednn, wn->forward(x)), 1e-5);
}

TEST(ConvTranspose3d, OneDnnRouteMatchesAtenOutputAndGradients) {
  ModeGuard guard("auto");
  torch::manual_seed(5);
  // (C_in, C_out, stride, padding, output padding, bias, side): SliceGAN's layers (kernel
  // 4, stride 2, padding 2 / 3, and 0 for its periodic mode) and a generic one.
  using Case = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool, int64_t>;
  for (const auto& [cin, cout, s, p, op, bias, side] :
       {Case{6, 5, 2, 2, 0, false, 4}, Case{5, 3, 2, 3, 0, false, 6}, Case{4, 3, 2, 0, 0, false, 3},
        Case{3, 4, 3, 1, 2, true, 3}}) {
    auto options = torch::nn::ConvTranspose3dOptions(cin, cout, 4)
                       .stride(s)
                       .padding(p)
                       .output_padding(op)
                       .bias(bias);
    torch::nn::ConvTranspose3d ref(options);
    const auto x = torch::randn({2, cin, side, side + 1, side}, torch::requires_grad());
    ASSERT_TRUE(en::conv_transpose3d_uses_onednn(x, ref->weight, options));
    const auto y_ref = ref->forward(x);
    const auto y = en::conv_transpose3d(x, ref->weight, ref->bias, options);
    expect_same_output_and_gradients(
        y, y_ref, x, ref->weight, ref->bias,
        "case cin=" + std::to_string(cin) + " s=" + std::to_string(s) + " p=" + std::to_string(p));
  }
  // Never for double precision, dilation or the native mode.
  auto options = torch::nn::ConvTranspose3dOptions(2, 2, 4).stride(2);
  const auto w = torch::zeros({2, 2, 4, 4, 4});
  EXPECT_FALSE(en::conv_transpose3d_uses_onednn(torch::zeros({1, 2, 3, 3, 3}, torch::kDouble),
                                                w.to(torch::kDouble), options));
  EXPECT_FALSE(en::conv_transpose3d_uses_onednn(
      torch::zeros({1, 2, 3, 3, 3}), w, torch::nn::ConvTranspose3dOptions(2, 2, 4).dilation(2)));
  en::set_conv_transpose_mode("native");
  EXPECT_FALSE(en::conv_transpose3d_uses_onednn(torch::zeros({1, 2, 3, 3, 3}), w, options));
}
