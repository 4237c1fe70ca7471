#pragma once
/// \file mirror_views.h
/// Test-time averaging over mirror images of the pixel grid, shared by the workflows
/// whose networks map an image to an image (translation, segmentation).
#include <torch/torch.h>

#include <functional>
#include <string>

namespace emgan::nn {

/// Mean of `f` over `views` mirror images of `x` (any tensor whose last two dims are
/// H, W), each output mapped back before averaging. View k (k < views) transposes H and
/// W when k >= 4, then flips W when bit 0 of k is set and H when bit 1 is: 1 = f(x)
/// alone, 2 adds the left-right flip, 4 all flips, 8 the whole symmetry group of the
/// square grid (flips, transposes, 90-degree turns), under which the average is then
/// exactly equivariant. `f` must return H x W (W x H for a transposed view) in its last
/// two dims. ConfigError for a count other than 1, 2, 4 or 8.
torch::Tensor average_mirror_views(const torch::Tensor& x, int64_t views,
                                   const std::function<torch::Tensor(const torch::Tensor&)>& f);

/// Checks a view count of average_mirror_views; `what` names the setting in the error.
void check_mirror_views(int64_t views, const std::string& what);

}  // namespace emgan::nn
