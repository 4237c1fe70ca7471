// Segmentation metrics on a hand-made confusion.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/metrics/metrics.h"

namespace m = emgan::metrics;

namespace {
// truth 0 0 1 1 2 2, prediction 0 1 1 1 2 0:
// confusion (rows truth) [[1, 1, 0], [0, 2, 0], [1, 0, 1]].
torch::Tensor truth() { return torch::tensor({0, 0, 1, 1, 2, 2}, torch::kLong).view({1, 1, 2, 3}); }
torch::Tensor prediction() {
  return torch::tensor({0, 1, 1, 1, 2, 0}, torch::kLong).view({1, 1, 2, 3});
}
}  // namespace

TEST(Segmentation, ConfusionMatrixRowsAreTruth) {
  auto cm = m::confusion_matrix(prediction(), truth(), 3);
  EXPECT_EQ(cm.scalar_type(), torch::kLong);
  auto expected = torch::tensor({1, 1, 0, 0, 2, 0, 1, 0, 1}, torch::kLong).view({3, 3});
  EXPECT_TRUE(torch::equal(cm, expected)) << cm;
}

TEST(Segmentation, PixelAccuracy) {
  EXPECT_DOUBLE_EQ(m::pixel_accuracy(prediction(), truth()), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m::pixel_accuracy(truth(), truth()), 1.0);
}

TEST(Segmentation, IouAndDiceOfAHandMadeConfusion) {
  auto cm = m::confusion_matrix(prediction(), truth(), 3);
  auto iou = m::per_class_iou(cm);
  EXPECT_NEAR(iou[0].item<double>(), 1.0 / 3.0, 1e-12);  // TP 1, FP 1, FN 1
  EXPECT_NEAR(iou[1].item<double>(), 2.0 / 3.0, 1e-12);  // TP 2, FP 1, FN 0
  EXPECT_NEAR(iou[2].item<double>(), 1.0 / 2.0, 1e-12);  // TP 1, FP 0, FN 1
  EXPECT_NEAR(m::mean_iou(cm), 0.5, 1e-12);
  auto dice = m::per_class_dice(cm);
  EXPECT_NEAR(dice[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(dice[1].item<double>(), 0.8, 1e-12);
  EXPECT_NEAR(dice[2].item<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m::mean_dice(cm), (0.5 + 0.8 + 2.0 / 3.0) / 3.0, 1e-12);
}

TEST(Segmentation, ClassesAbsentFromBothAreIgnored) {
  auto cm = m::confusion_matrix(prediction(), truth(), 5);  // classes 3 and 4 never occur
  auto iou = m::per_class_iou(cm);
  EXPECT_TRUE(std::isnan(iou[3].item<double>()));
  EXPECT_TRUE(std::isnan(iou[4].item<double>()));
  EXPECT_NEAR(m::mean_iou(cm), 0.5, 1e-12);
  // A class only predicted (never true) counts, with IoU 0.
  auto pred = prediction().clone();
  pred.view({-1})[0] = 3;
  auto cm2 = m::confusion_matrix(pred, truth(), 5);
  EXPECT_DOUBLE_EQ(m::per_class_iou(cm2)[3].item<double>(), 0.0);
  EXPECT_TRUE(std::isnan(m::mean_iou(torch::zeros({2, 2}, torch::kLong))));
}

TEST(Segmentation, RejectsBadLabels) {
  EXPECT_THROW(m::confusion_matrix(prediction(), truth(), 2), emgan::ConfigError);  // label 2 >= 2
  EXPECT_THROW(m::confusion_matrix(prediction() - 1, truth(), 3), emgan::ConfigError);
  EXPECT_THROW(m::confusion_matrix(prediction().to(torch::kFloat), truth(), 3), emgan::ConfigError);
  EXPECT_THROW(m::confusion_matrix(prediction(), truth().view({6}), 3), emgan::ConfigError);
  EXPECT_THROW(m::per_class_iou(torch::zeros({2, 3})), emgan::ConfigError);
  try {
    m::confusion_matrix(prediction(), truth() + 7, 3);
    FAIL() << "no exception";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("9"), std::string::npos) << e.what();
  }
}

TEST(Segmentation, RunsOnGpu_CUDA) {
  auto cuda = torch::Device(torch::kCUDA);
  auto cm = m::confusion_matrix(prediction().to(cuda), truth().to(cuda), 3);
  EXPECT_TRUE(cm.is_cuda());
  EXPECT_NEAR(m::mean_iou(cm), 0.5, 1e-12);
}
