#include "emgan/restore/scan_path.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "emgan/core/fs.h"
#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/restore/ops.h"

namespace emgan::restore {

const std::vector<std::string> kPathKinds = {"spiral", "grid", "lines", "random"};

namespace {

constexpr double kPi = 3.14159265358979323846;

void check_frame(int64_t height, int64_t width, const ScanPathOptions& o, const std::string& kind) {
  EMGAN_CHECK(ConfigError, height >= 2 && width >= 2, "scan path ", kind, ": frame ", height, "x", width,
              " must be at least 2x2 px");
  EMGAN_CHECK(ConfigError, o.coverage > 0.0 && o.coverage <= 1.0, "scan path ", kind, ": coverage ", o.coverage,
              " must be in (0, 1]");
  EMGAN_CHECK(ConfigError, o.step > 0.0, "scan path ", kind, ": step ", o.step, " px must be > 0");
  EMGAN_CHECK(ConfigError, o.momentum >= 0.0 && o.momentum < 1.0, "scan path ", kind, ": momentum ", o.momentum,
              " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, o.jitter >= 0.0, "scan path ", kind, ": jitter ", o.jitter, " px must be >= 0");
  EMGAN_CHECK(ConfigError, o.refine_tolerance >= 0.0, "scan path ", kind, ": refine_tolerance ",
              o.refine_tolerance, " must be >= 0");
}

bool inside(double x, double y, int64_t height, int64_t width) {
  return x >= -0.5 && x < static_cast<double>(width) - 0.5 && y >= -0.5 && y < static_cast<double>(height) - 0.5;
}

/// Coverage of the rasterised path (distinct pixels / all pixels).
double raster_coverage(const ScanPath& p) {
  std::vector<uint8_t> hit(static_cast<size_t>(p.height * p.width), 0);
  int64_t n = 0;
  for (size_t i = 0; i < p.x.size(); ++i) {
    const auto c = static_cast<int64_t>(std::lround(p.x[i]));
    const auto r = static_cast<int64_t>(std::lround(p.y[i]));
    if (r < 0 || r >= p.height || c < 0 || c >= p.width) continue;
    auto& h = hit[static_cast<size_t>(r * p.width + c)];
    if (!h) {
      h = 1;
      ++n;
    }
  }
  return static_cast<double>(n) / static_cast<double>(p.height * p.width);
}

ScanPath spiral_with_spacing(int64_t height, int64_t width, const ScanPathOptions& o, double d) {
  ScanPath p;
  p.height = height;
  p.width = width;
  p.kind = "spiral";
  p.nominal_coverage = o.coverage;
  const double cx = (static_cast<double>(width) - 1.0) / 2.0 + o.center_dx;
  const double cy = (static_cast<double>(height) - 1.0) / 2.0 + o.center_dy;
  const double w = static_cast<double>(width), h = static_cast<double>(height);
  double r_max = 0.0;
  for (double px : {-0.5, w - 0.5})
    for (double py : {-0.5, h - 0.5}) r_max = std::max(r_max, std::hypot(px - cx, py - cy));
  const double a = d / (2.0 * kPi);
  double theta = 0.0;
  while (a * theta <= r_max + 1.0) {
    const double r = a * theta;
    const double x = cx + r * std::cos(theta + o.rotation);
    const double y = cy + r * std::sin(theta + o.rotation);
    if (inside(x, y, height, width)) {
      p.x.push_back(x);
      p.y.push_back(y);
    }
    theta += o.step / (a * std::sqrt(1.0 + theta * theta));
  }
  return p;
}

/// One line of the jittered grid along `len` px, offset random walk bounded by `bound`.
void walk_line(std::mt19937_64& rng, const ScanPathOptions& o, double len, double bound, bool reverse,
               const std::function<void(double along, double offset)>& emit) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const double vmax = 0.5 * o.step;
  double off = 0.0, v = 0.0;
  const auto n = static_cast<int64_t>(std::floor((len - 1.0) / o.step)) + 1;
  for (int64_t i = 0; i < n; ++i) {
    const double along = reverse ? (len - 1.0) - static_cast<double>(i) * o.step : static_cast<double>(i) * o.step;
    emit(along, off);
    v = o.momentum * v + (1.0 - o.momentum) * o.jitter * normal(rng) * 10.0 * o.step;
    v = std::clamp(v, -vmax, vmax);
    off += v;
    if (off > bound) {
      off = bound;
      v = -std::abs(v);
    } else if (off < -bound) {
      off = -bound;
      v = std::abs(v);
    }
  }
}

ScanPath grid_with_spacing(int64_t height, int64_t width, const ScanPathOptions& o, double d) {
  ScanPath p;
  p.height = height;
  p.width = width;
  p.kind = "grid";
  p.nominal_coverage = o.coverage;
  std::mt19937_64 rng(o.seed);
  const double h = static_cast<double>(height), w = static_cast<double>(width);
  const double bound = std::max(0.0, d / 2.0 - 0.5);
  auto add = [&](double x, double y) {
    x = std::clamp(x, 0.0, w - 1.0);
    y = std::clamp(y, 0.0, h - 1.0);
    p.x.push_back(x);
    p.y.push_back(y);
  };
  int64_t k = 0;
  for (double y0 = (d - 1.0) / 2.0; y0 <= h - 1.0 + 1e-9; y0 += d, ++k)
    walk_line(rng, o, w, bound, k % 2 == 1, [&](double along, double off) { add(along, y0 + off); });
  k = 0;
  for (double x0 = (d - 1.0) / 2.0; x0 <= w - 1.0 + 1e-9; x0 += d, ++k)
    walk_line(rng, o, h, bound, k % 2 == 1, [&](double along, double off) { add(x0 + off, along); });
  return p;
}

/// Refines spacing d so the rasterised coverage of make(d) approaches the request.
ScanPath refine(const ScanPathOptions& o, double d0, const std::function<ScanPath(double)>& make) {
  double d = d0;
  ScanPath cur = make(d);
  double cov = raster_coverage(cur);
  ScanPath best = cur;
  double best_err = std::abs(cov / o.coverage - 1.0);
  if (o.refine_tolerance <= 0.0) return best;
  for (int it = 0; it < 12 && best_err > o.refine_tolerance && cov > 0.0; ++it) {
    d = std::max(1.0, d * cov / o.coverage);
    cur = make(d);
    cov = raster_coverage(cur);
    const double err = std::abs(cov / o.coverage - 1.0);
    if (err < best_err) {
      best_err = err;
      best = cur;
    }
  }
  return best;
}

}  // namespace

ScanPath spiral_path(int64_t height, int64_t width, const ScanPathOptions& o) {
  check_frame(height, width, o, "spiral");
  return refine(o, std::max(1.0, 1.0 / o.coverage),
                [&](double d) { return spiral_with_spacing(height, width, o, d); });
}

ScanPath grid_path(int64_t height, int64_t width, const ScanPathOptions& o) {
  check_frame(height, width, o, "grid");
  const double d0 = 1.0 / (1.0 - std::sqrt(1.0 - std::min(o.coverage, 0.999999)));
  return refine(o, std::max(1.0, d0), [&](double d) { return grid_with_spacing(height, width, o, d); });
}

ScanPath lines_path(int64_t height, int64_t width, const ScanPathOptions& o) {
  check_frame(height, width, o, "lines");
  EMGAN_CHECK(ConfigError, o.every >= 0, "scan path lines: every ", o.every, " must be >= 0");
  const int64_t n = o.every > 0 ? o.every : std::max<int64_t>(1, std::lround(1.0 / o.coverage));
  ScanPath p;
  p.height = height;
  p.width = width;
  p.kind = "lines";
  p.nominal_coverage = o.every > 0 ? 1.0 / static_cast<double>(n) : o.coverage;
  for (int64_t r = 0; r < height; r += n)
    for (double x = 0.0; x <= static_cast<double>(width) - 1.0 + 1e-9; x += o.step) {
      p.x.push_back(x);
      p.y.push_back(static_cast<double>(r));
    }
  return p;
}

ScanPath random_path(int64_t height, int64_t width, const ScanPathOptions& o) {
  check_frame(height, width, o, "random");
  const int64_t total = height * width;
  const int64_t count = std::clamp<int64_t>(std::llround(o.coverage * static_cast<double>(total)), 1, total);
  std::vector<int64_t> idx(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) idx[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(o.seed);
  for (int64_t i = 0; i < count; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, total - 1);
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(pick(rng))]);
  }
  idx.resize(static_cast<size_t>(count));
  std::sort(idx.begin(), idx.end());
  ScanPath p;
  p.height = height;
  p.width = width;
  p.kind = "random";
  p.nominal_coverage = o.coverage;
  for (auto i : idx) {
    p.x.push_back(static_cast<double>(i % width));
    p.y.push_back(static_cast<double>(i / width));
  }
  return p;
}

