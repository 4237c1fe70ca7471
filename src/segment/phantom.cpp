#include "emgan/segment/phantom.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/sample.h"
#include "emgan/io/image.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"

namespace emgan::segment {

namespace {
constexpr double kPi = 3.14159265358979323846;

// Zero-mean, unit-std smooth random field of correlation length `sigma` px.
torch::Tensor smooth_field(int64_t h, int64_t w, double sigma, torch::Generator& gen, const torch::Device& dev) {
  auto f = gaussian_blur(torch::randn({h, w}, gen).to(dev), sigma);
  const auto sd = f.std().item<double>();
  return sd > 0 ? (f - f.mean()) / sd : f;
}

std::string image_name(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "particles_%03lld", static_cast<long long>(i));
  return buf;
}
}  // namespace

void PhantomSettings::validate(const std::string& source) const {
  EMGAN_CHECK(ConfigError, count >= 1, source, ": count ", count, " must be >= 1");
  EMGAN_CHECK(ConfigError, size >= 16, source, ": size ", size, " must be >= 16 px");
  EMGAN_CHECK(ConfigError, support_level >= 0 && particle_contrast > 0, source, ": support_level ", support_level,
              " must be >= 0 and particle_contrast ", particle_contrast, " > 0");
  EMGAN_CHECK(ConfigError, contrast_variation >= 0 && contrast_variation < 1, source, ": contrast_variation ",
              contrast_variation, " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, image_contrast_variation >= 0 && image_contrast_variation < 1, source,
              ": image_contrast_variation ", image_contrast_variation, " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, edge_fraction >= 0 && edge_fraction <= 1, source, ": edge_fraction ", edge_fraction,
              " must be in [0, 1]");
  EMGAN_CHECK(ConfigError, lattice_period == 0 || lattice_period >= 2, source, ": lattice_period ", lattice_period,
              " must be 0 or >= 2 px");
  EMGAN_CHECK(ConfigError, probe_sigma >= 0 && jitter_px >= 0 && pixel_size_nm >= 0, source,
              ": probe_sigma, jitter_px and pixel_size_nm must be >= 0");
  RandomMaskSettings m;
  m.mean_diameter = mean_diameter;
  m.size_variability = size_variability;
  m.aspect_min = aspect_min;
  m.particles_per_512 = particles_per_512;
  m.min_gap = min_gap;
  m.validate(source);
}

PhantomSettings phantom_preset(const std::string& name) {
  PhantomSettings s;
  if (name == "default") return s;
  EMGAN_CHECK(ConfigError, name == "hard", "phantom: preset '", name, "' is unknown; expected default or hard");
  s.mean_diameter = 12.0;
  s.particles_per_512 = 100.0;
  s.dose = 100.0;
  s.support_roughness = 0.065;
  s.particle_contrast = 0.4;
  s.contrast_variation = 0.45;
  s.image_contrast_variation = 0.3;
  return s;
}

