#include "emgan/segment/particles.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "emgan/core/error.h"

namespace emgan::segment {

namespace {
constexpr double kPi = 3.14159265358979323846;

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}
}  // namespace

std::vector<Particle> measure_particles(const torch::Tensor& labels) {
  EMGAN_CHECK(ConfigError, labels.defined() && labels.dim() == 2, "measure_particles: expected [H, W] labels");
  const auto l = labels.to(torch::kLong);
  const int64_t h = l.size(0), w = l.size(1);
  const int64_t k = l.numel() ? l.max().item<int64_t>() + 1 : 1;
  const auto flat = l.flatten();
  const auto opts = l.options().dtype(torch::kFloat64);
  const auto ys = torch::arange(h, opts).view({h, 1}).expand({h, w}).flatten();
  const auto xs = torch::arange(w, opts).view({1, w}).expand({h, w}).flatten();
  auto sum = [&](const torch::Tensor& weights) { return torch::bincount(flat, weights, k); };
  const auto n = torch::bincount(flat, {}, k).to(torch::kFloat64);
  auto border = torch::zeros({h, w}, l.options().dtype(torch::kBool));
  border.index_put_({0}, true);
  border.index_put_({h - 1}, true);
  border.index_put_({torch::indexing::Slice(), 0}, true);
  border.index_put_({torch::indexing::Slice(), w - 1}, true);
  const auto on_border = torch::bincount(l.index({border}), {}, k) > 0;
  auto stats = torch::stack({n, sum(xs), sum(ys), sum(xs * xs), sum(ys * ys), sum(xs * ys),
                             on_border.to(torch::kFloat64)})
                   .to(torch::kCPU)
                   .contiguous();
  auto a = stats.accessor<double, 2>();
  std::vector<Particle> out;
  for (int64_t i = 1; i < k; ++i) {
    const double area = a[0][i];
    if (area <= 0) continue;
    Particle p;
    p.label = i;
    p.area_px = area;
    p.cx = a[1][i] / area;
    p.cy = a[2][i] / area;
    // Covariance of the pixel squares (each pixel a unit square: + 1/12).
    const double cxx = a[3][i] / area - p.cx * p.cx + 1.0 / 12.0;
    const double cyy = a[4][i] / area - p.cy * p.cy + 1.0 / 12.0;
    const double cxy = a[5][i] / area - p.cx * p.cy;
    const double tr = 0.5 * (cxx + cyy);
    const double det = std::sqrt(std::max(0.0, 0.25 * (cxx - cyy) * (cxx - cyy) + cxy * cxy));
    const double l1 = tr + det, l2 = std::max(tr - det, 0.0);
    p.major_px = 4.0 * std::sqrt(l1);
    p.minor_px = 4.0 * std::sqrt(l2);
    p.angle_deg = 0.5 * std::atan2(2.0 * cxy, cxx - cyy) * 180.0 / kPi;
    p.aspect = p.major_px > 0 ? p.minor_px / p.major_px : 1.0;
    p.eq_diameter_px = 2.0 * std::sqrt(area / kPi);
    p.touches_border = a[6][i] > 0.5;
    out.push_back(p);
  }
  return out;
}

double Ellipse::diameter() const { return 2.0 * std::sqrt(a * b); }

EllipseWindow ellipse_window(const Ellipse& e, int64_t height, int64_t width, double grow,
                             const torch::TensorOptions& options) {
  EllipseWindow win;
  const double a = e.a + grow, b = e.b + grow;
  const double c = std::cos(e.angle), s = std::sin(e.angle);
  const double hx = std::sqrt(a * a * c * c + b * b * s * s);
  const double hy = std::sqrt(a * a * s * s + b * b * c * c);
  win.x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(e.cx - hx)));
  win.x1 = std::min<int64_t>(width, static_cast<int64_t>(std::ceil(e.cx + hx)) + 1);
  win.y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(e.cy - hy)));
  win.y1 = std::min<int64_t>(height, static_cast<int64_t>(std::ceil(e.cy + hy)) + 1);
  if (win.empty()) return win;
  const auto f = options.dtype(torch::kFloat32);
  const auto xs = (torch::arange(win.x0, win.x1, f) - e.cx).view({1, -1});
  const auto ys = (torch::arange(win.y0, win.y1, f) - e.cy).view({-1, 1});
  const auto u = xs * c + ys * s;    // along the major axis
  const auto v = -xs * s + ys * c;   // along the minor axis
  win.rho2 = (u / a).pow(2) + (v / b).pow(2);
  return win;
}

