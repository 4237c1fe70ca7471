#pragma once
/// \file particles.h
/// Particles as ellipses: measuring them in a label image, fitting the statistics of
/// a set of masks (size, ellipticity, count per area), and drawing new masks of
/// non-overlapping, randomly rotated ellipses from those statistics (step 2 of the
/// tandem-GAN pipeline).
///
/// Coordinates are pixels; pixel (row i, column j) has its centre at (x = j, y = i).
/// The equivalent diameter of a particle is that of the disc of the same area,
/// 2 sqrt(area / pi); for an ellipse of semi-axes a >= b it is 2 sqrt(a b).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <limits>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/segment/morphology.h"

namespace emgan::segment {

/// One measured particle of a label image (lengths in pixels).
struct Particle {
  int64_t label = 0;              ///< its label in the label image (1..K)
  double area_px = 0.0;           ///< pixel count
  double cx = 0.0;                ///< centroid x (column), px
  double cy = 0.0;                ///< centroid y (row), px
  double eq_diameter_px = 0.0;    ///< 2 sqrt(area / pi), px
  double major_px = 0.0;          ///< full major axis of the ellipse of equal second moments, px
  double minor_px = 0.0;          ///< full minor axis, px
  double angle_deg = 0.0;         ///< major axis angle from +x towards +y (down), degrees in (-90, 90]
  double aspect = 1.0;            ///< minor / major, in (0, 1]
  bool touches_border = false;    ///< has a pixel on the image border (size truncated)
  /// How far it stands out of the support around it (measure_significance); NaN = not
  /// measured.
  double significance = std::numeric_limits<double>::quiet_NaN();
};

/// Measures every particle of an int64 `[H, W]` label image (0 = background) with
/// tensor reductions on its device. Particles are returned in label order.
std::vector<Particle> measure_particles(const torch::Tensor& labels);

/// Sets each particle's `significance`: its contrast, the mean of `image` (float
/// `[H, W]`, e.g. normalised to [0, 1]) inside it minus the mean on the ring 3 to 5 px
/// outside it (pixels within 2 px of any particle left out), divided by the standard
/// deviation that a mean over a region of its size has on the support: the standard
/// deviation over the support (pixels over 3 px from every particle) of its box means
/// of side 2 floor(sqrt(area) / 2) + 1 (boxes at least 90 % on the support). Shot noise
/// averages out over a large particle and the support's texture does not, so the
/// measure holds from low to high dose. Its sign follows the median contrast of the
/// image's particles (dark particles on a bright support count as positive). NaN where
/// no ring or too little support (under 50 valid boxes) is left. `particles` are those
/// of `labels` (int64, 0 = background) in label order, as measure_particles returns them.
void measure_significance(const torch::Tensor& image, const torch::Tensor& labels, std::vector<Particle>& particles);

/// Median of `values` (mean of the two middle ones for an even count; 0 when empty).
double median_of(std::vector<double> values);

/// Particles of a reference mask matched with the pixels of a test mask (match_particles).
struct ParticleMatch {
  int64_t particles = 0;                 ///< reference particles compared (not cut by the border)
  int64_t missed = 0;                    ///< of them, not found in the test mask
  std::vector<double> reference_diameters;  ///< equivalent diameter of each found particle, px
  std::vector<double> test_diameters;       ///< equivalent diameter of its test pixels, px
};

/// Compares each particle of the bool `[H, W]` mask `reference` (its 8-connected
/// components; those cut by the image border are left out) with the pixels of the bool
/// mask `test` attributed to it: the test pixels inside it or within 3 px of it, each
/// given to the nearest reference particle (ties to the larger label). A particle whose
/// attributed test area is 0 or below `found_fraction` of its own area is missed;
/// the others append their two equivalent diameters 2 sqrt(area / pi) to `into`.
/// Measures how far a segmentation's boundaries lie outside (or inside) a reference's,
/// particle by particle, whatever false positives lie farther away.
void match_particles(const torch::Tensor& reference, const torch::Tensor& test, ParticleMatch& into,
                     double found_fraction = 0.0);

/// An ellipse in pixel coordinates.
struct Ellipse {
  double cx = 0.0;     ///< centre x, px
  double cy = 0.0;     ///< centre y, px
  double a = 1.0;      ///< semi-major axis, px
  double b = 1.0;      ///< semi-minor axis, px (<= a)
  double angle = 0.0;  ///< major axis angle from +x towards +y, radians
  /// Equivalent diameter 2 sqrt(a b), px.
  double diameter() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Ellipse, cx, cy, a, b, angle)

/// A window of an `[H, W]` image around ellipse `e` grown by `grow` px on each
/// semi-axis: rows [y0, y1), columns [x0, x1) (clipped to the image; empty when the
/// ellipse lies outside), and the normalised squared radius rho2 of every pixel
/// centre of the window with respect to the grown ellipse (inside: rho2 <= 1).
struct EllipseWindow {
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  torch::Tensor rho2;  ///< float32 `[y1 - y0, x1 - x0]`
  bool empty() const { return y1 <= y0 || x1 <= x0; }
};
EllipseWindow ellipse_window(const Ellipse& e, int64_t height, int64_t width, double grow,
                             const torch::TensorOptions& options);

/// The statistics of a set of particle masks, fitted by `fit_mask_statistics`.
struct MaskStatistics {
  int64_t images = 0;                ///< masks measured
  int64_t particles = 0;             ///< particles found in all (after splitting), before the area limits
  int64_t measured = 0;              ///< particles whose size was used (within the area limits, not touching the border)
  int64_t rejected = 0;              ///< particles not touching the border left out by the area limits
  double min_area_px = 0.0;          ///< area limits applied, px (0 = none): particles in [min, max] are kept
  double max_area_px = 0.0;          ///< (0 = no upper limit)
  double particles_per_512 = 0.0;    ///< mean count per 512 x 512 px area of kept particles (see fit_mask_statistics)
  double count_std_per_512 = 0.0;   ///< standard deviation of the per-image counts, per 512 x 512 px
  double mean_diameter_px = 0.0;     ///< mean equivalent diameter, px
  double std_diameter_px = 0.0;      ///< standard deviation of the equivalent diameter, px
  double mean_aspect = 1.0;          ///< mean minor / major axis ratio
  double std_aspect = 0.0;           ///< its standard deviation
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MaskStatistics, images, particles, measured, rejected, min_area_px,
                                                max_area_px, particles_per_512, count_std_per_512, mean_diameter_px,
                                                std_diameter_px, mean_aspect, std_aspect)

/// How `fit_mask_statistics` tells particles from the false positives of a rough
/// segmentation: support specks and noise (far smaller than the typical particle) and
/// merged patches of support or clusters (far larger). The limits are relative to the
/// median area of the kept particles, so they follow the data's scale; it is found by
/// iteration from the area-weighted median (which many specks cannot pull down) to a
/// fixed point. An absolute floor can be added. Particles touching the border are
/// truncated and never enter the size fit.
struct MaskFitSettings {
  /// Particles smaller than this fraction of the median area are dropped (0 = no
  /// relative floor). 0.25 = diameter below half the median's: for a log-normal PSD
  /// of sigma 0.3 that is 1 % of the true particles.
  double min_area_ratio = 0.25;
  /// Particles larger than this multiple of the median area are dropped (0 = no
  /// upper limit). 8 = diameter above 2.8 x the median's.
  double max_area_ratio = 8.0;
  /// Absolute floor, px (applied with the relative one; 0 = none).
  double min_area_px = 0.0;
  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "mask statistics") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MaskFitSettings, min_area_ratio, max_area_ratio, min_area_px)

