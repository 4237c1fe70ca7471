#include "emgan/restore/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/report/grid.h"

namespace emgan::restore {

namespace {

constexpr double kPi = 3.14159265358979323846;
namespace F = torch::nn::functional;

/// Gaussian blur with reflect padding of [1,1,H,W] along y and/or x.
torch::Tensor blur_reflect(const torch::Tensor& x, double sy, double sx) {
  auto out = x;
  auto kernel = [&](double s) {
    const auto r = std::min<int64_t>(static_cast<int64_t>(std::ceil(3.0 * s)), x.size(2) - 1);
    auto k = torch::arange(-r, r + 1, x.options());
    k = torch::exp(-(k * k) / (2.0 * s * s));
    return std::make_pair(k / k.sum(), r);
  };
  if (sx > 0.0) {
    auto [k, r] = kernel(sx);
    out = F::conv2d(F::pad(out, F::PadFuncOptions({r, r, 0, 0}).mode(torch::kReflect)), k.view({1, 1, 1, -1}));
  }
  if (sy > 0.0) {
    auto [k, r] = kernel(sy);
    out = F::conv2d(F::pad(out, F::PadFuncOptions({0, 0, r, r}).mode(torch::kReflect)), k.view({1, 1, -1, 1}));
  }
  return out;
}

/// Smooth random field [n, n] with unit std and correlation length ~`scale` px.
torch::Tensor smooth_field(int64_t n, double scale, at::Generator& gen) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor f;
  if (scale <= 6.0) {
    f = blur_reflect(torch::randn({1, 1, n, n}, gen, opts), scale, scale);
  } else {
    const auto m = std::max<int64_t>(2, static_cast<int64_t>(std::ceil(static_cast<double>(n) / scale)) + 2);
    f = F::interpolate(torch::randn({1, 1, m, m}, gen, opts),
                       F::InterpolateFuncOptions().size(std::vector<int64_t>{n, n}).mode(torch::kBicubic).align_corners(true));
  }
  f = f[0][0];
  return (f - f.mean()) / f.std().clamp_min(1e-12);
}

torch::Tensor hash01(const torch::Tensor& i, const torch::Tensor& j, double salt) {
  auto h = torch::sin(i * 12.9898 + j * 78.233 + salt * 37.719) * 43758.5453;
  return h - h.floor();
}

/// Atomic-column lattice image at coordinates (x, y) px.
torch::Tensor lattice(const torch::Tensor& x, const torch::Tensor& y, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  auto U = [&](double a, double b) { return a + (b - a) * u01(rng); };
  const double s = std::exp(U(std::log(4.0), std::log(24.0)));
  const double theta = U(0.0, kPi);
  const double choice = u01(rng);
  const double gamma = choice < 0.35 ? kPi / 2 : choice < 0.7 ? kPi / 3 : U(kPi / 3, 2 * kPi / 3);
  const double ratio = u01(rng) < 0.5 ? 1.0 : U(0.7, 1.4);
  const double ax = s * std::cos(theta), ay = s * std::sin(theta);
  const double bx = s * ratio * std::cos(theta + gamma), by = s * ratio * std::sin(theta + gamma);
  const double det = ax * by - ay * bx;
  const double sigma = s * U(0.1, 0.28);
  const double jitter = U(0.0, 0.3), vacancy = U(0.0, 0.05);
  const bool second = u01(rng) < 0.5;
  const double w2 = U(0.2, 1.0);
  const double salt = U(0.0, 100.0);
  auto out = torch::zeros_like(x);
  auto add_sublattice = [&](double fu, double fv, double weight, double salt2) {
    auto u = (x * by - y * bx) / det - fu;
    auto v = (ax * y - ay * x) / det - fv;
    auto u0 = u.floor(), v0 = v.floor();
    for (int du = 0; du <= 1; ++du)
      for (int dv = 0; dv <= 1; ++dv) {
        auto iu = u0 + du, iv = v0 + dv;
        auto eu = u - iu, ev = v - iv;
        auto dx = eu * ax + ev * bx, dy = eu * ay + ev * by;
        auto h = hash01(iu, iv, salt + salt2);
        auto w = weight * (1.0 + jitter * (2.0 * hash01(iv, iu, salt2 + 3.0) - 1.0)) * (h >= vacancy).to(x.dtype());
        out = out + w * torch::exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma));
      }
  };
  add_sublattice(0.0, 0.0, 1.0, 0.0);
  if (second) add_sublattice(0.5, 0.5, w2, 11.0);
  return out;
}

torch::Tensor robust_unit(const torch::Tensor& x, double lo_q, double hi_q) {
  auto flat = x.flatten();
  const double lo = torch::quantile(flat, lo_q).item<double>();
  const double hi = torch::quantile(flat, hi_q).item<double>();
  if (hi - lo <= 1e-12) return torch::full_like(x, 0.5);
  return ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
}

}  // namespace

