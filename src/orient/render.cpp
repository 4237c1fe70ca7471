#include "emgan/orient/render.h"

#include <torch/torch.h>

#include <cmath>

#include "emgan/core/error.h"

namespace emgan::orient {

namespace F = torch::nn::functional;

torch::Tensor render_polygons(const PolygonBatch& b, int64_t size, int64_t supersample) {
  EMGAN_CHECK(ConfigError, size >= 4, "render_polygons: size ", size, " must be >= 4");
  EMGAN_CHECK(ConfigError, supersample >= 1, "render_polygons: supersample ", supersample, " must be >= 1");
  const auto dev = b.theta_deg.device();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  const int64_t fine = size * supersample;
  // Sub-pixel centres in pixel units relative to the image centre.
  const auto coords = (torch::arange(fine, opts) + 0.5) / static_cast<double>(supersample) - 0.5 - (size - 1) / 2.0;
  const auto ys = coords.view({1, fine, 1});
  const auto xs = coords.view({1, 1, fine});
  auto col = [](const torch::Tensor& t) { return t.to(torch::kFloat32).view({-1, 1, 1}); };
  const auto n = col(b.order.to(dev));
  const auto theta = col(b.theta_deg) * (M_PI / 180.0);
  const auto dx = xs - col(b.cx_px), dy = ys - col(b.cy_px);
  // Rotate into the polygon frame. Screen counter-clockwise with y down is -y.
  const auto c = torch::cos(theta), s = torch::sin(theta);
  const auto u = dx * c - dy * s;
  const auto v = -(dx * s + dy * c);
  const auto r = torch::sqrt(u * u + v * v + 1e-12);
  const auto sector = 2.0 * M_PI / n;
  // Angle from the nearest edge normal; the normals are at pi/n + k 2 pi/n, so a
  // vertex points along +x at theta = 0.
  auto phi = torch::atan2(v, u) - M_PI / n;
  phi = phi - sector * torch::round(phi / sector);  // in [-pi/n, pi/n]
  // Distance (pixels) to the edge line of this sector, negative inside.
  const auto apothem = col(b.radius_px) * torch::cos(M_PI / n);
  const auto d = r * torch::cos(phi) - apothem;
  const auto cover = torch::clamp(0.5 - d * static_cast<double>(supersample), 0.0, 1.0);
  auto img = cover.unsqueeze(1);
  if (supersample > 1) img = F::avg_pool2d(img, F::AvgPool2dFuncOptions(supersample));
  return img * b.intensity.to(torch::kFloat32).view({-1, 1, 1, 1});
}

torch::Tensor add_noise(const torch::Tensor& clean, const torch::Tensor& dose, double gaussian_sigma) {
  const auto d = dose.to(clean.device(), torch::kFloat32).view({-1, 1, 1, 1});
  const auto shot = d > 0;
  const auto safe = torch::where(shot, d, torch::ones_like(d));
  auto noisy = torch::where(shot, torch::poisson(torch::clamp_min(clean, 0.0) * safe) / safe, clean);
  if (gaussian_sigma > 0) noisy = noisy + gaussian_sigma * torch::randn_like(clean);
  return noisy;
}

torch::Tensor gaussian_blur(const torch::Tensor& images, double sigma_px) {
  if (sigma_px <= 0) return images;
  const int64_t half = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma_px)));
  const auto opts = torch::TensorOptions().dtype(images.dtype()).device(images.device());
  auto k = torch::arange(-half, half + 1, opts);
  k = torch::exp(-(k * k) / (2.0 * sigma_px * sigma_px));
  k = k / k.sum();
  const int64_t h = images.size(2), w = images.size(3);
  auto pad = F::PadFuncOptions({half, half, half, half});
  if (half < h && half < w) {
    pad.mode(torch::kReflect);
  } else {
    pad.mode(torch::kReplicate);
  }
  auto x = F::pad(images, pad);
  x = F::conv2d(x, k.view({1, 1, 1, -1}));
  x = F::conv2d(x, k.view({1, 1, -1, 1}));
  return x;
}