ScanPath make_path(const std::string& kind, int64_t height, int64_t width, const ScanPathOptions& options) {
  check_choice("scan path kind", kind, kPathKinds);
  if (kind == "spiral") return spiral_path(height, width, options);
  if (kind == "grid") return grid_path(height, width, options);
  if (kind == "lines") return lines_path(height, width, options);
  return random_path(height, width, options);
}

torch::Tensor path_mask(const ScanPath& path) {
  EMGAN_CHECK(ConfigError, path.height > 0 && path.width > 0, "scan path: frame ", path.height, "x", path.width,
              " is empty");
  EMGAN_CHECK(ConfigError, path.x.size() == path.y.size(), "scan path: ", path.x.size(), " x positions but ",
              path.y.size(), " y positions");
  auto mask = torch::zeros({path.height, path.width}, torch::kFloat32);
  auto acc = mask.accessor<float, 2>();
  for (size_t i = 0; i < path.x.size(); ++i) {
    EMGAN_CHECK(ConfigError, inside(path.x[i], path.y[i], path.height, path.width), "scan path: probe ", i,
                " at (x=", path.x[i], ", y=", path.y[i], ") px lies outside the ", path.width, "x", path.height,
                " frame");
    acc[std::lround(path.y[i])][std::lround(path.x[i])] = 1.0f;
  }
  return mask;
}

