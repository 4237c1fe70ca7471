#pragma once
/// \file property.h
/// Property control of the generative models: target phase fractions enforced by a
/// loss on the generated fractions, and the fractions actually achieved.
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace emgan::generate {

struct GenerateTrainSettings;
struct Encoding;

/// Fractions given for the first k <= `phases` phases expanded to one per phase (NaN =
/// no target), checked: each in [0, 1], their sum <= 1 (+- 1e-3), exactly 1 when all
/// phases are given. ConfigError naming `what` and the value otherwise.
std::vector<double> per_phase_fractions(const std::vector<double>& given, int64_t phases,
                                        const std::string& what);

/// The requested fractions of `settings.target_fractions` expanded to one per phase:
/// empty when none are requested; k < phases values are kept as given (phases k..
/// are free). ConfigError when the data is not n-phase, a value is outside [0, 1],
/// there are more values than phases, or a full set does not sum to 1 (+- 1e-3).
/// NaN marks a phase without a target.
std::vector<double> requested_fractions(const GenerateTrainSettings& settings, const Encoding& encoding);

/// The fraction loss weight * sum_p (f_p - t_p)^2 over the phases with a (non-NaN)
/// target t_p, f_p = mean of channel p of `x` `[N, C, ...]` over all other axes
/// (the soft, differentiable phase fraction of softmax outputs). 0-dim tensor on
/// x's device; 0 when `targets` is empty.
torch::Tensor fraction_loss(const torch::Tensor& x, const std::vector<double>& targets, double weight);

/// Per-phase fractions of the argmax labels of `x` `[N, C, ...]`, all samples pooled;
/// C values summing to 1.
std::vector<double> label_fractions(const torch::Tensor& x);

/// Mode-collapse check: the mean over all pairs i < j of the RMS difference
/// sqrt(mean((x_i - x_j)^2)) of images `x` `[N, C, H, W]` (N >= 2, else ConfigError).
/// For one-hot phases it is sqrt(2 x the fraction of pixels whose phase differs / C).
/// A collapsed generator scores far below real crops of the same size.
double mean_pairwise_distance(const torch::Tensor& x);

/// Mode-seeking regulariser (Mao et al. 2019, MSGAN) on a generated batch `x` `[N, ...]`
/// from latents `z` `[N, ...]`: the batch's first and second halves are paired,
/// ratio = mean|x_a - x_b| / mean|z_a - z_b|, loss = weight / (ratio + 1e-5). A generator
/// that ignores its latent (the same output for every z) has ratio 0 and pays 1e5 x
/// weight; 0 for weight 0 or N < 2 (a zero scalar on x's device).
torch::Tensor mode_seeking_loss(const torch::Tensor& x, const torch::Tensor& z, double weight);

/// Straight-through one-hot of softmax phases `probs` `[N, C, ...]` (C >= 2): the
/// forward value is the one-hot argmax over C (what a sample file holds), the gradient
/// is that of `probs` itself (Bengio et al. 2013). ConfigError for fewer than 2 dims or
/// channels.
torch::Tensor straight_through_one_hot(const torch::Tensor& probs);

/// Share of the pixels/voxels of softmax phases `probs` `[C, ...]` whose most likely phase
/// has probability below `below`: the part of a sample that argmax decides rather than the
/// generator (0 for one-hot outputs). ConfigError for fewer than 2 dims or channels.
double uncertain_share(const torch::Tensor& probs, double below = 0.9);

/// The result of calibrate_fractions().
struct FractionCalibration {
  torch::Tensor probs;  ///< `[C, ...]` softmax(log p + offset): argmax has the target fractions
  std::vector<double>
      offsets;  ///< per phase, the log-probability shift (0 for a phase without a target)
  std::vector<double> before;  ///< argmax fractions of the input
  std::vector<double> after;   ///< argmax fractions of `probs`
  double changed_share = 0.0;  ///< share of the pixels/voxels whose phase changed
  double max_error = 0.0;      ///< max |after - target| over the phases with a target
  double tolerance = 0.0;      ///< the error it aimed for: max(tolerance, 1 / pixels)
  int iterations = 0;          ///< argmax evaluations used
};

/// Sample-time property control: shifts the log-probabilities of softmax phases `probs`
/// `[C, ...]` (one sample) by one offset per phase, so that the argmax labels have the
/// fractions `targets` (C values; NaN = no target, that phase keeps offset 0). The shift
/// is a change of the phases' prior (Bayes' rule), so the voxels that change phase are
/// those the generator was least sure of, on the boundaries between phases; the
/// structure is otherwise kept. The offsets are found by a damped fixed-point iteration
/// (offset_p += step * log(t_p / f_p)) until every targeted fraction is within
/// max(`tolerance`, 1 / pixels) of its target or `max_iterations` argmax evaluations;
/// the best offsets seen are kept (max_error says how close they came). ConfigError for
/// fewer than 2 dims or channels, a target count other than C, a target outside
/// [0, 1], or targets summing to more than 1 (+- 1e-3; exactly 1 when all are given).
FractionCalibration calibrate_fractions(const torch::Tensor& probs,
                                        const std::vector<double>& targets, double tolerance = 1e-4,
                                        int max_iterations = 200);

class TrainingData;

/// Mode-collapse check of a 3D generator: for each axis, mean_pairwise_distance of the
/// central slices perpendicular to it of `volumes` `[N, C, S, S, S]` (N >= 2, drawn from
/// different latents; compared as as_compared() compares images) and of N random S x S
/// crops of `data` for that axis; returns both, averaged over the three axes. A
/// generator that ignores its latent field (the same pattern in every volume, e.g. one
/// tile repeated per latent voxel) scores near 0; draws from torch's global generator.
std::pair<double, double> volume_diversity(const torch::Tensor& volumes, const TrainingData& data,
                                           const Encoding& enc);

}  // namespace emgan::generate