torch::Tensor centre_on_mass(const torch::Tensor& images, double sigma_px) {
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const auto smooth = gaussian_blur(images, sigma_px);
  const auto flat = smooth.view({n, -1});
  const auto med = std::get<0>(flat.median(1, true));
  const auto mass = torch::clamp_min(flat - med, 0.0).view({n, h, w});
  const auto opts = torch::TensorOptions().dtype(images.dtype()).device(images.device());
  const auto ys = torch::arange(h, opts).view({1, h, 1});
  const auto xs = torch::arange(w, opts).view({1, 1, w});
  const auto total = mass.sum({1, 2}) + 1e-8;
  const auto cy = (mass * ys).sum({1, 2}) / total;
  const auto cx = (mass * xs).sum({1, 2}) / total;
  // Shift so that the centre of mass moves to ((w-1)/2, (h-1)/2); grid_sample with
  // align_corners: normalised = 2 * px / (size - 1) - 1.
  const auto tx = (cx - (w - 1) / 2.0) * 2.0 / (w - 1);
  const auto ty = (cy - (h - 1) / 2.0) * 2.0 / (h - 1);
  const auto zeros = torch::zeros_like(tx), ones = torch::ones_like(tx);
  const auto theta = torch::stack({torch::stack({ones, zeros, tx}, 1), torch::stack({zeros, ones, ty}, 1)}, 1);
  const auto grid = F::affine_grid(theta, {n, 1, h, w}, true);
  return F::grid_sample(images, grid,
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(true));
}

torch::Tensor normalise_images(const torch::Tensor& images) {
  const auto n = images.size(0);
  const auto flat = images.reshape({n, -1});
  const auto mean = flat.mean(1, true);
  const auto sd = flat.std(1, true, true) + 1e-6;
  return ((flat - mean) / sd).view_as(images);
}

torch::Tensor preprocess(const torch::Tensor& images, double denoise_sigma_px) {
  return normalise_images(gaussian_blur(centre_on_mass(images), denoise_sigma_px));
}

namespace {

/// Gaussian blur of `[N, 1, L]` profiles along L (reflect padded where possible).
torch::Tensor blur_profiles(const torch::Tensor& x, double sigma) {
  if (sigma <= 0) return x;
  const int64_t half = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma)));
  auto k = torch::arange(-half, half + 1, x.options());
  k = torch::exp(-(k * k) / (2.0 * sigma * sigma));
  k = k / k.sum();
  auto pad = F::PadFuncOptions({half, half});
  if (half < x.size(2)) {
    pad.mode(torch::kReflect);
  } else {
    pad.mode(torch::kReplicate);
  }
  return F::conv1d(F::pad(x, pad), k.view({1, 1, -1}));
}

}  // namespace

torch::Tensor preprocess_profiles(const torch::Tensor& profiles, double denoise_sigma_px) {
  EMGAN_CHECK(ConfigError, profiles.dim() == 3 && profiles.size(1) == 1 && profiles.size(2) >= 4,
              "preprocess_profiles: profiles of shape ", profiles.sizes(), " given, expected [N, 1, L] with L >= 4");
  const int64_t n = profiles.size(0), l = profiles.size(2);
  const auto x = profiles.to(torch::kFloat32);
  const auto smooth = blur_profiles(x, 1.5).view({n, l});
  // The background level: the 10 % quantile (a particle may fill half a profile, so
  // the median, used for images, would cut into it).
  const auto floor_level = torch::quantile(smooth, 0.1, 1, true);
  const auto mass = torch::clamp_min(smooth - floor_level, 0.0);
  const auto pos = torch::arange(l, x.options()).view({1, l});
  const auto cx = (mass * pos).sum(1, true) / (mass.sum(1, true) + 1e-8);
  // Sample the input at (output position + centre of mass - centre), linear, zero outside.
  const auto src = pos + (cx - (l - 1) / 2.0);
  const auto lo = torch::floor(src);
  const auto w = src - lo;
  const auto flat = x.view({n, l});
  auto take = [&](const torch::Tensor& idx) {
    const auto inside = (idx >= 0) & (idx <= l - 1);
    const auto v = flat.gather(1, idx.clamp(0, l - 1).to(torch::kLong));
    return torch::where(inside, v, torch::zeros_like(v));
  };
  const auto shifted = ((1 - w) * take(lo) + w * take(lo + 1)).view({n, 1, l});
  return normalise_images(blur_profiles(shifted, denoise_sigma_px));
}