void measure_significance(const torch::Tensor& image, const torch::Tensor& labels, std::vector<Particle>& particles) {
  namespace F = torch::nn::functional;
  EMGAN_CHECK(ConfigError, image.dim() == 2 && image.sizes() == labels.sizes(), "measure_significance: image ",
              image.sizes(), " and labels ", labels.sizes(), " must be [H, W] of one size");
  if (particles.empty()) return;
  const auto img = image.to(torch::kFloat32).to(labels.device());
  const auto flat_l = labels.flatten();
  const int64_t k = flat_l.max().item<int64_t>();
  const auto det = labels > 0;
  const auto fimg = img.flatten().to(torch::kFloat64);
  const auto in_sum = torch::bincount(flat_l, fimg, k + 1).cpu();
  const auto in_n = torch::bincount(flat_l, {}, k + 1).to(torch::kFloat64).cpu();
  // The ring: labels grown 5 px, minus everything within 2 px of a particle.
  const auto zone = grow_labels(labels, 5);
  const auto ring = (zone > 0) & ~dilate(det, 2);
  const auto ring_l = zone.index({ring});
  const auto ring_sum = torch::bincount(ring_l, img.index({ring}).to(torch::kFloat64), k + 1).cpu();
  const auto ring_n = torch::bincount(ring_l, {}, k + 1).to(torch::kFloat64).cpu();
  const auto support = (~dilate(det, 3)).to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
  const auto weighted = (img.unsqueeze(0).unsqueeze(0) * support);
  const int64_t h = img.size(0), w = img.size(1);
  std::map<int64_t, double> sigma;  // box side -> std of the support's box means
  const auto sigma_of = [&](int64_t side) {
    const auto found = sigma.find(side);
    if (found != sigma.end()) return found->second;
    double sd = std::numeric_limits<double>::quiet_NaN();
    if (side <= std::min(h, w) / 2) {
      const auto opts = F::AvgPool2dFuncOptions(side).stride(1).padding(side / 2).count_include_pad(true);
      const auto num = F::avg_pool2d(weighted, opts).squeeze(0).squeeze(0);
      const auto den = F::avg_pool2d(support, opts).squeeze(0).squeeze(0);
      const auto ok = den >= 0.9;
      if (ok.sum().item<int64_t>() >= 50) sd = (num.index({ok}) / den.index({ok})).std().item<double>();
    }
    sigma[side] = sd;
    return sd;
  };
  std::vector<double> contrast(particles.size(), std::numeric_limits<double>::quiet_NaN());
  std::vector<double> valid;
  for (size_t i = 0; i < particles.size(); ++i) {
    const int64_t l = particles[i].label;
    if (l <= 0 || l > k) continue;
    const double n_in = in_n[l].item<double>(), n_ring = ring_n[l].item<double>();
    if (n_in <= 0 || n_ring <= 0) continue;
    contrast[i] = in_sum[l].item<double>() / n_in - ring_sum[l].item<double>() / n_ring;
    valid.push_back(contrast[i]);
  }
  const double sign = median_of(valid) < 0 ? -1.0 : 1.0;
  for (size_t i = 0; i < particles.size(); ++i) {
    auto& p = particles[i];
    p.significance = std::numeric_limits<double>::quiet_NaN();
    if (!std::isfinite(contrast[i])) continue;
    const int64_t side = 2 * static_cast<int64_t>(std::floor(std::sqrt(p.area_px) / 2.0)) + 1;
    const double sd = sigma_of(side);
    if (std::isfinite(sd) && sd > 0) p.significance = sign * contrast[i] / sd;
  }
}

void match_particles(const torch::Tensor& reference, const torch::Tensor& test, ParticleMatch& into,
                     double found_fraction) {
  EMGAN_CHECK(ConfigError, reference.dim() == 2 && reference.sizes() == test.sizes(), "match_particles: reference ",
              reference.sizes(), " and test ", test.sizes(), " must be [H, W] masks of one size");
  int64_t k = 0;
  const auto labels = label_components(reference.to(torch::kBool), &k);
  if (k == 0) return;
  const auto zone = grow_labels(labels, 3);
  const auto area = torch::bincount(zone.index({test.to(torch::kBool).to(zone.device())}), {}, k + 1)
                        .to(torch::kFloat64)
                        .cpu();
  for (const auto& p : measure_particles(labels)) {
    if (p.touches_border) continue;
    ++into.particles;
    const double a = area[p.label].item<double>();
    if (a <= 0 || a < found_fraction * p.area_px) {
      ++into.missed;
      continue;
    }
    into.reference_diameters.push_back(p.eq_diameter_px);
    into.test_diameters.push_back(2.0 * std::sqrt(a / M_PI));
  }
}

