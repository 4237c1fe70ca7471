#pragma once
/// \file synthetic.h
/// Synthetic STEM-like image pairs for the demo and the end-to-end tests: a
/// nanoparticle of atom columns imaged two ways. It is a stand-in with the right
/// structure, not a physical simulation.
///
/// - "convolution" image (the fast, inaccurate method): each column contributes
///   t * Z^1.7 * G(sigma0) — linear in the column's thickness t (atoms) — in
///   arbitrary units (scaled by `input_scale`), with the faint negative ringing of
///   an FFT convolution;
/// - "multislice" image (the accurate one, in fractions of the incident beam):
///   channelling makes the column intensity saturate with thickness,
///   Z^1.7 * t0 * (1 - exp(-t / t0)), and the probe spreads with depth
///   (sigma0 + spread * t), plus a small thickness-dependent background.
#include <torch/types.h>

#include <cstdint>

namespace emgan::sim {

/// Settings of one synthetic pair.
struct SyntheticPairOptions {
  int64_t height = 96;          ///< image height, px
  int64_t width = 96;           ///< image width, px
  double lattice = 4.0;         ///< column spacing, px
  double radius_min = 0.25;     ///< particle radius, fraction of the smaller side
  double radius_max = 0.42;     ///< particle radius, fraction of the smaller side
  double minor_fraction = 0.3;  ///< fraction of columns of the lighter species
  double z_major = 78.0;        ///< atomic number of the main species (Pt)
  double z_minor = 42.0;        ///< atomic number of the minor species (Mo)
  double probe_sigma = 0.9;     ///< probe width (Gaussian sigma), px
  double spread = 0.04;         ///< probe spread per atom of thickness in multislice, px
  double t0 = 12.0;             ///< channelling saturation thickness, atoms
  double input_scale = 1e3;     ///< arbitrary unit of the convolution image
};

/// A generated pair, both `[1, H, W]` float32.
struct SyntheticPair {
  torch::Tensor convolution;  ///< input, arbitrary units
  torch::Tensor multislice;   ///< target, fraction of the incident beam (~1e-4..0.1)
};

/// Generates the pair for `seed` (the same seed gives the same pair on any machine).
SyntheticPair make_synthetic_pair(uint64_t seed, const SyntheticPairOptions& options = {});

}  // namespace emgan::sim