double mask_coverage(const torch::Tensor& mask) {
  EMGAN_CHECK(ConfigError, mask.numel() > 0, "mask is empty");
  return (mask > 0.5).to(torch::kFloat64).mean().item<double>();
}

torch::Tensor blur_mask(const torch::Tensor& mask, double sigma) {
  EMGAN_CHECK(ConfigError, sigma > 0.0, "blur of the scan path: sigma ", sigma, " px must be > 0");
  EMGAN_CHECK(ConfigError, mask.dim() == 2, "blur of the scan path: mask must be [H, W], got ", mask.sizes());
  auto b = gaussian_blur(mask.to(torch::kFloat32).view({1, 1, mask.size(0), mask.size(1)}), sigma)[0][0];
  const double mx = b.max().item<double>();
  return mx > 0.0 ? b / mx : b;
}

void write_positions_csv(const fs::path& path, const ScanPath& p) {
  std::ostringstream os;
  os.precision(10);
  os << "index,x,y\n";
  for (size_t i = 0; i < p.x.size(); ++i) os << i << ',' << p.x[i] << ',' << p.y[i] << '\n';
  write_text_atomic(path, os.str());
}

namespace {

std::vector<std::string> split_csv(const std::string& line) {
  auto out = split_csv_line(line);
  for (auto& cell : out) {
    const auto b = cell.find_first_not_of(" \t\r");
    const auto e = cell.find_last_not_of(" \t\r");
    cell = b == std::string::npos ? "" : cell.substr(b, e - b + 1);
  }
  return out;
}

}  // namespace

