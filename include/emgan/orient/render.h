#pragma once
/// \file render.h
/// Synthetic particle images for orientation learning, rendered with tensor ops on
/// any device: regular polygons as anti-aliased coverage maps (supersampled signed
/// distance), HAADF-like noise (shot noise at a dose plus Gaussian read noise), and
/// the preprocessing applied to simulated and experimental images alike (centre on
/// the centre of mass, denoise, normalise).
#include <torch/types.h>

#include <cstdint>

namespace emgan::orient {

/// One regular polygon per image. All tensors `[N]` on one device.
struct PolygonBatch {
  torch::Tensor order;      ///< number of sides n (3..), float or integer
  torch::Tensor theta_deg;  ///< orientation, degrees counter-clockwise on screen; 0 = a vertex along +x
  torch::Tensor radius_px;  ///< circumradius, pixels (> 0)
  torch::Tensor cx_px;      ///< centre x relative to the image centre, pixels
  torch::Tensor cy_px;      ///< centre y relative to the image centre, pixels (down)
  torch::Tensor intensity;  ///< value inside the polygon (background 0), e.g. 1
};

/// Renders `batch` as `[N, 1, size, size]` float32 images: the fraction of each pixel
/// covered by the polygon (estimated on a `supersample` x `supersample` sub-grid with
/// a one-sub-pixel linear edge ramp), times the intensity. The image centre is at
/// (size - 1) / 2. Differentiable in theta, radius, centre and intensity (used by the
/// reconstruct method's renderer). Throws ConfigError for size < 4 or supersample < 1.
torch::Tensor render_polygons(const PolygonBatch& batch, int64_t size, int64_t supersample = 4);

/// HAADF-like noise: counts ~ Poisson(dose x clean) divided by dose (dose = electrons
/// per pixel at intensity 1; dose <= 0 = no shot noise), plus Gaussian noise of
/// standard deviation `gaussian_sigma` (units of intensity). `clean` `[N, 1, H, W]`
/// (values >= 0), `dose` `[N]`. Uses torch's default generator (seed it first).
torch::Tensor add_noise(const torch::Tensor& clean, const torch::Tensor& dose, double gaussian_sigma);

/// Gaussian blur of `[N, 1, H, W]` images with standard deviation `sigma_px` (0 =
/// unchanged), reflect-padded, as a separable convolution on the images' device.
torch::Tensor gaussian_blur(const torch::Tensor& images, double sigma_px);

/// Shifts every image of `[N, 1, H, W]` so that its centre of mass sits at the image
/// centre. The mass is the positive part of the image after a Gaussian blur of
/// `sigma_px` minus its median (robust to background noise). Bilinear, zero padded.
torch::Tensor centre_on_mass(const torch::Tensor& images, double sigma_px = 1.5);

/// Per-image zero mean, unit standard deviation.
torch::Tensor normalise_images(const torch::Tensor& images);

/// The preprocessing of every image before a network sees it: centre on the centre of
/// mass, Gaussian denoise of `denoise_sigma_px` (0 = none), normalise. `[N, 1, H, W]`
/// in, same shape out (zero mean, unit std per image).
torch::Tensor preprocess(const torch::Tensor& images, double denoise_sigma_px);

/// The 1D counterpart of `preprocess` for intensity profiles `[N, 1, L]`: shift each
/// profile (linear interpolation, zero padded) so that the centre of mass of its
/// positive part (after a Gaussian blur of 1.5 samples minus its 10 % quantile, the
/// background: a particle may fill half a profile) sits at
/// (L - 1) / 2, Gaussian denoise of `denoise_sigma_px` samples (0 = none), normalise
/// (zero mean, unit std per profile). Same shape out.
torch::Tensor preprocess_profiles(const torch::Tensor& profiles, double denoise_sigma_px);

/// Angle-preserving augmentation of preprocessed images `[N, 1, H, W]` (or profiles
/// `[N, 1, L]`, scaled and shifted along their length only): each image is
/// scaled isotropically by a random factor in [1/(1+scale), 1+scale] about the centre
/// and shifted by up to `shift_px` pixels in x and y (bilinear, background filled with
/// each image's border value), then Gaussian noise of `noise` (units of the image
/// standard deviation) is added and the image re-normalised. No rotation and no
/// mirror: the orientation is unchanged, so a network that sees the augmented image
/// must give the same angle (this ties the arbitrary zero of a label-free model across
/// particle sizes and positions). All zero: the images are returned normalised but
/// otherwise unchanged. Uses torch's default generator.
torch::Tensor augment_same_angle(const torch::Tensor& images, double scale, double shift_px, double noise);

/// Azimuthal mean of square images `[N, 1, S, S]` about the image centre ((S - 1) / 2,
/// where preprocessing puts the centre of mass): `[N, bins]`, bin i the mean over the
/// ring of radius i to i + 1 pixels (each pixel shared linearly between its two nearest
/// rings); pixels beyond `bins` pixels are left out. A rotation about the centre leaves it
/// unchanged (up to interpolation), so it describes a particle without its angle.
torch::Tensor radial_profile(const torch::Tensor& images, int64_t bins);

/// Rotates each image of `[N, C, H, W]` (square) about its centre by `angle_deg` `[N]`
/// degrees, the sense of a right-handed rotation about the beam axis z in the particle
/// frame (x right, y down): the projection of a particle at rotation R becomes that of
/// Rz(angle) R (polyhedra.h). Bilinear, background filled with the border values.
torch::Tensor rotate_images(const torch::Tensor& images, const torch::Tensor& angle_deg);

}  // namespace emgan::orient
