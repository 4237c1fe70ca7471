#include "emgan/sim/synthetic.h"

#include <torch/torch.h>

#include <cmath>
#include <random>

#include "emgan/core/error.h"

namespace emgan::sim {

namespace {

/// Renders sum_i amp_i * exp(-|r - c_i|^2 / (2 sigma_i^2)) on an [H, W] grid.
torch::Tensor render_columns(const torch::Tensor& ys, const torch::Tensor& xs, const torch::Tensor& amp,
                             const torch::Tensor& sigma, int64_t h, int64_t w) {
  auto gy = torch::arange(h, torch::kFloat64).view({1, h, 1});
  auto gx = torch::arange(w, torch::kFloat64).view({1, 1, w});
  auto dy = gy - ys.view({-1, 1, 1});
  auto dx = gx - xs.view({-1, 1, 1});
  auto s2 = (2.0 * sigma * sigma).view({-1, 1, 1});
  auto g = torch::exp(-(dy * dy + dx * dx) / s2) * amp.view({-1, 1, 1});
  return g.sum(0);
}

}  // namespace

SyntheticPair make_synthetic_pair(uint64_t seed, const SyntheticPairOptions& o) {
  EMGAN_CHECK(ConfigError, o.height >= 16 && o.width >= 16, "synthetic pair: size ", o.height, "x",
              o.width, " must be at least 16x16 px");
  EMGAN_CHECK(ConfigError, o.lattice > 1.0, "synthetic pair: lattice ", o.lattice, " px must be > 1");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const double side = static_cast<double>(std::min(o.height, o.width));
  const double radius = side * (o.radius_min + (o.radius_max - o.radius_min) * u01(rng));
  const double cy = o.height / 2.0 + (u01(rng) - 0.5) * 0.2 * side;
  const double cx = o.width / 2.0 + (u01(rng) - 0.5) * 0.2 * side;
  const double angle = u01(rng) * M_PI / 2.0;
  const double ca = std::cos(angle), sa = std::sin(angle);

  std::vector<double> ys, xs, thick, z;
  const int n = static_cast<int>(std::ceil(radius / o.lattice)) + 1;
  for (int i = -n; i <= n; ++i) {
    for (int j = -n; j <= n; ++j) {
      const double u = i * o.lattice, v = j * o.lattice;
      const double d2 = u * u + v * v;
      if (d2 >= radius * radius) continue;
      // Thickness of a sphere along the beam, in atoms (one atom per lattice step).
      const double t = std::max(1.0, std::round(2.0 * std::sqrt(radius * radius - d2) / o.lattice));
      ys.push_back(cy + ca * u - sa * v);
      xs.push_back(cx + sa * u + ca * v);
      thick.push_back(t);
      z.push_back(u01(rng) < o.minor_fraction ? o.z_minor : o.z_major);
    }
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto ty = torch::tensor(ys, opts), tx = torch::tensor(xs, opts);
  auto tt = torch::tensor(thick, opts), tz = torch::tensor(z, opts);
  auto zf = torch::pow(tz / o.z_major, 1.7);

  // Convolution: linear in thickness, one probe width.
  auto conv = render_columns(ty, tx, tt * zf, torch::full_like(tt, o.probe_sigma), o.height, o.width);
  // FFT-like ringing: a faint oscillation around the particle, slightly negative.
  auto gy = torch::arange(o.height, opts).view({o.height, 1});
  auto gx = torch::arange(o.width, opts).view({1, o.width});
  auto ring = torch::cos((gy + gx) * 1.3) * 2e-3 * conv.max();
  conv = (conv + ring) * (o.input_scale * 1e-3);

  // Multislice: saturating with thickness, probe spreading with depth, background.
  auto sat = o.t0 * (1.0 - torch::exp(-tt / o.t0));
  auto sig = o.probe_sigma + o.spread * tt;
  auto ms = render_columns(ty, tx, sat * zf / (sig * sig / (o.probe_sigma * o.probe_sigma)), sig,
                           o.height, o.width);
  auto bg = render_columns(torch::tensor({cy}, opts), torch::tensor({cx}, opts),
                           torch::tensor({0.05 * o.t0}, opts), torch::tensor({radius * 0.6}, opts),
                           o.height, o.width);
  ms = (ms + bg) * 4e-3 + 3e-4;

  return {conv.to(torch::kFloat32).unsqueeze(0), ms.to(torch::kFloat32).unsqueeze(0)};
}

}  // namespace emgan::sim