Rasterised rasterise_csv(const fs::path& csv, int64_t height, int64_t width) {
  EMGAN_CHECK(ConfigError, height > 0 && width > 0, csv.string(), ": frame ", height, "x", width,
              " must be positive (give --height and --width)");
  std::ifstream in(csv);
  EMGAN_CHECK(IoError, in.good(), csv.string(), ": cannot open the positions CSV");
  std::string line;
  EMGAN_CHECK(ConfigError, static_cast<bool>(std::getline(in, line)), csv.string(), ": empty file, expected a header x,y,intensity");
  const auto header = split_csv(line);
  int ix = -1, iy = -1, iv = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = header[i];
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
    if (h == "x") ix = static_cast<int>(i);
    if (h == "y") iy = static_cast<int>(i);
    if (h == "intensity" || h == "value" || h == "signal") iv = static_cast<int>(i);
  }
  EMGAN_CHECK(IoError, ix >= 0 && iy >= 0 && iv >= 0, csv.string(), ": header '", line,
              "' must name columns x, y and intensity");
  auto sum = torch::zeros({height, width}, torch::kFloat64);
  auto cnt = torch::zeros({height, width}, torch::kFloat64);
  auto s = sum.accessor<double, 2>();
  auto c = cnt.accessor<double, 2>();
  int64_t row = 1, probes = 0;
  while (std::getline(in, line)) {
    ++row;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto cells = split_csv(line);
    const int need = std::max({ix, iy, iv});
    EMGAN_CHECK(IoError, static_cast<int>(cells.size()) > need, csv.string(), ":", row, ": expected at least ",
                need + 1, " columns, got ", cells.size());
    double x = 0, y = 0, v = 0;
    try {
      x = std::stod(cells[static_cast<size_t>(ix)]);
      y = std::stod(cells[static_cast<size_t>(iy)]);
      v = std::stod(cells[static_cast<size_t>(iv)]);
    } catch (const std::exception&) {
      throw IoError(detail::concat(csv.string(), ":", row, ": '", line, "' is not three numbers x, y, intensity"));
    }
    EMGAN_CHECK(IoError, inside(x, y, height, width), csv.string(), ":", row, ": position (x=", x, ", y=", y,
                ") px lies outside the ", width, "x", height, " frame");
    const auto r = std::lround(y), col = std::lround(x);
    s[r][col] += v;
    c[r][col] += 1.0;
    ++probes;
  }
  EMGAN_CHECK(ConfigError, probes > 0, csv.string(), ": no probe positions after the header");
  Rasterised out;
  out.mask = (cnt > 0).to(torch::kFloat32);
  out.scan = (sum / cnt.clamp_min(1.0)).to(torch::kFloat32);
  out.probes = probes;
  return out;
}

torch::Tensor binarize_mask(const torch::Tensor& mask) {
  EMGAN_CHECK(ConfigError, mask.dim() == 2 && mask.numel() > 0, "mask must be a non-empty [H, W] image, got ",
              mask.sizes());
  auto m = mask.to(torch::kFloat32);
  const bool binary = ((m == 0) | (m == 1)).all().item<bool>();
  if (binary) return m;
  EMGAN_CHECK(ConfigError, (m >= 0).all().item<bool>(), "mask has negative weights (min ", m.min().item<double>(),
              "); expected 0/1 or weights in [0, 1]");
  const auto k = std::llround(m.sum().item<double>());
  EMGAN_CHECK(ConfigError, k > 0, "mask weights sum to ", m.sum().item<double>(), "; no sampled pixel");
  auto flat = torch::zeros({m.numel()}, m.options());
  flat.index_fill_(0, std::get<1>(m.flatten().topk(std::min<int64_t>(k, m.numel()))), 1.0);
  return flat.view_as(m);
}

void check_scan_and_mask(const torch::Tensor& scan, const torch::Tensor& mask, const std::string& what) {
  EMGAN_CHECK(ConfigError, scan.dim() >= 2 && mask.dim() >= 2, what, ": scan ", scan.sizes(), " and mask ",
              mask.sizes(), " must be images");
  const auto sh = scan.size(-2), sw = scan.size(-1), mh = mask.size(-2), mw = mask.size(-1);
  EMGAN_CHECK(ConfigError, sh == mh && sw == mw, what, ": the scan is ", sw, "x", sh, " px but the mask is ", mw,
              "x", mh, " px; they must be the same size");
  EMGAN_CHECK(ConfigError, mask.numel() == sh * sw || mask.numel() == scan.numel(), what, ": mask ", mask.sizes(),
              " does not match scan ", scan.sizes());
  auto per = (mask > 0.5).reshape({-1, sh * sw}).sum(1);
  EMGAN_CHECK(ConfigError, per.min().item<int64_t>() > 0, what,
              ": the mask has no sampled pixel (all values <= 0.5); nothing to restore from");
}

}  // namespace emgan::restore
