#pragma once
/// \file synthetic.h
/// Synthetic STEM-like micrographs for training the restorer when no folder of real
/// micrographs is at hand. Each image is drawn from a seeded random recipe:
/// - content: a crystal (atomic columns as Gaussians on a random 2D Bravais lattice,
///   spacing 4..24 px, random orientation and cell angle, a second sublattice with
///   another intensity, per-column intensity jitter, vacancies), optionally split into
///   two grains with a straight boundary; amorphous texture (white noise blurred at a
///   random scale, 1..12 px); and a specimen edge against vacuum or a thicker region
///   (a blurred half-plane step, random angle, position and blur);
/// - a smooth thickness / bending field modulating the intensity, smooth strain
///   (displacement up to ~1.5 px);
/// - scan distortions: per-row (or per-column: the fast-scan direction is random)
///   jitter of the probe position and a slow sinusoidal drift;
/// - probe blur (Gaussian sigma 0.5..1.5 px);
/// - noise: Poisson at a random dose (counts per pixel at full intensity) plus
///   Gaussian read noise, and scan-line streaks (noise smeared along the fast scan
///   direction) — real low-dose micrographs are dominated by these;
/// - finally scaled to [0, 1] by its 0.1 / 99.9 percentiles (clamped).
/// The recipe is documented in docs/RESTORE.md; the five real examples are never used.
#include <torch/types.h>

#include <cstdint>

#include "emgan/core/fs.h"

namespace emgan::restore {

/// Settings of the synthetic micrograph generator.
struct SyntheticMicrographOptions {
  int64_t size = 256;            ///< side of the square image, px (>= 16)
  double noise_probability = 0.9;  ///< probability that an image gets shot/read/streak noise
  double min_dose = 20.0;        ///< lowest dose, counts per pixel at full intensity (> 0)
  double max_dose = 2000.0;      ///< highest dose (log-uniform between)
};

/// One synthetic micrograph `[1, size, size]` float32 in [0, 1] on `device`, fully
/// determined by `seed`.
torch::Tensor synthetic_micrograph(uint64_t seed, const SyntheticMicrographOptions& options = {},
                                   const torch::Device& device = torch::kCPU);

/// Writes `count` micrographs as float32 TIFFs <out>/synthetic-00000.tif ... (seeds
/// seed, seed + 1, ...) and a PNG grid of the first 16 as <out>-preview.png beside the
/// folder (so the folder holds training images only); returns the files.
std::vector<fs::path> write_synthetic_micrographs(const fs::path& out, int64_t count, uint64_t seed,
                                                  const SyntheticMicrographOptions& options = {});

}  // namespace emgan::restore