void MaskFitSettings::validate(const std::string& source) const {
  EMGAN_CHECK(ConfigError, min_area_ratio >= 0 && min_area_ratio < 1, source, ": min_area_ratio ", min_area_ratio,
              " must be in [0, 1) (fraction of the median particle area)");
  EMGAN_CHECK(ConfigError, max_area_ratio == 0 || max_area_ratio > 1, source, ": max_area_ratio ", max_area_ratio,
              " must be 0 (no limit) or > 1 (multiple of the median particle area)");
  EMGAN_CHECK(ConfigError, min_area_px >= 0, source, ": min_area_px ", min_area_px, " must be >= 0");
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(v.begin(), mid));
}

namespace {

// The area-weighted median of `areas`: the area below which half of the particle
// pixels lie. Many small specks barely move it.
double weighted_median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  double total = 0;
  for (double a : v) total += a;
  double acc = 0;
  for (double a : v) {
    acc += a;
    if (acc >= 0.5 * total) return a;
  }
  return v.back();
}

}  // namespace

// The reference is the median area of the kept particles, found by iteration: it starts
// from the area-weighted median (specks, however many, cannot pull it down) and is
// then the plain median of the particles the limits keep, until they keep the same set.
AreaLimits fit_area_limits(const std::vector<double>& areas, const MaskFitSettings& fit) {
  fit.validate();
  double lo = fit.min_area_px, hi = 0.0;
  if (areas.empty() || (fit.min_area_ratio <= 0 && fit.max_area_ratio <= 0)) return {lo, hi};
  std::vector<double> kept = areas;
  double ref = weighted_median_of(areas);
  for (int iter = 0; iter < 50; ++iter) {
    lo = std::max(fit.min_area_px, fit.min_area_ratio * ref);
    hi = fit.max_area_ratio > 0 ? fit.max_area_ratio * ref : 0.0;
    std::vector<double> next;
    for (double a : areas) {
      if (a >= lo && (hi <= 0 || a <= hi)) next.push_back(a);
    }
    if (next.empty() || (iter > 0 && next == kept)) break;
    kept = std::move(next);
    ref = median_of(kept);
  }
  return {lo, hi};
}

MaskStatistics fit_mask_statistics(const std::vector<torch::Tensor>& masks, const WatershedSettings& split,
                                   const MaskFitSettings& fit) {
  fit.validate();
  MaskStatistics st;
  std::vector<std::vector<Particle>> per_image;
  std::vector<double> inner_areas;
  for (const auto& m : masks) {
    EMGAN_CHECK(ConfigError, m.dim() == 2, "fit_mask_statistics: expected [H, W] masks, got ", m.sizes());
    int64_t count = 0;
    const auto labels = watershed_split(m.to(torch::kBool), split, &count);
    per_image.push_back(measure_particles(labels));
    ++st.images;
    st.particles += count;
    for (const auto& p : per_image.back()) {
      if (!p.touches_border) inner_areas.push_back(p.area_px);
    }
  }
  const auto limits = fit_area_limits(inner_areas, fit);
  st.min_area_px = limits.min_px;
  st.max_area_px = limits.max_px;
  auto kept = [&limits](const Particle& p) { return limits.keeps(p.area_px); };
  std::vector<double> diam, aspect;
  int64_t inner = 0;
  for (const auto& ps : per_image) {
    for (const auto& p : ps) {
      if (p.touches_border) continue;
      ++inner;
      if (!kept(p)) continue;
      diam.push_back(p.eq_diameter_px);
      aspect.push_back(p.aspect);
    }
  }
  st.measured = static_cast<int64_t>(diam.size());
  st.rejected = inner - st.measured;
  // Count per area from the kept inner particles only (border particles are truncated,
  // so the area limits cannot judge them), each weighted by the inverse of the area in
  // which its centre could lie without it touching the border (Miles-Lantuejoul
  // correction; extents of the ellipse of equal second moments).
  std::vector<double> density;
  for (size_t i = 0; i < per_image.size(); ++i) {
    const double h = static_cast<double>(masks[i].size(0)), w = static_cast<double>(masks[i].size(1));
    double n = 0;
    for (const auto& p : per_image[i]) {
      if (p.touches_border || !kept(p)) continue;
      const double t = p.angle_deg * kPi / 180.0, c = std::cos(t), s = std::sin(t);
      const double bw = p.major_px * std::hypot(c, p.aspect * s), bh = p.major_px * std::hypot(s, p.aspect * c);
      n += h * w / (std::max(1.0, w - bw) * std::max(1.0, h - bh));
    }
    density.push_back(n * 512.0 * 512.0 / (h * w));
  }
  st.particles_per_512 = mean_of(density);
  st.count_std_per_512 = std_of(density);
  if (!diam.empty()) {
    st.mean_diameter_px = mean_of(diam);
    st.std_diameter_px = std_of(diam);
    st.mean_aspect = mean_of(aspect);
    st.std_aspect = std_of(aspect);
  } else {
    const RandomMaskSettings d;
    st.mean_diameter_px = d.mean_diameter;
    st.std_diameter_px = d.mean_diameter * d.size_variability / std::sqrt(3.0);
  }
  return st;
}

