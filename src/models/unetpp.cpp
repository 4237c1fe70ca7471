#include "emgan/models/unetpp.h"

#include "emgan/core/error.h"
#include "emgan/nn/blocks.h"
#include "emgan/nn/weight_norms.h"
#include "json_fields.h"

namespace emgan::models {

namespace F = torch::nn::functional;

void to_json(Json& j, const UNetPlusPlusOptions& o) {
  j = Json::object();
  EMGAN_JSON_PUT(j, o, in_channels, classes, encoder, decoder, depth, width, deep_supervision, init);
}
void from_json(const Json& j, UNetPlusPlusOptions& o) {
  EMGAN_JSON_GET(j, o, in_channels, classes, encoder, decoder, depth, width, deep_supervision, init);
}

namespace {

torch::nn::Sequential conv_bn_relu(int64_t in, int64_t out, int64_t kernel = 3, int64_t stride = 1) {
  return torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)),
      torch::nn::BatchNorm2d(out), torch::nn::ReLU(torch::nn::ReLUOptions(true)));
}

torch::nn::Sequential double_conv(int64_t in, int64_t out) {
  auto s = conv_bn_relu(in, out);
  s->extend(*conv_bn_relu(out, out));
  return s;
}

torch::Tensor upsample_to(const torch::Tensor& x, const torch::Tensor& like) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{like.size(2), like.size(3)})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
  body_ = torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
      torch::nn::BatchNorm2d(out), torch::nn::ReLU(torch::nn::ReLUOptions(true)),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)), torch::nn::BatchNorm2d(out));
  register_module("body", body_);
  if (stride != 1 || in != out) {
    shortcut_ = torch::nn::Sequential(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
        torch::nn::BatchNorm2d(out));
    register_module("shortcut", shortcut_);
  }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto y = body_->forward(x);
  return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
}

int64_t UNetPlusPlusImpl::level_channels(int64_t i) const {
  const int64_t w = options.width();
  switch (i) {
    case 0: return std::max<int64_t>(w / 2, 1);
    case 1:
    case 2: return w;
    case 3: return 2 * w;
    case 4: return 4 * w;
    default: return 8 * w;
  }
}

