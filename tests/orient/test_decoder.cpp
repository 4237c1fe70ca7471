// The reconstruct method's learned image generator (OrientDecoder).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/orient/angles.h"
#include "emgan/orient/orient.h"
#include "emgan/orient/render.h"

using namespace emgan::orient;

namespace {

torch::Tensor square(double theta, double radius) {
  const auto f = [](double v) { return torch::tensor({v}, torch::kFloat32); };
  return preprocess(render_polygons({torch::tensor({4}), f(theta), f(radius), f(0.0), f(0.0), f(1.0)}, 32, 4), 0.5);
}

}  // namespace

TEST(OrientDecoder, DrawsItsTemplateTurnedToTheAngleOfThePhase) {
  torch::manual_seed(1);
  OrientDecoder dec(OrientDecoderOptions(32, 3, 6).width(4).code_dim(5));
  const auto order = torch::tensor({4, 4, 6});
  const auto code = torch::randn({3, 5});
  const auto theta = torch::tensor({0.0, 20.0, 35.0}, torch::kFloat32);
  const auto out = dec->generate(encode_angle(theta, order), order, code);
  const auto tmpl = dec->templates(order, code);
  ASSERT_EQ(out.sizes(), (torch::IntArrayRef{3, 1, 32, 32}));
  EXPECT_LT((out[0] - tmpl[0]).abs().max().item<double>(), 1e-4);  // angle 0: the template itself
  // Angle 20: the template turned counter-clockwise by 20, i.e. rotate_images by -20.
  const auto want = rotate_images(tmpl.slice(0, 1, 2), torch::tensor({-20.0}));
  EXPECT_LT((out.slice(0, 1, 2) - want).abs().max().item<double>(), 1e-4);
  EXPECT_GT((out.slice(0, 1, 2) - rotate_images(tmpl.slice(0, 1, 2), torch::tensor({20.0}))).abs().max().item<double>(), 1e-3);
  // The phase's length does not matter; a phase turned by a whole period is the same angle.
  const auto p = encode_angle(theta, order);
  EXPECT_LT((dec->generate(3.0 * p, order, code) - out).abs().max().item<double>(), 1e-4);
  EXPECT_THROW(dec->generate(torch::zeros({3, 3}), order, code), emgan::ConfigError);
  EXPECT_THROW(dec->templates(order, torch::zeros({3, 4})), emgan::ConfigError);
}

TEST(OrientDecoder, ShapeCodeIsBlindToTheAngleAndTheGradientReachesThePhase) {
  torch::manual_seed(2);
  OrientDecoder dec(OrientDecoderOptions(32, 4, 4).width(4));
  const auto x = torch::cat({square(0.0, 9.0), square(30.0, 9.0), square(0.0, 12.0)});
  const auto code = dec->shape_code(x);
  const double turned = (code[0] - code[1]).abs().max().item<double>();
  const double larger = (code[0] - code[2]).abs().max().item<double>();
  EXPECT_LT(turned, 0.2 * larger) << turned << " vs " << larger;
  const auto order = torch::tensor({4});
  // The generator passes a gradient to the phase it is given.
  auto p0 = encode_angle(torch::tensor({20.0}), order).clone().set_requires_grad(true);
  dec->forward(p0, order, x.slice(0, 0, 1)).pow(2).mean().backward();
  ASSERT_TRUE(p0.grad().defined());
  EXPECT_GT(p0.grad().abs().sum().item<double>(), 0.0);
  // The training signal: d(MSE to a square at 30 deg) / d(phase) exists and moves the
  // drawn angle towards 30 when the template is a square at 0.
  auto phase = encode_angle(torch::tensor({20.0}), order).clone().set_requires_grad(true);
  const auto theta = decode_angle(phase, order);
  const auto drawn = rotate_images(square(0.0, 9.0), -theta);
  torch::mse_loss(drawn, square(30.0, 9.0)).backward();
  ASSERT_TRUE(phase.grad().defined());
  // Gradient descent on the phase turns it counter-clockwise (towards 4 x 30 deg).
  const auto stepped = phase.detach() - 10.0 * phase.grad();
  EXPECT_GT(decode_angle(stepped, order).item<double>(), 20.0);
}