torch::Tensor clean_mask(const torch::Tensor& mask, double min_area, bool fill) {
  EMGAN_CHECK(ConfigError, mask.defined() && mask.dim() == 2, "clean_mask: expected an [H, W] mask");
  EMGAN_CHECK(ConfigError, min_area >= 0, "clean_mask: min_area ", min_area, " must be >= 0 px");
  auto m = mask.to(torch::kBool);
  if (fill) m = fill_holes(m);
  const auto min_px = static_cast<int64_t>(std::ceil(min_area));
  if (min_px > 1) m = remove_small(label_components(m), min_px) > 0;
  return m;
}

void RandomMaskSettings::validate(const std::string& source) const {
  EMGAN_CHECK(ConfigError, height >= 1 && width >= 1, source, ": size ", height, "x", width, " must be >= 1x1");
  EMGAN_CHECK(ConfigError, mean_diameter > 0, source, ": mean_diameter ", mean_diameter, " must be > 0 px");
  EMGAN_CHECK(ConfigError, size_variability >= 0 && size_variability < 1, source, ": size_variability ",
              size_variability, " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, min_diameter >= 0 && max_diameter >= 0, source, ": min_diameter ", min_diameter,
              " and max_diameter ", max_diameter, " must be >= 0 px (0 = no limit)");
  EMGAN_CHECK(ConfigError,
              (max_diameter <= 0 || mean_diameter * (1 - size_variability) <= max_diameter) &&
                  mean_diameter * (1 + size_variability) >= min_diameter &&
                  (max_diameter <= 0 || min_diameter <= max_diameter),
              source, ": diameter limits [", min_diameter, ", ", max_diameter, "] px leave nothing of the law's range [",
              mean_diameter * (1 - size_variability), ", ", mean_diameter * (1 + size_variability), "] px");
  EMGAN_CHECK(ConfigError, aspect_min > 0 && aspect_min <= aspect_max && aspect_max <= 1, source,
              ": aspect range [", aspect_min, ", ", aspect_max, "] must satisfy 0 < min <= max <= 1");
  EMGAN_CHECK(ConfigError, particles_per_512 >= 0 && count_std_per_512 >= 0, source, ": particles_per_512 ",
              particles_per_512, " and count_std_per_512 ", count_std_per_512, " must be >= 0");
  EMGAN_CHECK(ConfigError, min_gap >= 0, source, ": min_gap ", min_gap, " must be >= 0 px");
  EMGAN_CHECK(ConfigError, max_attempts >= 1, source, ": max_attempts ", max_attempts, " must be >= 1");
}