torch::Tensor synthetic_micrograph(uint64_t seed, const SyntheticMicrographOptions& o, const torch::Device& device) {
  EMGAN_CHECK(ConfigError, o.size >= 16, "synthetic micrograph: size ", o.size, " px must be >= 16");
  EMGAN_CHECK(ConfigError, o.min_dose > 0.0 && o.max_dose >= o.min_dose, "synthetic micrograph: doses ", o.min_dose,
              " .. ", o.max_dose, " must satisfy 0 < min <= max");
  EMGAN_CHECK(ConfigError, o.noise_probability >= 0.0 && o.noise_probability <= 1.0,
              "synthetic micrograph: noise_probability ", o.noise_probability, " must be in [0, 1]");
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 12345ULL);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  auto U = [&](double a, double b) { return a + (b - a) * u01(rng); };
  at::Generator gen = at::detail::createCPUGenerator(seed ^ 0xA5A5A5A5ULL);
  const auto n = o.size;
  const double nd = static_cast<double>(n);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto rows = torch::arange(n, opts).view({n, 1}).expand({n, n});
  auto cols = torch::arange(n, opts).view({1, n}).expand({n, n});

  // Scan distortions: line jitter and slow drift across the slow-scan axis.
  const bool fast_x = u01(rng) < 0.5;
  auto line_jitter = torch::randn({n}, gen, opts) * U(0.0, 0.6);
  const double period = U(nd / 2.0, 4.0 * nd), amp = U(0.0, 2.0), phase = U(0.0, 2.0 * kPi);
  auto slow = torch::arange(n, opts);
  auto line_offset = line_jitter + amp * torch::sin(2.0 * kPi * slow / period + phase);
  torch::Tensor x = cols.clone(), y = rows.clone();
  if (fast_x)
    x = x + line_offset.view({n, 1});
  else
    y = y + line_offset.view({1, n});
  // Smooth strain.
  const double strain = U(0.0, 1.5);
  x = x + strain * smooth_field(n, nd / 4.0, gen);
  y = y + strain * smooth_field(n, nd / 4.0, gen);

  // Content.
  auto img = torch::zeros({n, n}, opts);
  const bool crystal = u01(rng) < 0.75;
  if (crystal) {
    auto l1 = lattice(x, y, rng);
    if (u01(rng) < 0.3) {
      auto l2 = lattice(x, y, rng);
      const double phi = U(0.0, 2.0 * kPi), d = U(-0.3, 0.3) * nd;
      auto side = ((x - nd / 2) * std::cos(phi) + (y - nd / 2) * std::sin(phi)) > d;
      l1 = torch::where(side, l1, l2);
    }
    img = img + U(0.3, 1.0) * l1 / l1.max().clamp_min(1e-12);
  }
  const double amorphous = crystal ? U(0.0, 0.4) : U(0.3, 1.0);
  img = img + amorphous * 0.3 * smooth_field(n, U(1.0, 12.0), gen);
  img = img * (1.0 + U(0.0, 0.4) * smooth_field(n, U(nd / 6.0, nd), gen));  // thickness / bending
  if (u01(rng) < 0.5) {  // specimen edge
    const double phi = U(0.0, 2.0 * kPi), d = U(-0.45, 0.45) * nd, width = U(1.0, 40.0);
    auto t = torch::sigmoid(((cols - nd / 2) * std::cos(phi) + (rows - nd / 2) * std::sin(phi) - d) / width);
    const double other = U(-0.5, 1.5);
    img = img * t + other * (1.0 - t);
  }
  img = blur_reflect(img.view({1, 1, n, n}), U(0.5, 1.5), U(0.5, 1.5))[0][0];
  if (u01(rng) < 0.2) img = -img;  // bright-field-like contrast
  img = robust_unit(img, 0.001, 0.999);

  // Noise.
  if (u01(rng) < o.noise_probability) {
    const double dose = std::exp(U(std::log(o.min_dose), std::log(o.max_dose)));
    img = torch::poisson((img * dose).clamp_min(0.0), gen) / dose;
    img = img + torch::randn({n, n}, gen, opts) * U(0.0, 0.05);
    const double smear = U(2.0, 20.0), streak = U(0.0, 0.08);
    auto noise = torch::randn({1, 1, n, n}, gen, opts);
    noise = fast_x ? blur_reflect(noise, 0.0, smear) : blur_reflect(noise, smear, 0.0);
    noise = noise / noise.std().clamp_min(1e-12);
    img = img + streak * noise[0][0];
    auto per_line = torch::randn({n}, gen, opts) * U(0.0, 0.03);
    img = fast_x ? img + per_line.view({n, 1}) : img + per_line.view({1, n});
    img = robust_unit(img, 0.001, 0.999);
  }
  return img.to(torch::kFloat32).view({1, n, n}).to(device);
}

std::vector<fs::path> write_synthetic_micrographs(const fs::path& out, int64_t count, uint64_t seed,
                                                  const SyntheticMicrographOptions& options) {
  EMGAN_CHECK(ConfigError, count >= 1, "synthetic micrographs: count ", count, " must be >= 1");
  ensure_dir(out);
  std::vector<fs::path> files;
  std::vector<std::vector<torch::Tensor>> rows;
  for (int64_t i = 0; i < count; ++i) {
    auto img = synthetic_micrograph(seed + static_cast<uint64_t>(i), options);
    char name[64];
    std::snprintf(name, sizeof(name), "synthetic-%05lld.tif", static_cast<long long>(i));
    io::write_image(out / name, img);
    files.push_back(out / name);
    if (i < 16) {
      if (i % 4 == 0) rows.emplace_back();
      rows.back().push_back(img);
    }
  }
  while (!rows.empty() && rows.back().size() < rows.front().size()) rows.back().push_back(torch::zeros_like(rows.front()[0]));
  // Beside the folder, so that the folder holds training images only.
  auto folder = out.lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();
  report::write_grid_png(folder.parent_path() / (folder.filename().string() + "-preview.png"), rows);
  return files;
}

}  // namespace emgan::restore