torch::Tensor radial_profile(const torch::Tensor& images, int64_t bins) {
  EMGAN_CHECK(ConfigError, images.dim() == 4 && images.size(1) == 1 && images.size(2) == images.size(3) && bins >= 1,
              "radial_profile: images of shape ", images.sizes(), " and ", bins,
              " bins given, expected square [N, 1, S, S] and bins >= 1");
  const int64_t s = images.size(2);
  const auto opt = images.options();
  const auto c = torch::arange(s, opt) - 0.5 * static_cast<double>(s - 1);
  const auto r = torch::sqrt(c.view({-1, 1}).pow(2) + c.view({1, -1}).pow(2)).flatten();
  const auto lo = torch::floor(r);
  const auto frac = r - lo;
  // Weights [S*S, bins]: (1 - frac) to ring floor(r), frac to the next one.
  const auto ring = torch::arange(bins, opt).view({1, -1});
  const auto w = (1.0 - frac).view({-1, 1}) * (lo.view({-1, 1}) == ring) + frac.view({-1, 1}) * ((lo + 1).view({-1, 1}) == ring);
  const auto norm = w.sum(0).clamp_min(1e-6);
  return images.reshape({images.size(0), s * s}).matmul(w) / norm;
}

torch::Tensor rotate_images(const torch::Tensor& images, const torch::Tensor& angle_deg) {
  EMGAN_CHECK(ConfigError, images.dim() == 4 && images.size(2) == images.size(3) && angle_deg.numel() == images.size(0),
              "rotate_images: images of shape ", images.sizes(), " and ", angle_deg.numel(),
              " angles given, expected square [N, C, S, S] and N angles");
  const int64_t n = images.size(0);
  const auto t = angle_deg.to(images.device(), torch::kFloat32).flatten() * (M_PI / 180.0);
  const auto c = torch::cos(t), s = torch::sin(t), zero = torch::zeros_like(t);
  // The grid maps output to input coordinates: input = Rz(-angle) output.
  const auto theta = torch::stack({torch::stack({c, s, zero}, 1), torch::stack({-s, c, zero}, 1)}, 1);
  const auto grid = F::affine_grid(theta, {n, images.size(1), images.size(2), images.size(3)}, false);
  return F::grid_sample(images.to(torch::kFloat32), grid,
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
}

torch::Tensor augment_same_angle(const torch::Tensor& images, double scale, double shift_px, double noise) {
  EMGAN_CHECK(ConfigError, images.dim() == 4 || images.dim() == 3, "augment_same_angle: images of shape ",
              images.sizes(), " given, expected [N, C, H, W] (images) or [N, C, L] (profiles)");
  EMGAN_CHECK(ConfigError, scale >= 0 && shift_px >= 0 && noise >= 0, "augment_same_angle: scale ", scale,
              ", shift_px ", shift_px, ", noise ", noise, " must all be >= 0");
  // Profiles are one-row images scaled and shifted along their length only.
  const bool profile = images.dim() == 3;
  const auto as_image = profile ? images.unsqueeze(2) : images;
  const int64_t n = as_image.size(0), h = as_image.size(2), w = as_image.size(3);
  const auto fo = images.options().dtype(torch::kFloat32);
  auto x = as_image.to(torch::kFloat32);
  if (scale > 0 || shift_px > 0) {
    // Log-uniform factor in [1/(1+scale), 1+scale]; the grid maps output to input
    // coordinates, so the input is sampled at (coords - shift) / factor.
    const double lmax = std::log1p(scale);
    const auto inv = torch::exp(-(torch::rand({n}, fo) * 2.0 - 1.0) * lmax);
    const auto tx = -(torch::rand({n}, fo) * 2.0 - 1.0) * (2.0 * shift_px / static_cast<double>(w));
    const auto zero = torch::zeros({n}, fo);
    const auto inv_y = profile ? torch::ones({n}, fo) : inv;
    const auto ty = profile ? zero : -(torch::rand({n}, fo) * 2.0 - 1.0) * (2.0 * shift_px / static_cast<double>(h));
    const auto theta =
        torch::stack({torch::stack({inv, zero, tx * inv}, 1), torch::stack({zero, inv_y, ty * inv_y}, 1)}, 1);
    const auto grid = F::affine_grid(theta, {n, as_image.size(1), h, w}, false);
    x = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  }
  if (noise > 0) x = x + noise * x.std({1, 2, 3}, true, true) * torch::randn_like(x);
  x = normalise_images(x);
  return profile ? x.squeeze(2) : x;
}

}  // namespace emgan::orient
