#include "emgan/micro/phases.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "emgan/core/error.h"

namespace emgan::micro {

namespace {

std::string prefix(const std::string& source) { return source.empty() ? std::string("image") : source; }

void check_rank(const torch::Tensor& image, const std::string& source) {
  EMGAN_CHECK(ConfigError, image.defined() && (image.dim() == 2 || image.dim() == 3), prefix(source),
              ": expected a 2D image [H, W] or a 3D volume [D, H, W], got ",
              image.defined() ? image.dim() : 0, " dimensions");
  EMGAN_CHECK(ConfigError, image.numel() > 1, prefix(source), ": empty image ", image.sizes());
}

}  // namespace

torch::Tensor squeeze_channels(const torch::Tensor& image, const std::string& source) {
  EMGAN_CHECK(ConfigError, image.defined() && image.dim() >= 2 && image.dim() <= 4, prefix(source),
              ": expected an image [C, H, W] or a volume [C, D, H, W], got ",
              image.defined() ? image.dim() : 0, " dimensions");
  if (image.dim() == 2) return image;
  const int64_t c = image.size(0);
  if (c == 1) return image.squeeze(0);
  EMGAN_CHECK(ConfigError, c == 3 || c == 4, prefix(source), ": ", c,
              " channels; expected 1 (grey/labels) or 3-4 (RGB, converted to grey)");
  return image.narrow(0, 0, 3).to(torch::kFloat).mean(0);
}

PhaseMap detect_phases(const torch::Tensor& image, int64_t max_phases, const std::string& source) {
  check_rank(image, source);
  EMGAN_CHECK(ConfigError, torch::isfinite(image).all().item<bool>(), prefix(source),
              ": contains NaN or Inf values; a phase label image needs finite values");
  auto [uniq, inverse, counts] = torch::_unique2(image.flatten(), /*sorted=*/true, /*return_inverse=*/true,
                                                 /*return_counts=*/false);
  (void)counts;
  const int64_t n = uniq.numel();
  EMGAN_CHECK(ConfigError, n >= 2, prefix(source), ": has a single value (", uniq[0].item<double>(),
              "); a microstructure needs at least 2 phases");
  EMGAN_CHECK(ConfigError, n <= max_phases, prefix(source), ": has ", n,
              " distinct values, more than the ", max_phases,
              " phases expected of a segmented (n-phase) label image; it looks like an unsegmented grey "
              "image. Use --phases N to segment it into N phases by multi-level Otsu thresholds.");
  PhaseMap map;
  map.labels = inverse.reshape(image.sizes()).to(torch::kLong);
  auto u = uniq.to(torch::kDouble).cpu();
  for (int64_t i = 0; i < n; ++i) map.values.push_back(u[i].item<double>());
  return map;
}

std::vector<double> otsu_thresholds(const torch::Tensor& image, int64_t phases) {
  EMGAN_CHECK(ConfigError, phases >= 2 && phases <= 8, "otsu_thresholds: phases = ", phases,
              "; expected 2..8");
  const auto flat = image.detach().flatten().to(torch::kDouble);
  const double lo = flat.min().item<double>();
  const double hi = flat.max().item<double>();
  EMGAN_CHECK(ConfigError, std::isfinite(lo) && std::isfinite(hi) && hi > lo,
              "otsu_thresholds: the image is constant or not finite (min ", lo, ", max ", hi, ")");
  constexpr int64_t kBins = 256;
  const auto hist = torch::histc(flat, kBins, lo, hi).cpu();
  const double width = (hi - lo) / kBins;
  // Prefix sums of weight and weight * centre: class [a, b) has w = W[b] - W[a].
  std::vector<double> w(kBins + 1, 0.0), m(kBins + 1, 0.0);
  const auto h = hist.accessor<double, 1>();
  for (int64_t i = 0; i < kBins; ++i) {
    const double centre = lo + (i + 0.5) * width;
    w[i + 1] = w[i] + h[i];
    m[i + 1] = m[i] + h[i] * centre;
  }
  auto score = [&](int64_t a, int64_t b) {  // w * mu^2 of bins [a, b)
    const double ww = w[b] - w[a];
    return ww > 0 ? (m[b] - m[a]) * (m[b] - m[a]) / ww : 0.0;
  };
  // Dynamic programme: best[k][b] = best score of splitting bins [0, b) into k classes.
  const double neg = -std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(phases + 1, std::vector<double>(kBins + 1, neg));
  std::vector<std::vector<int64_t>> arg(phases + 1, std::vector<int64_t>(kBins + 1, 0));
  for (int64_t b = 1; b <= kBins; ++b) best[1][b] = score(0, b);
  for (int64_t k = 2; k <= phases; ++k) {
    for (int64_t b = k; b <= kBins; ++b) {
      for (int64_t a = k - 1; a < b; ++a) {
        if (best[k - 1][a] == neg) continue;
        const double s = best[k - 1][a] + score(a, b);
        if (s > best[k][b]) {
          best[k][b] = s;
          arg[k][b] = a;
        }
      }
    }
  }
  std::vector<double> thresholds(phases - 1);
  int64_t b = kBins;
  for (int64_t k = phases; k >= 2; --k) {
    const int64_t a = arg[k][b];
    // Every boundary inside a run of empty bins scores the same: take the middle.
    int64_t run_lo = a, run_hi = a;
    while (run_lo > 0 && h[run_lo - 1] == 0) --run_lo;
    while (run_hi < kBins && h[run_hi] == 0) ++run_hi;
    thresholds[k - 2] = lo + 0.5 * static_cast<double>(run_lo + run_hi) * width;
    b = a;
  }
  return thresholds;
}

PhaseMap threshold_phases(const torch::Tensor& image, int64_t phases, const std::string& source) {
  check_rank(image, source);
  EMGAN_CHECK(ConfigError, torch::isfinite(image).all().item<bool>(), prefix(source),
              ": contains NaN or Inf values; cannot threshold it");
  EMGAN_CHECK(ConfigError, phases >= 2 && phases <= 8, prefix(source), ": --phases ", phases,
              " is outside 2..8");
  const double lo = image.min().item<double>();
  const double hi = image.max().item<double>();
  EMGAN_CHECK(ConfigError, hi > lo, prefix(source), ": the image is constant (", lo,
              "); nothing to threshold into ", phases, " phases");
  PhaseMap map;
  map.thresholded = true;
  map.thresholds = otsu_thresholds(image, phases);
  const auto x = image.to(torch::kDouble);
  const auto bounds = torch::tensor(map.thresholds, x.options());
  map.labels = torch::bucketize(x.contiguous(), bounds).to(torch::kLong);
  for (int64_t p = 0; p < phases; ++p) {
    const auto sel = map.labels == p;
    const double count = sel.sum().item<double>();
    map.values.push_back(count > 0 ? x.masked_select(sel).mean().item<double>()
                                   : std::numeric_limits<double>::quiet_NaN());
  }
  return map;
}

PhaseMap to_phases(const torch::Tensor& image, int64_t phases, const std::string& source) {
  if (phases == 0) return detect_phases(image, kMaxDetectedPhases, source);
  check_rank(image, source);
  const int64_t distinct = std::get<0>(torch::_unique2(image.flatten(), true, false, false)).numel();
  if (distinct == phases) return detect_phases(image, phases, source);
  return threshold_phases(image, phases, source);
}

torch::Tensor one_hot(const torch::Tensor& labels, int64_t phases) {
  EMGAN_CHECK(ConfigError, phases >= 1, "one_hot: phases = ", phases, "; expected >= 1");
  const auto l = labels.to(torch::kLong);
  if (l.numel() > 0) {
    const int64_t lo = l.min().item<int64_t>();
    const int64_t hi = l.max().item<int64_t>();
    EMGAN_CHECK(ConfigError, lo >= 0 && hi < phases, "one_hot: labels span ", lo, "..", hi,
                "; expected 0..", phases - 1);
  }
  auto oh = torch::nn::functional::one_hot(l, phases).to(torch::kFloat);
  return oh.movedim(-1, 0).contiguous();
}

torch::Tensor labels_from_one_hot(const torch::Tensor& channels) {
  EMGAN_CHECK(ConfigError, channels.dim() >= 2, "labels_from_one_hot: expected [P, ...], got ",
              channels.sizes());
  return channels.argmax(0).to(torch::kLong);
}

}  // namespace emgan::micro
