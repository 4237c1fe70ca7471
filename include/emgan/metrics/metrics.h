#pragma once
/// \file metrics.h
/// Image-quality and segmentation metrics: pure functions over tensors, with no
/// state and no device side effects. They run on the device of their inputs and
/// never move data between devices except to return a host `double`.
///
/// **Shapes.** Image metrics take two tensors of the same shape, `[H, W]`,
/// `[C, H, W]` or `[N, C, H, W]` (an `[H, W]` image is one image of one channel, a
/// `[C, H, W]` one image of C channels). Any floating or integer dtype; the
/// computation is done in float64 unless noted.
///
/// **Reductions.** Every image metric is computed *per image* (one `[C, H, W]`
/// sample of the batch, all its channels and pixels together) and the `double`
/// functions return the mean over the N images of the batch, which is how the
/// papers of this field report a test set. `*_per_image` functions return the N
/// values as a float64 tensor `[N]` on the inputs' device.
///
/// **Units.** MSE is in (intensity unit)^2, RMSE in the intensity unit of the
/// images, fractional RMSE in percent, PSNR in dB, SSIM is unitless in [-1, 1].
#include <torch/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/arg.h>

#include "emgan/core/config.h"

namespace emgan::metrics {

// --- pixel-wise errors --------------------------------------------------------

/// Mean squared error per image: mean over C, H, W of (pred - target)^2. `[N]`, float64.
torch::Tensor mse_per_image(const torch::Tensor& pred, const torch::Tensor& target);
/// Mean over the batch of mse_per_image; (intensity unit)^2.
double mse(const torch::Tensor& pred, const torch::Tensor& target);

/// Root mean squared error per image: sqrt(mse) of each image. `[N]`, float64.
torch::Tensor rmse_per_image(const torch::Tensor& pred, const torch::Tensor& target);
/// Mean over the batch of rmse_per_image; intensity unit.
double rmse(const torch::Tensor& pred, const torch::Tensor& target);

/// Fractional RMSE per image, in percent: 100 * RMSE / std(target), with std the
/// population standard deviation (divisor H*W*C) of the TRUE image — the metric of
/// the STEM convolution-to-multislice papers (Combs et al. 2019; Lawrence et al.).
/// A constant target (std 0) gives +inf (or NaN when pred equals it). `[N]`, float64.
torch::Tensor frac_rmse_per_image(const torch::Tensor& pred, const torch::Tensor& target);
/// Mean over the batch of frac_rmse_per_image; percent.
double frac_rmse(const torch::Tensor& pred, const torch::Tensor& target);

/// Peak signal-to-noise ratio per image in dB: 10 log10(data_range^2 / MSE).
/// `data_range` (intensity unit) is the span of possible values, e.g. 1 for images
/// in [0, 1], 255 for 8-bit; it must be > 0 (ConfigError otherwise). An image with
/// MSE 0 gives +inf. `[N]`, float64.
torch::Tensor psnr_per_image(const torch::Tensor& pred, const torch::Tensor& target,
                             double data_range);
/// Mean over the batch of psnr_per_image; dB.
double psnr(const torch::Tensor& pred, const torch::Tensor& target, double data_range);

// --- noise -------------------------------------------------------------------

/// Standard deviation of the additive white noise of each image, estimated with
/// Immerkaer's operator (Comput. Vis. Image Underst. 64, 1996): the image is
/// convolved (valid part) with the outer product of two second differences,
/// [1 -2 1] x [1 -2 1], which is zero on any f(x) + g(y) + a x y and so on smooth
/// structure, and sigma = sqrt(pi / 2) / 6 * mean |response|. Fine structure near
/// the pixel scale (lattice fringes of 2-3 px) reads as noise, so it is an upper
/// estimate there. Per image, mean over channels. Images of at least 3x3; `[N]`, float64.
torch::Tensor noise_sigma_per_image(const torch::Tensor& images);
/// Mean over the batch of noise_sigma_per_image; intensity unit.
double noise_sigma(const torch::Tensor& images);

// --- SSIM ----------------------------------------------------------------------

/// Settings of SSIM (Wang et al. 2004). The defaults reproduce the paper and
/// scikit-image's `structural_similarity(..., gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=R)`.
struct SsimOptions {
  /// Standard deviation of the Gaussian window, in pixels; > 0.
  TORCH_ARG(double, sigma) = 1.5;
  /// Window radius in units of sigma: radius = int(truncate * sigma + 0.5) px
  /// (scipy.ndimage); 3.5 * 1.5 gives radius 5, an 11x11 window.
  TORCH_ARG(double, truncate) = 3.5;
  /// Luminance stabiliser: C1 = (k1 * data_range)^2; >= 0.
  TORCH_ARG(double, k1) = 0.01;
  /// Contrast/structure stabiliser: C2 = (k2 * data_range)^2; >= 0.
  TORCH_ARG(double, k2) = 0.03;
};

/// Window side in pixels for `options`: 2 * int(truncate * sigma + 0.5) + 1.
int64_t ssim_window_size(const SsimOptions& options = {});

/// The SSIM map: the local SSIM index at every pixel, same shape as the inputs
/// (`[H, W]`, `[C, H, W]` or `[N, C, H, W]`), each channel filtered separately.
/// Local statistics are Gaussian-weighted (separable convolution) with
/// scipy.ndimage's 'reflect' boundary (symmetric padding `d c b a | a b c d`) and
/// population covariances. The map is NOT cropped; the borders of width
/// (window - 1) / 2 are influenced by the padding. Differentiable (used by the SSIM
/// loss); computed in the dtype of the inputs (float32 stays float32, integer
/// inputs become float32). `data_range` (intensity unit) must be > 0; H and W must
/// be at least the window size (11 by default). Throws ConfigError otherwise.
torch::Tensor ssim_map(const torch::Tensor& pred, const torch::Tensor& target, double data_range,
                       const SsimOptions& options = {});

/// Mean SSIM of each image, float64 tensor `[N]`: the mean of ssim_map over the
/// pixels of all channels, cropped by (window - 1) / 2 on every side (as
/// scikit-image does; for several channels this equals skimage's channel average).
/// Computed in float64.
torch::Tensor ssim_per_image(const torch::Tensor& pred, const torch::Tensor& target,
                             double data_range, const SsimOptions& options = {});
/// Mean over the batch of ssim_per_image; unitless, 1 for identical images.
double ssim(const torch::Tensor& pred, const torch::Tensor& target, double data_range,
            const SsimOptions& options = {});

/// The cropped mean of an SSIM map (`[..., H, W]`, from ssim_map) as a 0-dim tensor
/// of the map's dtype, differentiable: the mean over all leading dimensions and the
/// pixels at least (window - 1) / 2 away from every border.
torch::Tensor cropped_mean(const torch::Tensor& map, const SsimOptions& options = {});

// --- all image metrics at once -------------------------------------------------

/// The image metrics of a prediction against its target, each the mean over the
/// batch of per-image values (see the file comment).
struct ImageMetrics {
  double mse = 0.0;                ///< (intensity unit)^2
  double rmse = 0.0;               ///< intensity unit
  double frac_rmse_percent = 0.0;  ///< 100 * RMSE / population std of the target, percent
  double psnr_db = 0.0;            ///< dB, with data_range below
  double ssim = 0.0;               ///< unitless, Wang et al. 2004 (default SsimOptions)
  double data_range = 0.0;         ///< intensity unit, the range used by PSNR and SSIM

