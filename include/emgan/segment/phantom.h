#pragma once
/// \file phantom.h
/// HAADF-STEM-like phantoms of supported nanoparticles with exact masks and known
/// particle sizes (`emgan phantom particles`): bright crystalline particles (Z
/// contrast, a thickness profile and lattice fringes of random orientation) on a
/// thin amorphous support (smooth thickness variations and fine speckle), blurred
/// by the probe, with per-row scan jitter, shot noise at a given dose and a contrast
/// that varies between images and particles.
///
/// Intensities are fractions of the detector's full scale before noise: support
/// about `support_level`, particle centres about `support_level + particle_contrast`.
/// The masks follow the jittered geometry, so each mask matches its image pixel for
/// pixel; the known diameters are those of the drawn ellipses (2 sqrt(a b)).
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/segment/particles.h"

namespace emgan::segment {

/// Settings of the particle phantoms.
struct PhantomSettings {
  int64_t count = 8;                  ///< images to make
  int64_t size = 512;                 ///< image side, px
  double particles_per_512 = 60.0;    ///< mean particle count per 512 x 512 px
  double mean_diameter = 16.0;        ///< mean particle diameter, px
  double size_variability = 0.5;      ///< diameters uniform in mean * [1 - v, 1 + v]
  double aspect_min = 0.65;           ///< smallest minor / major axis ratio
  double min_gap = 0.0;               ///< gap between particles, px (0 = they may touch)
  double dose = 200.0;                ///< electrons per pixel at intensity 1 (<= 0: no shot noise)
  double support_level = 0.2;         ///< mean support intensity (fraction of full scale)
  double support_roughness = 0.05;    ///< standard deviation of the support's thickness variation
  double particle_contrast = 0.5;     ///< mean intensity a particle centre adds above the support
  double contrast_variation = 0.3;    ///< relative spread of the particle contrast (uniform +-)
  double image_contrast_variation = 0.2;  ///< relative spread of each image's gain and support level
  double edge_fraction = 0.35;        ///< intensity at a particle's edge relative to its centre
  double lattice_period = 3.5;        ///< lattice fringe period, px (0 = no fringes)
  double lattice_strength = 0.25;     ///< relative modulation of the fringes
  double probe_sigma = 0.8;           ///< Gaussian probe blur, px
  double jitter_px = 0.4;             ///< standard deviation of the per-row scan shift, px
  double pixel_size_nm = 0.2;         ///< pixel size written into the image files, nm (0 = none)
  uint64_t seed = 0;                  ///< seed of every random draw
  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "phantom") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PhantomSettings, count, size, particles_per_512, mean_diameter,
                                                size_variability, aspect_min, min_gap, dose, support_level,
                                                support_roughness, particle_contrast, contrast_variation,
                                                image_contrast_variation, edge_fraction, lattice_period,
                                                lattice_strength, probe_sigma, jitter_px, pixel_size_nm, seed)

/// Named phantom settings (size, count and seed left at their defaults):
/// - "default": the fields' defaults (easy: the rough method reaches ~0.9 mean IoU);
/// - "hard": lower dose (100 e/px), smaller particles (12 px, 100 per 512 x 512 px),
///   weaker and more varied contrast (0.4, +-45 % per particle, +-30 % per image) and a
///   rougher support (thickness std 0.065) whose speckle a global Otsu threshold takes
///   for particles: the rough masks fall to ~0.65 mean IoU (docs/SEGMENT.md).
/// Throws ConfigError naming the preset for any other name.
PhantomSettings phantom_preset(const std::string& name);

/// One phantom image with its truth.
struct Phantom {
  torch::Tensor image;            ///< float32 `[1, H, W]`, fraction of full scale (noisy)
  torch::Tensor mask;             ///< bool `[H, W]`
  torch::Tensor labels;           ///< int64 `[H, W]`, particle k has label k + 1 (0 = support)
  std::vector<Ellipse> ellipses;  ///< the particles as drawn (before jitter)
};

/// Phantom number `index` of the set `settings` (seeded by settings.seed and index),
/// computed on `device`.
Phantom make_phantom(const PhantomSettings& settings, int64_t index, const torch::Device& device = torch::kCPU);

/// Writes `settings.count` phantoms into `out`: images/particles_NNN.tif (float32,
/// with the pixel size in nm), masks/particles_NNN.png (0/255), labels/particles_NNN.tif
/// (uint16 instance labels), particles.csv (image, label, cx_px, cy_px, a_px, b_px,
/// angle_deg, diameter_px, diameter_nm, touches_border), settings.json and
/// preview.png. Returns the number of particles written.
int64_t write_phantoms(const PhantomSettings& settings, const fs::path& out,
                       const torch::Device& device = torch::kCPU);

}  // namespace emgan::segment
