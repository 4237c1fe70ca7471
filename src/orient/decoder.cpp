// The reconstruct method's learned image generator (orient.h, OrientDecoder).
#include <torch/torch.h>
#include "emgan/core/error.h"
#include "emgan/orient/angles.h"
#include "emgan/orient/orient.h"
#include "emgan/orient/render.h"

namespace emgan::orient {

OrientDecoderImpl::OrientDecoderImpl(OrientDecoderOptions opts) : options(std::move(opts)) {
  EMGAN_CHECK(ConfigError, options.size() >= 16 && options.size() % 16 == 0, "OrientDecoder: size ", options.size(),
              " must be a multiple of 16");
  EMGAN_CHECK(ConfigError, options.min_order() >= 1 && options.max_order() >= options.min_order(),
              "OrientDecoder: orders ", options.min_order(), "..", options.max_order(), " must satisfy 1 <= min <= max");
  EMGAN_CHECK(ConfigError, options.width() >= 1 && options.code_dim() >= 1, "OrientDecoder: width ", options.width(),
              " and code_dim ", options.code_dim(), " must be >= 1");
  namespace nn = torch::nn;
  const int64_t w = options.width(), s = options.size(), side = s / 16;
  const int64_t orders = options.max_order() - options.min_order() + 1;
  auto lrelu = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); };
  code_ = nn::Sequential(nn::Linear(s / 2, 64), lrelu(), nn::Linear(64, options.code_dim()));
  // Input: the one-hot order and the code (no angle: the template is drawn at the
  // generator's own zero and turned afterwards).
  fc_ = nn::Sequential(nn::Linear(orders + options.code_dim(), 256), lrelu(),
                       nn::Linear(256, 4 * w * side * side), lrelu());
  up_ = nn::Sequential();
  const int64_t chans[5] = {4 * w, 4 * w, 4 * w, 2 * w, w};
  for (int i = 0; i < 4; ++i) {
    up_->push_back(nn::Upsample(nn::UpsampleOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest)));
    up_->push_back(nn::Conv2d(nn::Conv2dOptions(chans[i], chans[i + 1], 3).padding(1)));
    up_->push_back(lrelu());
  }
  up_->push_back(nn::Conv2d(nn::Conv2dOptions(w, 1, 3).padding(1)));
  register_module("code", code_);
  register_module("fc", fc_);
  register_module("up", up_);
}

torch::Tensor OrientDecoderImpl::shape_code(const torch::Tensor& source) {
  return code_->forward(radial_profile(source, options.size() / 2));
}

torch::Tensor OrientDecoderImpl::templates(const torch::Tensor& order, const torch::Tensor& code) {
  const int64_t n = code.size(0), orders = options.max_order() - options.min_order() + 1;
  EMGAN_CHECK(ConfigError, code.dim() == 2 && code.size(1) == options.code_dim() && order.numel() == n,
              "OrientDecoder: ", order.numel(), " orders and codes of shape ", code.sizes(), " given, expected N and [N, ",
              options.code_dim(), "]");
  const auto slot = (order.to(code.device(), torch::kLong) - options.min_order()).view({-1, 1});
  const auto one_hot = torch::zeros({n, orders}, code.options()).scatter_(1, slot, 1.0);
  const int64_t side = options.size() / 16;
  const auto h = fc_->forward(torch::cat({one_hot, code}, 1)).view({n, 4 * options.width(), side, side});
  return up_->forward(h);
}

torch::Tensor OrientDecoderImpl::generate(const torch::Tensor& phase, const torch::Tensor& order,
                                          const torch::Tensor& code) {
  EMGAN_CHECK(ConfigError, phase.dim() == 2 && phase.size(1) == 2 && phase.size(0) == code.size(0),
              "OrientDecoder: phase of shape ", phase.sizes(), " for ", code.size(0), " codes, expected [N, 2]");
  // The angle theta in [0, 360/n) of the phase; an image at angle theta is the template
  // turned by theta counter-clockwise (rotate_images turns clockwise on screen).
  const auto theta = decode_angle(phase, order.to(phase.device()));
  return rotate_images(templates(order, code), -theta);
}

torch::Tensor OrientDecoderImpl::forward(const torch::Tensor& phase, const torch::Tensor& order,
                                         const torch::Tensor& source) {
  return generate(phase, order, shape_code(source));
}

}  // namespace emgan::orient