/// Area limits of a set of particles: those with area in [min_px, max_px] are kept.
struct AreaLimits {
  double min_px = 0.0;  ///< smallest area kept, px (0 = no floor)
  double max_px = 0.0;  ///< largest area kept, px (0 = no upper limit)
  bool keeps(double area_px) const { return area_px >= min_px && (max_px <= 0 || area_px <= max_px); }
};

/// The area limits of `fit` for particles of areas `areas_px` (px): min_area_ratio and
/// max_area_ratio times the median area of the kept particles, found by iteration from
/// the area-weighted median (specks, however many, barely move it) until the kept set
/// no longer changes; the floor is at least fit.min_area_px. No areas, or both ratios
/// 0: {fit.min_area_px, 0}. Used by fit_mask_statistics and by the PSD's size filter
/// (`segment analyze`).
AreaLimits fit_area_limits(const std::vector<double>& areas_px, const MaskFitSettings& fit);

/// Splits each bool `[H, W]` mask into particles (watershed_split) and fits the
/// statistics. Sizes and aspects come from the particles that do not touch the border
/// and lie within the area limits of `fit` (with a default `fit` on clean masks the
/// limits change almost nothing; `MaskFitSettings{0, 0, 0}` keeps every particle).
/// Counts per area come from the kept inner particles too, each weighted by the
/// inverse of the area where its centre could lie without touching the border
/// (Miles-Lantuejoul; border particles are truncated, so the limits cannot judge
/// them): an unbiased count of particles centred in the image, as random_mask draws
/// them. A set with no particle gives zero counts and the default sizes.
MaskStatistics fit_mask_statistics(const std::vector<torch::Tensor>& masks, const WatershedSettings& split = {},
                                   const MaskFitSettings& fit = {});

