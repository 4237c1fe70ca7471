#pragma once
/// \file volume_io.h
/// Writing generated volumes: VTK image data (.vti, opens in ParaView), and the set
/// of files a user looks at for each volume (multi-page TIFF, .npy, .vti, a PNG of
/// three orthogonal slices).
#include <torch/types.h>

#include <string>
#include <vector>

#include "emgan/core/fs.h"

namespace emgan::generate {

/// Writes a volume `[D, H, W]` or `[1, D, H, W]` (any dtype; written as float32,
/// or uint8 when `as_uint8`) as VTK XML ImageData with one point-data array `name`,
/// raw appended binary (little endian, UInt64 header), x = W (fastest), y = H,
/// z = D, spacing `spacing` (same unit as the voxel size). Atomic.
void write_vti(const fs::path& path, const torch::Tensor& volume, const std::string& name = "values",
               bool as_uint8 = false, double spacing = 1.0);

/// The three central orthogonal slices of a volume `[D, H, W]` side by side (titles
/// "z = D/2 (x-y)", "y = H/2 (x-z)", "x = W/2 (y-z)"), written as a PNG grid with one
/// shared window. For phase volumes the viridis colormap is used.
void write_orthogonal_slices_png(const fs::path& path, const torch::Tensor& volume, bool phases);

/// Files written for one volume.
struct VolumeFiles {
  fs::path tiff;    ///< multi-page TIFF (uint8 when the values are integers in 0..255, else float32)
  fs::path npy;     ///< same values, float32 .npy `[D, H, W]`
  fs::path vti;     ///< VTK image data
  fs::path slices;  ///< PNG of three orthogonal slices
};

/// Writes `dir`/`stem`.tif, .npy, .vti and `stem`_slices.png for a volume `[D, H, W]`
/// of file values (phase values or intensities).
VolumeFiles write_volume_files(const fs::path& dir, const std::string& stem, const torch::Tensor& volume,
                               bool phases);

}  // namespace emgan::generate
