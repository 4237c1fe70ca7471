#pragma once
/// \file alrc.h
/// Adaptive learning rate clipping (ALRC; J. M. Ede and R. Beanland, "Adaptive
/// learning rate clipping stabilizes learning", Mach. Learn.: Sci. Technol. 1,
/// 015011 (2020), arXiv:1906.09060). ALRC keeps running estimates of the mean mu1
/// and second raw moment mu2 of a loss; a loss L above mu1 + n sigma, sigma =
/// sqrt(mu2 - mu1^2), is multiplied by stop_gradient((mu1 + n sigma) / L), so its
/// value becomes the threshold and its gradient is scaled down by the same factor.
/// The moments are then updated with exponential decay.
#include <torch/types.h>

#include <cstdint>

#include "emgan/core/config.h"

namespace emgan::losses {

/// Settings of ALRC (defaults of Ede's paper and code).
struct AlrcOptions {
  double n_sigma = 3.0;     ///< clip at mu1 + n_sigma * sigma; > 0
  double decay = 0.999;     ///< decay of both running moments, in [0, 1)
  double mu1_init = 25.0;   ///< initial running mean of the loss (loss unit)
  double mu2_init = 900.0;  ///< initial running second moment (loss unit^2), 30^2; >= mu1_init^2
  /// Update the moments with the clipped loss (Ede's Algorithm 1 and code) rather
  /// than the loss before clipping.
  bool update_with_clipped = true;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AlrcOptions, n_sigma, decay, mu1_init, mu2_init,
                                                update_with_clipped)

/// What ALRC carries from step to step (saved in checkpoints).
struct AlrcState {
  double mu1 = 25.0;    ///< running mean of the loss
  double mu2 = 900.0;   ///< running second raw moment of the loss
  int64_t steps = 0;    ///< number of finite losses seen
  int64_t clipped = 0;  ///< how many of them were clipped
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AlrcState, mu1, mu2, steps, clipped)

/// The ALRC wrapper of one loss. Not thread-safe; one instance per loss.
class Alrc {
 public:
  /// Validates `options` (ConfigError naming the bad value) and sets the state to
  /// the initial moments.
  explicit Alrc(AlrcOptions options = {});

  /// Clips a scalar (numel 1) loss and updates the moments. Returns `loss` itself
  /// when L <= threshold(); otherwise loss * ((mu1 + n sigma) / L) with the factor a
  /// constant (no gradient through it). A non-finite loss is returned unchanged
  /// and leaves the state alone (the trainer stops on it). Clipping needs L > 0;
  /// a loss at or below 0 is never clipped. Reads the value to the host (one sync).
  torch::Tensor operator()(const torch::Tensor& loss);

  /// The current clipping threshold mu1 + n_sigma * sigma (loss unit); sigma is
  /// sqrt(max(mu2 - mu1^2, 0)).
  double threshold() const;

  const AlrcOptions& options() const { return options_; }
  const AlrcState& state() const { return state_; }
  /// Restores a saved state; throws ConfigError for mu2 < 0 or non-finite moments.
  void load_state(const AlrcState& state);

 private:
  AlrcOptions options_;
  AlrcState state_;
};

}  // namespace emgan::losses