RandomMaskSettings settings_from_statistics(const MaskStatistics& stats, int64_t height, int64_t width) {
  RandomMaskSettings s;
  s.height = height;
  s.width = width;
  if (stats.mean_diameter_px > 0) {
    s.mean_diameter = stats.mean_diameter_px;
    s.size_variability = std::clamp(std::sqrt(3.0) * stats.std_diameter_px / stats.mean_diameter_px, 0.0, 0.95);
  }
  const double half = std::sqrt(3.0) * stats.std_aspect;
  s.aspect_max = std::clamp(stats.mean_aspect + half, 0.2, 1.0);
  s.aspect_min = std::clamp(stats.mean_aspect - half, 0.2, s.aspect_max);
  s.particles_per_512 = stats.particles_per_512;
  s.count_std_per_512 = stats.count_std_per_512;
  const double lo = stats.min_area_px > 0 ? 2.0 * std::sqrt(stats.min_area_px / kPi) : 0.0;
  const double hi = stats.max_area_px > 0 ? 2.0 * std::sqrt(stats.max_area_px / kPi) : 0.0;
  // Only limits that leave part of the law's range (the fitted mean lies within them).
  if (lo < s.mean_diameter && (hi <= 0 || hi > s.mean_diameter)) {
    s.min_diameter = lo;
    s.max_diameter = hi;
  }
  return s;
}

RandomMask random_mask(const RandomMaskSettings& s, torch::Generator& gen, const torch::Device& device) {
  s.validate();
  const double area_scale = static_cast<double>(s.height * s.width) / (512.0 * 512.0);
  const double z = torch::randn({1}, gen, torch::kFloat64).item<double>();
  const double mean_count = s.particles_per_512 * area_scale;
  const double std_count = s.count_std_per_512 * area_scale;
  const int64_t n = std::max<int64_t>(0, std::llround(mean_count + std_count * z));
  RandomMask out;
  out.requested = n;
  const auto bopts = torch::TensorOptions().device(device).dtype(torch::kBool);
  out.mask = torch::zeros({s.height, s.width}, bopts);
  out.labels = torch::zeros({s.height, s.width}, bopts.dtype(torch::kLong));
  if (n == 0) return out;
  const auto draws = torch::rand({n * s.max_attempts, 5}, gen, torch::kFloat64).contiguous();
  const auto d = draws.accessor<double, 2>();
  // Grown by the gap plus half a pixel, so rasterised ellipses keep the gap too.
  const double grow = s.min_gap > 0 ? s.min_gap + 0.5 : 0.0;
  // Diameter range: the law's, cut to [min_diameter, max_diameter] when they are set.
  const bool limited = s.min_diameter > 0 || s.max_diameter > 0;
  const double lo_d = std::max(s.mean_diameter * (1.0 - s.size_variability), s.min_diameter);
  const double hi_d = s.max_diameter > 0 ? std::min(s.mean_diameter * (1.0 + s.size_variability), s.max_diameter)
                                         : s.mean_diameter * (1.0 + s.size_variability);
  int64_t row = 0;
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t attempt = 0; attempt < s.max_attempts; ++attempt, ++row) {
      double diam = s.mean_diameter * (1.0 + s.size_variability * (2.0 * d[row][0] - 1.0));
      if (limited) diam = lo_d + (hi_d - lo_d) * d[row][0];
      const double r = s.aspect_min + (s.aspect_max - s.aspect_min) * d[row][1];
      Ellipse e;
      e.a = 0.5 * diam / std::sqrt(r);
      e.b = 0.5 * diam * std::sqrt(r);
      e.angle = kPi * d[row][2];
      e.cx = d[row][3] * static_cast<double>(s.width) - 0.5;
      e.cy = d[row][4] * static_cast<double>(s.height) - 0.5;
      const auto body = ellipse_window(e, s.height, s.width, 0.0, bopts);
      if (body.empty()) continue;
      const auto inside = body.rho2 <= 1.0;
      if (!inside.any().item<bool>()) continue;
      using torch::indexing::Slice;
      const auto wrow = Slice(body.y0, body.y1), wcol = Slice(body.x0, body.x1);
      if (grow > 0) {
        const auto halo = ellipse_window(e, s.height, s.width, grow, bopts);
        const auto occ = out.mask.index({Slice(halo.y0, halo.y1), Slice(halo.x0, halo.x1)});
        if ((occ & (halo.rho2 <= 1.0)).any().item<bool>()) continue;
      } else if ((out.mask.index({wrow, wcol}) & inside).any().item<bool>()) {
        continue;
      }
      const auto id = static_cast<int64_t>(out.ellipses.size()) + 1;
      out.mask.index_put_({wrow, wcol}, out.mask.index({wrow, wcol}) | inside);
      auto lab = out.labels.index({wrow, wcol});
      out.labels.index_put_({wrow, wcol}, torch::where(inside, torch::full_like(lab, id), lab));
      out.ellipses.push_back(e);
      break;
    }
    row = (k + 1) * s.max_attempts;
  }
  return out;
}

}  // namespace emgan::segment
