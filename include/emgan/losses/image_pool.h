#pragma once
/// \file image_pool.h
/// CycleGAN's history of generated images (Shrivastava et al. 2017; Zhu et al.
/// 2017): the discriminator sees, per image, either the new fake or, with
/// probability `swap_probability` once the pool is full, a stored older fake
/// (which the new one replaces). Random draws come from the pool's own seeded
/// generator (a 64-bit Mersenne twister), never from global state.
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "emgan/core/config.h"

namespace emgan::losses {

/// Settings of ImagePool.
struct ImagePoolOptions {
  int64_t pool_size = 50;  ///< images kept; 0 disables the pool (query returns its input), >= 0
  double swap_probability = 0.5;  ///< chance to return a stored image once full, in [0, 1]
  uint64_t seed = 0;              ///< seed of the pool's own random generator
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ImagePoolOptions, pool_size, swap_probability, seed)

class ImagePool {
 public:
  /// Validates `options` (ConfigError naming the bad value).
  explicit ImagePool(ImagePoolOptions options = {});

  /// Takes a batch of fakes `[N, ...]` and returns a batch of the same shape, on
  /// the same device, detached: image i is the new image (while the pool fills, or
  /// with probability 1 - swap_probability) or a stored one it replaces. Stored
  /// images keep their own shape; a returned stored image must match the batch's
  /// image shape (ConfigError otherwise).
  torch::Tensor query(const torch::Tensor& images);

  /// Number of images stored (<= pool_size).
  int64_t size() const { return static_cast<int64_t>(images_.size()); }
  const ImagePoolOptions& options() const { return options_; }

  /// Writes the stored images and the generator state under keys starting with
  /// `prefix` (letters, digits, '_').
  void save(torch::serialize::OutputArchive& archive,
            const std::string& prefix = "image_pool") const;
  /// Reads what save() wrote; images are loaded on the CPU and moved to the device
  /// of the next query. Throws IoError naming the key when it is missing or bad.
  void load(torch::serialize::InputArchive& archive, const std::string& prefix = "image_pool");

 private:
  double uniform();
  ImagePoolOptions options_;
  std::mt19937_64 rng_;
  std::vector<torch::Tensor> images_;
};

}  // namespace emgan::losses
