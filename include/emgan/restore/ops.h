#pragma once
/// \file ops.h
/// Tensor operations of partial-scan restoration: Gaussian blur, the nearest sampled
/// pixel of every pixel (jump flooding), and the classical restorations a
/// microscopist tries first. All run on the device of their inputs.
///
/// Shapes: scans and masks are float `[N, 1, H, W]`; a mask is 1 (> 0.5) at sampled
/// pixels. Restorations return `[N, 1, H, W]` and keep the sampled values exactly.
///
/// Baselines (names for `classical_restore`):
/// - "nearest": every pixel takes the value of its nearest sampled pixel (Euclidean,
///   found by the jump-flooding algorithm of Rong & Tan 2006 — exact up to rare ties).
/// - "linear": normalised convolution (Knutsson & Westin 1993): Gaussian-weighted
///   average of the sampled values, G*(m s) / G*m, sigma = 0.5 / sqrt(coverage) px so
///   the kernel spans the gaps between path lines; pixels the kernel does not reach
///   are filled at 4x the sigma. A triangulation-free linear-like interpolant.
/// - "harmonic": the membrane (Laplace) inpainting, minimiser of sum |grad u|^2 with the
///   sampled pixels fixed (Neumann frame border), solved by conjugate gradients.
/// - "biharmonic": the thin-plate inpainting, minimiser of sum (Laplacian u)^2 with the
///   sampled pixels fixed, conjugate gradients (smooth, like scikit-image's
///   inpaint_biharmonic, without its local patch decomposition).
#include <torch/types.h>

#include <string>
#include <vector>

namespace emgan::restore {

/// Separable Gaussian blur of `x` `[N, C, H, W]` (each channel alone), `sigma` px > 0,
/// kernel radius ceil(3 sigma), zero padding outside the frame (use it as a ratio of
/// two blurs, or for masks).
torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma);

/// Result of nearest_sample.
struct NearestSample {
  torch::Tensor distance;  ///< `[N, 1, H, W]` float32, px to the nearest sampled pixel (0 on the path)
  torch::Tensor index;     ///< `[N, 1, H, W]` int64, flat index r * W + c of that pixel
};

/// The nearest sampled pixel of every pixel (jump flooding with steps W/2 .. 1 plus
/// a final step-1 pass). ConfigError when an image of `mask` has no sampled pixel.
NearestSample nearest_sample(const torch::Tensor& mask);

/// Names accepted by classical_restore: nearest, linear, harmonic, biharmonic.
extern const std::vector<std::string> kBaselineNames;

/// Settings of the iterative baselines.
struct BaselineOptions {
  double sigma = 0.0;        ///< linear: Gaussian sigma, px (0 = 0.5 / sqrt(coverage))
  int64_t max_iterations = 2000;  ///< harmonic/biharmonic: conjugate-gradient iterations at most
  double tolerance = 1e-6;   ///< relative residual at which conjugate gradients stop
};

/// Restores `scan` from the pixels `mask` marks with the classical method `name`
/// (see the file comment). ConfigError for an unknown name or mismatched shapes.
torch::Tensor classical_restore(const std::string& name, const torch::Tensor& scan, const torch::Tensor& mask,
                                const BaselineOptions& options = {});

/// Nearest-sample fill (see the file comment).
torch::Tensor nearest_fill(const torch::Tensor& scan, const torch::Tensor& mask);
/// Normalised-convolution interpolation with Gaussian `sigma` px (0 = automatic).
torch::Tensor normalized_convolution(const torch::Tensor& scan, const torch::Tensor& mask, double sigma = 0.0);
/// Harmonic inpainting (conjugate gradients from the normalised-convolution start).
torch::Tensor harmonic_inpaint(const torch::Tensor& scan, const torch::Tensor& mask, const BaselineOptions& options = {});
/// Biharmonic inpainting (conjugate gradients from the normalised-convolution start).
torch::Tensor biharmonic_inpaint(const torch::Tensor& scan, const torch::Tensor& mask,
                                 const BaselineOptions& options = {});

/// Radially averaged power spectrum of `image` `[H, W]` (mean removed, Hann window),
/// one value per integer radius 0 .. min(H, W) / 2 - 1 in frequency pixels; the
/// abscissa of bin k is k / min(H, W) cycles/px. float64 CPU `[K]`.
torch::Tensor radial_power_spectrum(const torch::Tensor& image);

/// Mean absolute error of `pred` against `truth` (`[H, W]`) for pixels at each
/// distance from the nearest sampled pixel: bin k holds distances in [k - 0.5, k + 0.5)
/// px, k = 0 .. max_distance. Empty bins are NaN. Returns {mean error `[K]`, counts `[K]`},
/// float64 CPU.
std::pair<torch::Tensor, torch::Tensor> error_by_distance(const torch::Tensor& pred, const torch::Tensor& truth,
                                                          const torch::Tensor& distance, int64_t max_distance);

}  // namespace emgan::restore
