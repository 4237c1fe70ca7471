#pragma once
/// \file unetpp.h
/// UNet++ (Zhou et al. 2018: nested, dense skip pathways, optional deep supervision)
/// and the plain U-Net decoder, over a ResNet-34 / ResNet-18 encoder (He et al. 2016,
/// BasicBlocks; trained from scratch: no pretrained weights are shipped) or a plain
/// double-convolution encoder. A segmentation network: [N, in_channels, H, W] ->
/// logits [N, classes, H, W] (no output activation; sigmoid for one class).
///
/// Levels: level 0 is full resolution (a double convolution of the input, so the
/// decoder has full-resolution features), level i >= 1 has 1 / 2^i of it. With the
/// ResNet encoders level 1 is the 7x7 stride-2 stem, level 2 max-pool + layer1,
/// levels 3..5 layer2..layer4. Channels: c0 = width / 2, c1 = c2 = width,
/// c3 = 2 width, c4 = 4 width, c5 = 8 width. Decoder node X(i, j) (j >= 1) has c_i
/// channels: nested, X(i, j) = conv(cat(X(i, 0..j-1), up(X(i+1, j-1)))); plain U-Net,
/// only X(i, depth - i) = conv(cat(X(i, 0), up(X(i+1, depth - i - 1)))).
/// Heads are 1x1 convolutions: one per X(0, j) with deep supervision (forward
/// returns their mean logits), else one on X(0, depth).
/// Registered in the generator registry as "unetpp" (see register_unetpp), so
/// models::save_model / load_generator store and rebuild it.
#include "emgan/models/model.h"

namespace emgan::models {

/// Options of UNetPlusPlus.
struct UNetPlusPlusOptions {
  /// Input image channels.
  TORCH_ARG(int64_t, in_channels) = 1;
  /// Output classes (logit channels; 1 = binary particle / background).
  TORCH_ARG(int64_t, classes) = 1;
  /// "resnet34", "resnet18" or "plain" (double convolutions after 2x2 max pooling).
  TORCH_ARG(std::string, encoder) = "resnet34";
  /// "nested" (UNet++) or "unet" (plain U-Net decoder, for comparison).
  TORCH_ARG(std::string, decoder) = "nested";
  /// Stride-2 levels, 1..5 (ResNet: 5 uses all four layers); inputs are padded to a
  /// multiple of 2^depth.
  TORCH_ARG(int64_t, depth) = 5;
  /// Channels of the first ResNet stage (64 in ResNet-18/34); >= 2.
  TORCH_ARG(int64_t, width) = 64;
  /// One head per top node X(0, j) (nested decoder only); forward averages them.
  TORCH_ARG(bool, deep_supervision) = false;
  /// Weight initialisation (nn::init_weights): kaiming, normal, xavier, orthogonal, default.
  TORCH_ARG(std::string, init) = "kaiming";
};
void to_json(Json& j, const UNetPlusPlusOptions& o);
void from_json(const Json& j, UNetPlusPlusOptions& o);

/// ResNet BasicBlock: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the input
/// (through a 1x1 conv + BN when stride or channels change), then ReLU.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Sequential body_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(BasicBlock);

/// The UNet++ / U-Net segmentation network (see the file comment).
class UNetPlusPlusImpl : public ImageToImage {
 public:
  explicit UNetPlusPlusImpl(UNetPlusPlusOptions options = {});
  /// Logits [N, classes, H, W] (the mean of the heads with deep supervision).
  torch::Tensor forward(torch::Tensor x) override;
  /// Logits of every head, X(0, 1) first (one tensor without deep supervision).
  std::vector<torch::Tensor> forward_heads(torch::Tensor x);
  /// The encoder's deepest features [N, c_depth, H / 2^depth, W / 2^depth] (for
  /// feature-distance metrics).
  torch::Tensor encode(torch::Tensor x);
  std::string arch() const override { return "unetpp"; }
  Json options_json() const override { return options; }
  int64_t in_channels() const override { return options.in_channels(); }
  int64_t out_channels() const override { return options.classes(); }
  /// Channels of level i (0..depth).
  int64_t level_channels(int64_t i) const;
  UNetPlusPlusOptions options;

 private:
  std::vector<torch::Tensor> encoder_features(const torch::Tensor& x);
  std::vector<torch::nn::Sequential> encoder_;  // level 0..depth
  std::map<std::pair<int64_t, int64_t>, torch::nn::Sequential> nodes_;
  std::vector<torch::nn::Conv2d> heads_;
};
TORCH_MODULE(UNetPlusPlus);

/// Adds "unetpp" to generator_registry() (once; later calls do nothing).
void register_unetpp();

}  // namespace emgan::models
