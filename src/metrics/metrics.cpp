#include "emgan/metrics/metrics.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "emgan/core/error.h"

namespace emgan::metrics {
namespace {

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

/// Views an `[H, W]`, `[C, H, W]` or `[N, C, H, W]` tensor as `[N, C, H, W]`.
torch::Tensor as_nchw(const torch::Tensor& t, const char* what) {
  EMGAN_CHECK(ConfigError, t.defined(), "metrics: ", what, " is an undefined tensor");
  switch (t.dim()) {
    case 2:
      return t.unsqueeze(0).unsqueeze(0);
    case 3:
      return t.unsqueeze(0);
    case 4:
      return t;
    default:
      throw ConfigError(detail::concat("metrics: ", what, " has shape ", shape_str(t),
                                       "; expected [H, W], [C, H, W] or [N, C, H, W]"));
  }
}

void check_pair(const torch::Tensor& pred, const torch::Tensor& target) {
  EMGAN_CHECK(ConfigError, pred.defined() && target.defined(),
              "metrics: pred or target is undefined");
  EMGAN_CHECK(ConfigError, pred.sizes() == target.sizes(), "metrics: pred shape ", shape_str(pred),
              " differs from target shape ", shape_str(target), "; expected equal shapes");
  EMGAN_CHECK(ConfigError, pred.numel() > 0, "metrics: empty images of shape ", shape_str(pred));
  EMGAN_CHECK(ConfigError, pred.device() == target.device(), "metrics: pred is on ", pred.device(),
              " but target on ", target.device(), "; expected one device");
}

/// Both images as float64 `[N, C*H*W]`.
std::pair<torch::Tensor, torch::Tensor> flat_pair(const torch::Tensor& pred,
                                                  const torch::Tensor& target) {
  check_pair(pred, target);
  auto p = as_nchw(pred, "pred").to(torch::kDouble);
  auto t = as_nchw(target, "target").to(torch::kDouble);
  const int64_t n = p.size(0);
  return {p.reshape({n, -1}), t.reshape({n, -1})};
}

void check_range(double data_range, const char* what) {
  EMGAN_CHECK(ConfigError, std::isfinite(data_range) && data_range > 0, "metrics: ", what,
              " data_range ", data_range,
              " is invalid; expected a finite value > 0 (e.g. 1 for images in [0, 1])");
}

void check_ssim_options(const SsimOptions& o) {
  EMGAN_CHECK(ConfigError, std::isfinite(o.sigma()) && o.sigma() > 0, "ssim: sigma ", o.sigma(),
              " is invalid; expected > 0 pixels");
  EMGAN_CHECK(ConfigError, std::isfinite(o.truncate()) && o.truncate() > 0, "ssim: truncate ",
              o.truncate(), " is invalid; expected > 0");
  EMGAN_CHECK(ConfigError, o.k1() >= 0, "ssim: k1 ", o.k1(), " is invalid; expected >= 0");
  EMGAN_CHECK(ConfigError, o.k2() >= 0, "ssim: k2 ", o.k2(), " is invalid; expected >= 0");
}

/// Indices of scipy.ndimage's 'reflect' (symmetric, `d c b a | a b c d`) padding of
/// an axis of `n` samples by `r` on each side; valid for any r (repeats the period 2n).
torch::Tensor symmetric_index(int64_t n, int64_t r, const torch::Device& device) {
  std::vector<int64_t> idx(static_cast<size_t>(n + 2 * r));
  const int64_t period = 2 * n;
  for (int64_t i = -r; i < n + r; ++i) {
    int64_t m = ((i % period) + period) % period;
    if (m >= n) m = period - 1 - m;
    idx[static_cast<size_t>(i + r)] = m;
  }
  return torch::tensor(idx, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

double batch_mean(const torch::Tensor& per_image) { return per_image.mean().item<double>(); }

}  // namespace

torch::Tensor mse_per_image(const torch::Tensor& pred, const torch::Tensor& target) {
  auto [p, t] = flat_pair(pred, target);
  return (p - t).pow(2).mean(1);
}

double mse(const torch::Tensor& pred, const torch::Tensor& target) {
  return batch_mean(mse_per_image(pred, target));
}

torch::Tensor rmse_per_image(const torch::Tensor& pred, const torch::Tensor& target) {
  return mse_per_image(pred, target).sqrt();
}

double rmse(const torch::Tensor& pred, const torch::Tensor& target) {
  return batch_mean(rmse_per_image(pred, target));
}

torch::Tensor frac_rmse_per_image(const torch::Tensor& pred, const torch::Tensor& target) {
  auto [p, t] = flat_pair(pred, target);
  auto rms = (p - t).pow(2).mean(1).sqrt();
  auto sd = (t - t.mean(1, /*keepdim=*/true)).pow(2).mean(1).sqrt();  // population std
  return rms / sd * 100.0;
}

double frac_rmse(const torch::Tensor& pred, const torch::Tensor& target) {
  return batch_mean(frac_rmse_per_image(pred, target));
}

torch::Tensor psnr_per_image(const torch::Tensor& pred, const torch::Tensor& target,
                             double data_range) {
  check_range(data_range, "psnr");
  auto m = mse_per_image(pred, target);
  return (data_range * data_range / m).log10() * 10.0;
}

double psnr(const torch::Tensor& pred, const torch::Tensor& target, double data_range) {
  return batch_mean(psnr_per_image(pred, target, data_range));
}

torch::Tensor noise_sigma_per_image(const torch::Tensor& images) {
  auto x = as_nchw(images, "images");
  EMGAN_CHECK(ConfigError, x.size(2) >= 3 && x.size(3) >= 3, "noise_sigma: images of shape ", shape_str(images),
              " are too small; expected at least 3x3 pixels");
  x = x.to(torch::kDouble);
  const int64_t n = x.size(0), c = x.size(1);
  const auto d2 = torch::tensor({1.0, -2.0, 1.0}, x.options());
  const auto kernel = torch::outer(d2, d2).view({1, 1, 3, 3});
  const auto response = torch::conv2d(x.reshape({n * c, 1, x.size(2), x.size(3)}), kernel);
  const double scale = std::sqrt(std::acos(-1.0) / 2.0) / 6.0;
  return response.abs().mean({1, 2, 3}).view({n, c}).mean(1) * scale;
}

double noise_sigma(const torch::Tensor& images) { return batch_mean(noise_sigma_per_image(images)); }

int64_t ssim_window_size(const SsimOptions& options) {
  check_ssim_options(options);
  const auto radius = static_cast<int64_t>(options.truncate() * options.sigma() + 0.5);
  return 2 * radius + 1;
}

torch::Tensor ssim_map(const torch::Tensor& pred, const torch::Tensor& target, double data_range,
                       const SsimOptions& options) {
  check_pair(pred, target);
  check_range(data_range, "ssim");
  const int64_t win = ssim_window_size(options);
  const int64_t r = (win - 1) / 2;

  auto dtype = c10::promoteTypes(pred.scalar_type(), target.scalar_type());
  if (!c10::isFloatingType(dtype)) dtype = torch::kFloat;
  auto x = as_nchw(pred, "pred").to(dtype);
  auto y = as_nchw(target, "target").to(dtype);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  EMGAN_CHECK(ConfigError, h >= win && w >= win, "ssim: images of ", h, "x", w,
              " px are smaller than the ", win, "x", win, " window (sigma ", options.sigma(),
              ", truncate ", options.truncate(), "); expected both sides >= ", win);

  // The 1D Gaussian of scipy.ndimage.gaussian_filter, normalised to sum 1.
  std::vector<double> g(static_cast<size_t>(win));
  double sum = 0.0;
  for (int64_t k = -r; k <= r; ++k) {
    const double v =
        std::exp(-0.5 * (static_cast<double>(k) * k) / (options.sigma() * options.sigma()));
    g[static_cast<size_t>(k + r)] = v;
    sum += v;
  }
  for (auto& v : g) v /= sum;
  const auto opts = x.options();
  auto kernel = torch::tensor(g, torch::TensorOptions().dtype(torch::kDouble)).to(opts);

  // The five local moments in one pass of a separable filter.
  auto stack = torch::cat({x, y, x * x, y * y, x * y}, 0).reshape({5 * n * c, 1, h, w});
  auto padded = stack.index_select(2, symmetric_index(h, r, x.device()))
                    .index_select(3, symmetric_index(w, r, x.device()));
  auto f = torch::conv2d(padded, kernel.view({1, 1, win, 1}));
  f = torch::conv2d(f, kernel.view({1, 1, 1, win})).reshape({5, n, c, h, w});
  auto ux = f[0], uy = f[1], uxx = f[2], uyy = f[3], uxy = f[4];

  const double c1 = std::pow(options.k1() * data_range, 2);
  const double c2 = std::pow(options.k2() * data_range, 2);
  auto vx = uxx - ux * ux;
  auto vy = uyy - uy * uy;
  auto vxy = uxy - ux * uy;
  auto num = (2 * ux * uy + c1) * (2 * vxy + c2);
  auto den = (ux * ux + uy * uy + c1) * (vx + vy + c2);
  return (num / den).reshape(pred.sizes());
}

torch::Tensor cropped_mean(const torch::Tensor& map, const SsimOptions& options) {
  EMGAN_CHECK(ConfigError, map.defined() && map.dim() >= 2, "ssim: map of shape ",
              (map.defined() ? shape_str(map) : std::string("undefined")),
              " is not an image; expected [..., H, W]");
  const int64_t r = (ssim_window_size(options) - 1) / 2;
  const int64_t h = map.size(-2), w = map.size(-1);
  EMGAN_CHECK(ConfigError, h > 2 * r && w > 2 * r, "ssim: map of ", h, "x", w,
              " px has nothing left after cropping ", r, " px from every side");
  return map.narrow(-2, r, h - 2 * r).narrow(-1, r, w - 2 * r).mean();
}

torch::Tensor ssim_per_image(const torch::Tensor& pred, const torch::Tensor& target,
                             double data_range, const SsimOptions& options) {
  check_pair(pred, target);
  auto map = ssim_map(as_nchw(pred, "pred").to(torch::kDouble),
                      as_nchw(target, "target").to(torch::kDouble), data_range, options);
  const int64_t r = (ssim_window_size(options) - 1) / 2;
  const int64_t n = map.size(0), h = map.size(2), w = map.size(3);
  return map.narrow(2, r, h - 2 * r).narrow(3, r, w - 2 * r).reshape({n, -1}).mean(1);
}

double ssim(const torch::Tensor& pred, const torch::Tensor& target, double data_range,
            const SsimOptions& options) {
  return batch_mean(ssim_per_image(pred, target, data_range, options));
}

std::vector<std::pair<std::string, double>> ImageMetrics::items() const {
  return {{"mse", mse},         {"rmse", rmse}, {"frac_rmse_percent", frac_rmse_percent},
          {"psnr_db", psnr_db}, {"ssim", ssim}, {"data_range", data_range}};
}

void to_json(Json& j, const ImageMetrics& m) {
  j = Json::object();
  for (const auto& [name, value] : m.items()) j[name] = value;
}

void from_json(const Json& j, ImageMetrics& m) {
  m.mse = j.at("mse").get<double>();
  m.rmse = j.at("rmse").get<double>();
  m.frac_rmse_percent = j.at("frac_rmse_percent").get<double>();
  m.psnr_db = j.at("psnr_db").get<double>();
  m.ssim = j.at("ssim").get<double>();
  m.data_range = j.at("data_range").get<double>();
}

ImageMetrics image_metrics(const torch::Tensor& pred, const torch::Tensor& target,
                           std::optional<double> data_range, const SsimOptions& ssim_options) {
  check_pair(pred, target);
  double range = 0.0;
  if (data_range) {
    range = *data_range;
    check_range(range, "image_metrics");
  } else {
    auto t = target.to(torch::kDouble);
    range = (t.max() - t.min()).item<double>();
    EMGAN_CHECK(ConfigError, std::isfinite(range) && range > 0,
                "image_metrics: the target is constant (max - min = ", range,
                "), so it gives no data range; pass data_range explicitly");
  }
  ImageMetrics m;
  m.data_range = range;
  m.mse = mse(pred, target);
  m.rmse = rmse(pred, target);
  m.frac_rmse_percent = frac_rmse(pred, target);
  m.psnr_db = psnr(pred, target, range);
  m.ssim = ssim(pred, target, range, ssim_options);
  return m;
}

torch::Tensor confusion_matrix(const torch::Tensor& pred_labels, const torch::Tensor& true_labels,
                               int64_t num_classes) {
  EMGAN_CHECK(ConfigError, num_classes >= 1, "confusion_matrix: num_classes ", num_classes,
              " is invalid; expected >= 1");
  EMGAN_CHECK(ConfigError, pred_labels.defined() && true_labels.defined(),
              "confusion_matrix: undefined label tensor");
  EMGAN_CHECK(ConfigError, pred_labels.sizes() == true_labels.sizes(),
              "confusion_matrix: pred shape ", shape_str(pred_labels), " differs from truth shape ",
              shape_str(true_labels));
  for (const auto* t : {&pred_labels, &true_labels}) {
    EMGAN_CHECK(ConfigError, !t->is_floating_point() && !t->is_complex(),
                "confusion_matrix: labels of dtype ", t->scalar_type(),
                " are not integer class indices");
  }
  auto p = pred_labels.reshape({-1}).to(torch::kLong);
  auto t = true_labels.reshape({-1}).to(torch::kLong);
  if (p.numel() > 0) {
    const auto lo = torch::min(p.min(), t.min()).item<int64_t>();
    const auto hi = torch::max(p.max(), t.max()).item<int64_t>();
    EMGAN_CHECK(ConfigError, lo >= 0 && hi < num_classes, "confusion_matrix: label values span [",
                lo, ", ", hi, "]; expected values in [0, ", num_classes - 1, "]");
  }
  return torch::bincount(t * num_classes + p, {}, num_classes * num_classes)
      .view({num_classes, num_classes});
}

double pixel_accuracy(const torch::Tensor& pred_labels, const torch::Tensor& true_labels) {
  EMGAN_CHECK(
      ConfigError,
      pred_labels.defined() && true_labels.defined() && pred_labels.sizes() == true_labels.sizes(),
      "pixel_accuracy: label tensors must have equal shapes");
  EMGAN_CHECK(ConfigError, pred_labels.numel() > 0, "pixel_accuracy: empty label tensors");
  return pred_labels.eq(true_labels).to(torch::kDouble).mean().item<double>();
}

namespace {

struct ConfusionCounts {
  torch::Tensor tp, fp, fn;
};

ConfusionCounts counts(const torch::Tensor& confusion, const char* what) {
  EMGAN_CHECK(ConfigError,
              confusion.defined() && confusion.dim() == 2 && confusion.size(0) == confusion.size(1),
              what, ": confusion matrix of shape ",
              (confusion.defined() ? shape_str(confusion) : "undefined"), " is not square [K, K]");
  auto cm = confusion.to(torch::kDouble);
  auto tp = cm.diagonal();
  return {tp, cm.sum(0) - tp, cm.sum(1) - tp};
}

double nan_mean(const torch::Tensor& values) {
  auto present = values.masked_select(values.isnan().logical_not());
  if (present.numel() == 0) return std::numeric_limits<double>::quiet_NaN();
  return present.mean().item<double>();
}

}  // namespace

torch::Tensor per_class_iou(const torch::Tensor& confusion) {
  auto c = counts(confusion, "per_class_iou");
  return c.tp / (c.tp + c.fp + c.fn);  // 0 / 0 = NaN for absent classes
}

double mean_iou(const torch::Tensor& confusion) { return nan_mean(per_class_iou(confusion)); }

torch::Tensor per_class_dice(const torch::Tensor& confusion) {
  auto c = counts(confusion, "per_class_dice");
  return 2 * c.tp / (2 * c.tp + c.fp + c.fn);
}

double mean_dice(const torch::Tensor& confusion) { return nan_mean(per_class_dice(confusion)); }

}  // namespace emgan::metrics
