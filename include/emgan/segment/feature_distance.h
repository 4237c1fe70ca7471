#pragma once
/// \file feature_distance.h
/// Distribution distances between sets of images, computed on features: the Fréchet
/// distance (FID-style, Heusel et al. 2017) and the kernel MMD of KID (Bińkowski et
/// al. 2018). No pretrained Inception weights are available here, so the features
/// come from a TorchScript network the user supplies, from a trained emgan
/// segmenter's encoder, or from a built-in fallback ("emgan-randconv-v1": a fixed,
/// untrained, seeded 4-layer convolutional net). The numbers are only comparable
/// between runs that use the same feature network (never with Inception-FID);
/// every report names the network.
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::segment {

/// Fréchet distance between Gaussians fitted to feature sets `a` [N, D] and `b`
/// [M, D] (N, M >= 2): |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2),
/// in float64 with symmetric eigen-decompositions. 0 for identical sets (up to
/// rounding), in squared feature units.
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

/// Unbiased squared MMD with the polynomial kernel k(x, y) = (x . y / D + 1)^3 (the
/// KID estimator) between `a` [N, D] and `b` [M, D] (N, M >= 2). Near 0 (may be
/// slightly negative) for sets from one distribution.
double kernel_distance(const torch::Tensor& a, const torch::Tensor& b);

/// Maps image batches [N, 1, H, W] (values in [0, 1]) to features [N, D].
class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  /// Features of a batch, float32 [N, D], on the CPU.
  virtual torch::Tensor features(const torch::Tensor& images) = 0;
  /// What the features come from (written into every report).
  virtual std::string name() const = 0;
};

/// The feature network of `path`: "" = the built-in emgan-randconv-v1; an emgan
/// segmenter model file = its encoder's deepest features (mean- and std-pooled);
/// any other file = a TorchScript module whose output (pooled over space when 4-D)
/// gives the features. IoError naming the file when it cannot be loaded.
std::unique_ptr<FeatureExtractor> make_feature_extractor(const std::string& path,
                                                         const torch::Device& device = torch::kCPU);

/// Fréchet and kernel distances of two image sets on one feature network.
struct DistanceReport {
  std::string feature_network;  ///< FeatureExtractor::name()
  int64_t real = 0;             ///< images in the first set
  int64_t generated = 0;        ///< images in the second set
  double frechet = 0.0;         ///< frechet_distance of their features
  double kernel = 0.0;          ///< kernel_distance of their features
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DistanceReport, feature_network, real, generated, frechet, kernel)

/// Distances between two lists of `[H, W]` images in [0, 1] (any sizes; each image
/// gives one feature vector).
DistanceReport image_set_distance(const std::vector<torch::Tensor>& real, const std::vector<torch::Tensor>& generated,
                                  FeatureExtractor& extractor);

}  // namespace emgan::segment