UNetPlusPlusImpl::UNetPlusPlusImpl(UNetPlusPlusOptions o) : options(std::move(o)) {
  const auto& op = options;
  check_choice("unetpp.encoder", op.encoder(), {"resnet34", "resnet18", "plain"});
  check_choice("unetpp.decoder", op.decoder(), {"nested", "unet"});
  EMGAN_CHECK(ConfigError, op.depth() >= 1 && op.depth() <= 5, "unetpp.depth ", op.depth(), " must be in 1..5");
  EMGAN_CHECK(ConfigError, op.width() >= 2, "unetpp.width ", op.width(), " must be >= 2");
  EMGAN_CHECK(ConfigError, op.in_channels() >= 1 && op.classes() >= 1, "unetpp: in_channels ", op.in_channels(),
              " and classes ", op.classes(), " must be >= 1");
  EMGAN_CHECK(ConfigError, !op.deep_supervision() || op.decoder() == "nested",
              "unetpp.deep_supervision needs decoder 'nested', got '", op.decoder(), "'");
  const int64_t depth = op.depth();
  const std::vector<int64_t> blocks = op.encoder() == "resnet34" ? std::vector<int64_t>{3, 4, 6, 3}
                                                                 : std::vector<int64_t>{2, 2, 2, 2};
  for (int64_t i = 0; i <= depth; ++i) {
    torch::nn::Sequential level;
    if (i == 0) {
      level = double_conv(op.in_channels(), level_channels(0));
    } else if (op.encoder() == "plain") {
      level = torch::nn::Sequential(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
      level->extend(*double_conv(level_channels(i - 1), level_channels(i)));
    } else if (i == 1) {
      level = conv_bn_relu(op.in_channels(), level_channels(1), 7, 2);
    } else {
      level = torch::nn::Sequential();
      if (i == 2) level->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
      for (int64_t b = 0; b < blocks[i - 2]; ++b) {
        const int64_t in = b == 0 ? level_channels(i - 1) : level_channels(i);
        const int64_t stride = (b == 0 && i > 2) ? 2 : 1;
        level->push_back(BasicBlock(in, level_channels(i), stride));
      }
    }
    encoder_.push_back(register_module("enc" + std::to_string(i), level));
  }
  const bool nested = op.decoder() == "nested";
  for (int64_t j = 1; j <= depth; ++j) {
    for (int64_t i = 0; i + j <= depth; ++i) {
      if (!nested && i + j != depth) continue;
      const int64_t in = level_channels(i) * (nested ? j : 1) + level_channels(i + 1);
      nodes_[{i, j}] = register_module("x_" + std::to_string(i) + "_" + std::to_string(j),
                                       double_conv(in, level_channels(i)));
    }
  }
  const int64_t n_heads = op.deep_supervision() ? depth : 1;
  for (int64_t h = 0; h < n_heads; ++h) {
    heads_.push_back(register_module("head" + std::to_string(h),
                                     torch::nn::Conv2d(torch::nn::Conv2dOptions(level_channels(0), op.classes(), 1))));
  }
  nn::init_weights(*this, op.init(), 0.02);
}

std::vector<torch::Tensor> UNetPlusPlusImpl::encoder_features(const torch::Tensor& x) {
  std::vector<torch::Tensor> f;
  for (size_t i = 0; i < encoder_.size(); ++i) {
    const bool from_input = i == 0 || (i == 1 && options.encoder() != "plain");
    f.push_back(encoder_[i]->forward(from_input ? x : f.back()));
  }
  return f;
}

torch::Tensor UNetPlusPlusImpl::encode(torch::Tensor x) {
  nn::PadBox box;
  const auto xp = nn::pad_to_multiple(x, int64_t{1} << options.depth(), &box);
  return encoder_features(xp).back();
}

std::vector<torch::Tensor> UNetPlusPlusImpl::forward_heads(torch::Tensor x) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == options.in_channels(), "unetpp: expected input [N, ",
              options.in_channels(), ", H, W], got ", x.sizes());
  nn::PadBox box;
  const auto xp = nn::pad_to_multiple(x, int64_t{1} << options.depth(), &box);
  const int64_t depth = options.depth();
  std::map<std::pair<int64_t, int64_t>, torch::Tensor> node;
  const auto f = encoder_features(xp);
  for (int64_t i = 0; i <= depth; ++i) node[{i, 0}] = f[static_cast<size_t>(i)];
  const bool nested = options.decoder() == "nested";
  for (int64_t j = 1; j <= depth; ++j) {
    for (int64_t i = 0; i + j <= depth; ++i) {
      if (!nested && i + j != depth) continue;
      std::vector<torch::Tensor> parts;
      if (nested) {
        for (int64_t k = 0; k < j; ++k) parts.push_back(node.at({i, k}));
      } else {
        parts.push_back(node.at({i, 0}));
      }
      parts.push_back(upsample_to(node.at({i + 1, j - 1}), parts.front()));
      node[{i, j}] = nodes_.at({i, j})->forward(torch::cat(parts, 1));
    }
  }
  std::vector<torch::Tensor> out;
  if (options.deep_supervision()) {
    for (int64_t j = 1; j <= depth; ++j) out.push_back(nn::crop_to_box(heads_[j - 1]->forward(node.at({0, j})), box));
  } else {
    out.push_back(nn::crop_to_box(heads_[0]->forward(node.at({0, depth})), box));
  }
  return out;
}

torch::Tensor UNetPlusPlusImpl::forward(torch::Tensor x) {
  const auto heads = forward_heads(std::move(x));
  if (heads.size() == 1) return heads[0];
  return torch::stack(heads).mean(0);
}

void register_unetpp() {
  auto& r = generator_registry();
  if (r.contains("unetpp")) return;
  r.add("unetpp",
        [](const Json& user) -> GeneratorPtr {
          const std::string source = "options of model 'unetpp'";
          Json given = user.is_null() ? Json::object() : user;
          EMGAN_CHECK(ConfigError, given.is_object(), source, ": expected a JSON object, got ", given.dump());
          check_settings_keys(given, Json(UNetPlusPlusOptions{}), source);
          return std::make_shared<UNetPlusPlusImpl>(settings_from_json<UNetPlusPlusOptions>(given, source));
        },
        "UNet++ / U-Net segmenter with a ResNet-34/18 or plain encoder (logits)");
}

}  // namespace emgan::models
