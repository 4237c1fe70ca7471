#pragma once
/// \file property.h
/// Property control of the generative models: target phase fractions enforced by a
/// loss on the generated fractions, and the fractions actually achieved.
#include <torch/types.h>

#include <vector>

namespace emgan::generate {

struct GenerateTrainSettings;
struct Encoding;

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

}  // namespace emgan::generate