Phantom make_phantom(const PhantomSettings& s, int64_t index, const torch::Device& device) {
  s.validate();
  auto gen = data::make_generator(s.seed * 1000003ULL + static_cast<uint64_t>(index) * 7919ULL + 17ULL);
  const int64_t n = s.size;
  RandomMaskSettings ms;
  ms.height = ms.width = n;
  ms.mean_diameter = s.mean_diameter;
  ms.size_variability = s.size_variability;
  ms.aspect_min = s.aspect_min;
  ms.particles_per_512 = s.particles_per_512;
  ms.count_std_per_512 = 0.15 * s.particles_per_512;
  ms.min_gap = s.min_gap;
  auto rm = random_mask(ms, gen, device);

  auto u = [&gen]() { return torch::rand({1}, gen, torch::kFloat64).item<double>(); };
  const double gain = 1.0 + s.image_contrast_variation * (2.0 * u() - 1.0);
  const double support = s.support_level * (1.0 + s.image_contrast_variation * (2.0 * u() - 1.0));
  const auto fopts = torch::TensorOptions().device(device).dtype(torch::kFloat32);

  // Amorphous support: smooth thickness variations, a slow gradient and fine speckle.
  auto img = support + s.support_roughness * (0.7 * smooth_field(n, n, 12.0, gen, device) +
                                              0.5 * smooth_field(n, n, 1.2, gen, device));
  const double gx = (2.0 * u() - 1.0) * 0.3 * s.support_level, gy = (2.0 * u() - 1.0) * 0.3 * s.support_level;
  const auto ramp = torch::linspace(-0.5, 0.5, n, fopts);
  img = img + gx * ramp.view({1, n}) + gy * ramp.view({n, 1});

  // Particles: thickness profile of an ellipsoid, lattice fringes, own contrast.
  using torch::indexing::Slice;
  for (const auto& e : rm.ellipses) {
    const auto win = ellipse_window(e, n, n, 0.0, fopts);
    if (win.empty()) continue;
    const double contrast = s.particle_contrast * (1.0 + s.contrast_variation * (2.0 * u() - 1.0));
    const auto inside = win.rho2 <= 1.0;
    const auto thick = torch::sqrt((1.0 - win.rho2).clamp_min(0));
    auto value = contrast * (s.edge_fraction + (1.0 - s.edge_fraction) * thick);
    if (s.lattice_period > 0) {
      const double theta = kPi * u(), phase = 2 * kPi * u();
      const double period = s.lattice_period * (0.85 + 0.3 * u());
      const auto xs = torch::arange(win.x0, win.x1, fopts).view({1, -1});
      const auto ys = torch::arange(win.y0, win.y1, fopts).view({-1, 1});
      const auto arg = (xs * std::cos(theta) + ys * std::sin(theta)) * (2 * kPi / period) + phase;
      value = value * (1.0 + s.lattice_strength * torch::cos(arg));
    }
    const auto rows = Slice(win.y0, win.y1), cols = Slice(win.x0, win.x1);
    img.index_put_({rows, cols}, img.index({rows, cols}) + torch::where(inside, value, torch::zeros_like(value)));
  }
  img = gain * gaussian_blur(img, s.probe_sigma);

  // Scan-line jitter: each row shifted along x; the labels move with it.
  auto labels = rm.labels;
  if (s.jitter_px > 0) {
    const auto shift = (torch::randn({n}, gen) * s.jitter_px).to(fopts);
    const auto base_x = torch::linspace(-1.0, 1.0, n, fopts).view({1, n}) + (2.0 / (n - 1)) * shift.view({n, 1});
    const auto base_y = torch::linspace(-1.0, 1.0, n, fopts).view({n, 1}).expand({n, n});
    const auto grid = torch::stack({base_x.expand({n, n}), base_y}, -1).unsqueeze(0);
    namespace F = torch::nn::functional;
    auto opts = F::GridSampleFuncOptions().align_corners(true).padding_mode(torch::kBorder);
    opts.mode(torch::kBilinear);
    img = F::grid_sample(img.view({1, 1, n, n}), grid, opts).view({n, n});
    opts.mode(torch::kNearest);
    labels = F::grid_sample(labels.to(torch::kFloat32).view({1, 1, n, n}), grid, opts)
                 .view({n, n})
                 .round()
                 .to(torch::kLong);
  }
  if (s.dose > 0) {
    img = torch::poisson((img.clamp_min(0) * s.dose).to(torch::kCPU), gen).to(device) / s.dose;
  }
  Phantom p;
  p.image = img.unsqueeze(0).to(torch::kFloat32);
  p.labels = labels;
  p.mask = labels > 0;
  p.ellipses = rm.ellipses;
  return p;
}

int64_t write_phantoms(const PhantomSettings& s, const fs::path& out, const torch::Device& device) {
  s.validate();
  for (const char* sub : {"images", "masks", "labels"}) ensure_dir(out / sub);
  save_json_file(out / "settings.json", Json(s));
  std::ostringstream csv;
  csv << "image,label,cx_px,cy_px,a_px,b_px,angle_deg,diameter_px,diameter_nm,touches_border\n";
  io::WriteOptions tif;
  tif.meta.pixel_size_x = tif.meta.pixel_size_y = s.pixel_size_nm;
  tif.meta.unit = s.pixel_size_nm > 0 ? "nm" : "";
  io::WriteOptions png;
  png.dtype = "uint8";
  io::WriteOptions lab;
  lab.dtype = "uint16";
  std::vector<std::vector<torch::Tensor>> preview;
  Progress progress("phantom", s.count, "img");
  int64_t total = 0;
  for (int64_t i = 0; i < s.count; ++i) {
    const auto p = make_phantom(s, i, device);
    const auto name = image_name(i);
    io::write_image(out / "images" / (name + ".tif"), p.image.cpu(), tif);
    io::write_image(out / "masks" / (name + ".png"), (p.mask.to(torch::kFloat32) * 255).unsqueeze(0).cpu(), png);
    io::write_image(out / "labels" / (name + ".tif"), p.labels.to(torch::kFloat32).unsqueeze(0).cpu(), lab);
    // A particle touches the border when its (jittered) label reaches an edge row or column.
    const auto measured = measure_particles(p.labels);
    std::vector<bool> border(p.ellipses.size() + 1, false);
    for (const auto& m : measured) {
      if (m.label < static_cast<int64_t>(border.size())) border[m.label] = m.touches_border;
    }
    for (size_t k = 0; k < p.ellipses.size(); ++k) {
      const auto& e = p.ellipses[k];
      const double d = e.diameter();
      csv << name << ',' << (k + 1) << ',' << e.cx << ',' << e.cy << ',' << e.a << ',' << e.b << ','
          << e.angle * 180.0 / kPi << ',' << d << ',' << (s.pixel_size_nm > 0 ? d * s.pixel_size_nm : 0.0) << ','
          << (border[k + 1] ? 1 : 0) << '\n';
    }
    total += static_cast<int64_t>(p.ellipses.size());
    if (i < 4) {
      const auto lo = p.image.min().item<double>(), hi = p.image.max().item<double>();
      preview.push_back({((p.image - lo) / std::max(hi - lo, 1e-9)).cpu(), p.mask.to(torch::kFloat32).unsqueeze(0).cpu()});
    }
    progress.update(i + 1);
  }
  progress.finish();
  write_text_atomic(out / "particles.csv", csv.str());
  report::write_grid_png(out / "preview.png", preview);
  return total;
}

}  // namespace emgan::segment