/// A bool `[H, W]` mask without its connected components (8-connected) of fewer than
/// `min_area` px and, with `fill`, with its holes filled: the rough masks cleaned of
/// specks before they are paired with images for the morphology GAN.
torch::Tensor clean_mask(const torch::Tensor& mask, double min_area, bool fill = true);

/// Settings of the random masks. Defaults are those of the published tandem-GAN code:
/// mean diameter 15 px, size variability 0.8, 100 particles per 512 x 512 px.
struct RandomMaskSettings {
  int64_t height = 512;               ///< mask height, px
  int64_t width = 512;                ///< mask width, px
  double mean_diameter = 15.0;        ///< mean equivalent diameter, px (> 0)
  /// Relative spread of the diameters: uniform in mean * [1 - v, 1 + v], so the
  /// standard deviation is mean * v / sqrt(3). In [0, 1).
  double size_variability = 0.8;
  /// Diameters are drawn only within [min_diameter, max_diameter], px (uniform in the
  /// intersection with the range above; 0 = no limit): settings_from_statistics sets
  /// them to the area limits of the fit, so no particle is drawn at a size the fit
  /// took for a false positive.
  double min_diameter = 0.0;
  double max_diameter = 0.0;
  double aspect_min = 0.6;            ///< smallest minor / major ratio (uniform in [min, max]), (0, 1]
  double aspect_max = 1.0;            ///< largest minor / major ratio, [aspect_min, 1]
  double particles_per_512 = 100.0;   ///< mean count per 512 x 512 px (>= 0)
  double count_std_per_512 = 0.0;     ///< standard deviation of the count per 512 x 512 px (>= 0)
  /// Smallest gap between two ellipses, px (>= 0; 0 lets them touch, never overlap).
  double min_gap = 1.0;
  int64_t max_attempts = 100;         ///< placements tried per particle before giving it up
  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "random masks") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RandomMaskSettings, height, width, mean_diameter,
                                                size_variability, min_diameter, max_diameter, aspect_min, aspect_max, particles_per_512,
                                                count_std_per_512, min_gap, max_attempts)

/// Random-mask settings reproducing `stats` (moment matching of the uniform laws:
/// v = sqrt(3) std / mean, aspect = mean -+ sqrt(3) std, clamped to their ranges;
/// diameters limited to those of discs of the fit's area limits), for masks of
/// `height` x `width` px.
RandomMaskSettings settings_from_statistics(const MaskStatistics& stats, int64_t height = 512,
                                            int64_t width = 512);

/// A random mask with its particles.
struct RandomMask {
  torch::Tensor mask;             ///< bool `[H, W]`
  torch::Tensor labels;           ///< int64 `[H, W]`, particle k has label k + 1
  std::vector<Ellipse> ellipses;  ///< the placed particles
  int64_t requested = 0;          ///< particles drawn for this mask (some may not fit)
};

/// Draws a mask of non-overlapping randomly rotated ellipses (centres uniform over
/// the image, so particles may be cut by the border) from `settings`, with random
/// numbers from `gen` (a seeded CPU generator); tensors on `device`.
RandomMask random_mask(const RandomMaskSettings& settings, torch::Generator& gen,
                       const torch::Device& device = torch::kCPU);

}  // namespace emgan::segment
