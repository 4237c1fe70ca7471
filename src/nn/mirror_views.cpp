#include "emgan/nn/mirror_views.h"

#include <vector>

#include "emgan/core/error.h"

namespace emgan::nn {

void check_mirror_views(int64_t views, const std::string& what) {
  EMGAN_CHECK(ConfigError, views == 1 || views == 2 || views == 4 || views == 8, what, " ", views,
              " is not a view count; expected 1, 2, 4 or 8");
}

torch::Tensor average_mirror_views(const torch::Tensor& x, int64_t views,
                                   const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  check_mirror_views(views, "mirror views");
  EMGAN_CHECK(ConfigError, x.dim() >= 2, "mirror views: the input has shape ", x.sizes(), "; expected [..., H, W]");
  torch::Tensor sum;
  for (int64_t k = 0; k < views; ++k) {
    const bool transpose = k >= 4;
    std::vector<int64_t> dims;
    if (k & 1) dims.push_back(-1);
    if (k & 2) dims.push_back(-2);
    auto v = transpose ? x.transpose(-2, -1) : x;
    if (!dims.empty()) v = v.flip(dims);
    auto y = f(v.contiguous());
    if (!dims.empty()) y = y.flip(dims);
    if (transpose) y = y.transpose(-2, -1);
    sum = sum.defined() ? sum + y : y;
  }
  return views == 1 ? sum : (sum / static_cast<double>(views)).contiguous();
}

}  // namespace emgan::nn