  /// The metrics in a fixed order with display names:
  /// ("mse", ...), ("rmse", ...), ("frac_rmse_percent", ...), ("psnr_db", ...),
  /// ("ssim", ...), ("data_range", ...).
  std::vector<std::pair<std::string, double>> items() const;
};

void to_json(Json& j, const ImageMetrics& m);
void from_json(const Json& j, ImageMetrics& m);

/// Computes every image metric of `pred` against `target` (shapes as above).
/// `data_range` (intensity unit) defaults to max(target) - min(target) over the
/// whole target tensor; a constant target then has no range and throws ConfigError
/// (pass data_range explicitly). An explicit data_range must be > 0.
ImageMetrics image_metrics(const torch::Tensor& pred, const torch::Tensor& target,
                           std::optional<double> data_range = std::nullopt,
                           const SsimOptions& ssim_options = {});

// --- segmentation ---------------------------------------------------------------

/// Confusion matrix of integer class labels: `[num_classes, num_classes]` int64 on
/// the labels' device, entry (t, p) = number of pixels of true class t predicted as
/// p (rows = truth, columns = prediction). `pred_labels` and `true_labels` are
/// integer tensors of the same (any) shape with values in [0, num_classes);
/// anything else throws ConfigError naming the bad value.
torch::Tensor confusion_matrix(const torch::Tensor& pred_labels, const torch::Tensor& true_labels,
                               int64_t num_classes);

/// Fraction of pixels whose predicted label equals the true label, in [0, 1].
/// Integer label tensors of the same shape; an empty tensor throws ConfigError.
double pixel_accuracy(const torch::Tensor& pred_labels, const torch::Tensor& true_labels);

/// Intersection over union of each class from a confusion matrix (rows truth):
/// TP / (TP + FP + FN), float64 `[K]`; NaN for a class absent from both the truth
/// and the prediction.
torch::Tensor per_class_iou(const torch::Tensor& confusion);

/// Mean of per_class_iou over the classes present in the truth or the prediction
/// (NaN entries ignored); NaN when no class is present.
double mean_iou(const torch::Tensor& confusion);

/// Dice coefficient (F1) of each class: 2 TP / (2 TP + FP + FN), float64 `[K]`; NaN
/// for a class absent from both.
torch::Tensor per_class_dice(const torch::Tensor& confusion);

/// Mean of per_class_dice over the present classes (NaN entries ignored).
double mean_dice(const torch::Tensor& confusion);

}  // namespace emgan::metrics
