/// \file poly_regression.cpp
/// PolyRegression: window-polynomial features with tensor ops, OLS by accumulated
/// normal equations in float64, Cholesky on the Jacobi-scaled system.
#include "emgan/models/poly.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "emgan/core/error.h"

namespace emgan::models {

namespace {

/// Indices into [0, n) of positions -r .. n-1+r with reflection at the borders
/// without repeating the edge (numpy/torch "reflect"); works for any r (repeated
/// reflection) and n = 1 (all zero).
torch::Tensor reflect_index(int64_t n, int64_t r, const torch::Device& device) {
  std::vector<int64_t> idx(static_cast<size_t>(n + 2 * r));
  const int64_t period = 2 * (n - 1);
  for (int64_t i = -r; i < n + r; ++i) {
    int64_t j = 0;
    if (n > 1) {
      j = ((i % period) + period) % period;
      if (j >= n) j = period - j;
    }
    idx[static_cast<size_t>(i + r)] = j;
  }
  return torch::tensor(idx, torch::dtype(torch::kLong)).to(device);
}

/// Checks and flattens an image argument to [H, W].
torch::Tensor as_2d(const torch::Tensor& t, const std::string& what) {
  EMGAN_CHECK(ConfigError, t.defined(), what, ": undefined tensor, expected [H, W] or [1, H, W]");
  if (t.dim() == 2) return t;
  EMGAN_CHECK(ConfigError, t.dim() == 3 && t.size(0) == 1, what, ": shape ", t.sizes(),
              ", expected [H, W] or [1, H, W]");
  return t[0];
}

bool finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

}  // namespace

const std::vector<std::string>& poly_normalizations() {
  static const std::vector<std::string> names{"none", "max", "mean", "std", "meanstd", "minmax", "dataset"};
  return names;
}

const std::vector<std::string>& poly_cross_terms() {
  static const std::vector<std::string> names{"none", "centre", "near", "all"};
  return names;
}

void validate(const PolyOptions& o) {
  EMGAN_CHECK(ConfigError, o.window() >= 1 && o.window() <= 7 && o.window() % 2 == 1,
              "poly option window = ", o.window(), ": expected an odd window side 1, 3, 5 or 7");
  EMGAN_CHECK(ConfigError, o.degree() >= 1 && o.degree() <= 6, "poly option degree = ", o.degree(),
              ": expected a polynomial degree 1..6");
  check_choice("poly option cross", o.cross(), poly_cross_terms());
  check_choice("poly option normalization", o.normalization(), poly_normalizations());
  EMGAN_CHECK(ConfigError, !(o.cross() == "near" && o.window() < 3),
              "poly option cross = near needs window >= 3, got window = ", o.window());
  EMGAN_CHECK(ConfigError, !(o.cross() == "all" && o.window() > 5),
              "poly option cross = all with window = ", o.window(),
              ": expected window <= 5 (a 7x7 window has 1176 pair products)");
  EMGAN_CHECK(ConfigError, !(o.cross() != "none" && o.window() == 1),
              "poly option cross = ", o.cross(), " needs window >= 3, got window = 1");
  EMGAN_CHECK(ConfigError, o.log_eps() > 0 && std::isfinite(o.log_eps()), "poly option log_eps = ", o.log_eps(),
              ": expected > 0");
  EMGAN_CHECK(ConfigError, o.ridge() > 0 && std::isfinite(o.ridge()), "poly option ridge = ", o.ridge(),
              ": expected > 0");
  const std::string& n = o.normalization();
  EMGAN_CHECK(ConfigError, !o.scale_output() || n == "max" || n == "mean" || n == "std",
              "poly option scale_output = true with normalization = ", n,
              ": expected normalization max, mean or std (a per-image scale without offset)");
}

Json poly_options_to_json(const PolyOptions& o) {
  return Json{{"window", o.window()},       {"degree", o.degree()},
              {"cross", o.cross()},         {"log_centre", o.log_centre()},
              {"log_eps", o.log_eps()},     {"normalization", o.normalization()},
              {"scale_output", o.scale_output()}, {"ridge", o.ridge()}};
}

PolyOptions poly_options_from_json(const Json& j, const std::string& source) {
  const Json defaults = poly_options_to_json(PolyOptions{});
  EMGAN_CHECK(ConfigError, j.is_object(), source, ": expected a JSON object of poly options, got ", j.dump());
  check_settings_keys(j, defaults, source);
  Json m = defaults;
  m.merge_patch(j);
  PolyOptions o;
  try {
    o.window(m.at("window").get<int64_t>())
        .degree(m.at("degree").get<int64_t>())
        .cross(m.at("cross").get<std::string>())
        .log_centre(m.at("log_centre").get<bool>())
        .log_eps(m.at("log_eps").get<double>())
        .normalization(m.at("normalization").get<std::string>())
        .scale_output(m.at("scale_output").get<bool>())
        .ridge(m.at("ridge").get<double>());
  } catch (const Json::exception& e) {
    throw ConfigError(source + ": " + e.what());
  }
  try {
    validate(o);
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": " + e.what());
  }
  return o;
}

PolyRegression::PolyRegression(PolyOptions options) : options_(std::move(options)) { validate(options_); }

int64_t PolyRegression::num_features() const {
  const int64_t k2 = options_.window() * options_.window();
  int64_t n = options_.degree() * k2;
  if (options_.cross() == "centre") n += k2 - 1;
  if (options_.cross() == "near") n += 36;
  if (options_.cross() == "all") n += k2 * (k2 - 1) / 2;
  if (options_.log_centre()) n += 1;
  return n + 1;
}

torch::Tensor PolyRegression::features(const torch::Tensor& normalized) const {
  const torch::Tensor x = as_2d(normalized, "poly features").to(torch::kDouble);
  const int64_t h = x.size(0), w = x.size(1), k = options_.window(), r = k / 2;
  const torch::Tensor padded =
      x.index_select(0, reflect_index(h, r, x.device())).index_select(1, reflect_index(w, r, x.device()));
  std::vector<torch::Tensor> win;
  win.reserve(static_cast<size_t>(k * k));
  for (int64_t dy = 0; dy < k; ++dy)
    for (int64_t dx = 0; dx < k; ++dx) win.push_back(padded.slice(0, dy, dy + h).slice(1, dx, dx + w).reshape({-1}));
  const int64_t c = (k * k) / 2;
  std::vector<torch::Tensor> cols;
  cols.reserve(static_cast<size_t>(num_features()));
  for (int64_t p = 1; p <= options_.degree(); ++p)
    for (const auto& v : win) cols.push_back(p == 1 ? v : v.pow(p));
  if (options_.cross() == "centre") {
    for (int64_t j = 0; j < k * k; ++j)
      if (j != c) cols.push_back(win[c] * win[j]);
  } else if (options_.cross() == "near") {
    std::vector<int64_t> near;
    for (int64_t dy = -1; dy <= 1; ++dy)
      for (int64_t dx = -1; dx <= 1; ++dx) near.push_back((dy + r) * k + (dx + r));
    for (size_t a = 0; a < near.size(); ++a)
      for (size_t b = a + 1; b < near.size(); ++b) cols.push_back(win[near[a]] * win[near[b]]);
  } else if (options_.cross() == "all") {
    for (int64_t a = 0; a < k * k; ++a)
      for (int64_t b = a + 1; b < k * k; ++b) cols.push_back(win[a] * win[b]);
  }
  if (options_.log_centre()) {
    const double amax = std::max(x.abs().max().item<double>(), 1e-300);
    cols.push_back(torch::log(torch::clamp_min(win[c], options_.log_eps() * amax)));
  }
  cols.push_back(torch::ones({h * w}, x.options()));
  return torch::stack(cols, 1);
}

torch::Tensor PolyRegression::normalize(const torch::Tensor& image, double* scale) const {
  const torch::Tensor x = as_2d(image, "poly input").to(torch::kDouble);
  const std::string& n = options_.normalization();
  double offset = 0.0, s = 1.0;
  if (n == "max") {
    s = x.max().item<double>();
  } else if (n == "mean") {
    s = x.mean().item<double>();
  } else if (n == "std" || n == "meanstd") {
    const double mean = x.mean().item<double>();
    s = std::sqrt((x - mean).square().mean().item<double>());  // population std
    if (n == "meanstd") offset = mean;
  } else if (n == "minmax") {
    offset = x.min().item<double>();
    s = x.max().item<double>() - offset;
  } else if (n == "dataset") {
    s = dataset_scale_;
  }
  EMGAN_CHECK(Error, std::isfinite(s) && s > 0, "poly input: normalization '", n, "' has scale ", s,
              " (a constant, empty or non-positive image?); expected a positive finite scale");
  if (scale != nullptr) *scale = options_.scale_output() ? s : 1.0;
  return (x - offset) / s;
}

double PolyRegression::group_gain(const std::string& group) const {
  const auto it = group_gains_.find(group);
  return it == group_gains_.end() ? pooled_gain_ : it->second;
}

void PolyRegression::fit(const std::vector<torch::Tensor>& inputs, const std::vector<torch::Tensor>& targets,
                         const std::vector<std::string>& groups) {
  EMGAN_CHECK(ConfigError, !inputs.empty(), "poly fit: no training pairs");
  EMGAN_CHECK(ConfigError, inputs.size() == targets.size(), "poly fit: ", inputs.size(), " inputs but ",
              targets.size(), " targets");
  EMGAN_CHECK(ConfigError, groups.empty() || groups.size() == inputs.size(), "poly fit: ", groups.size(),
              " group names for ", inputs.size(), " pairs; expected none or one per pair");
  std::vector<torch::Tensor> xs, ys;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string what = "poly fit pair " + std::to_string(i);
    xs.push_back(as_2d(inputs[i], what + " input").to(torch::kDouble));
    ys.push_back(as_2d(targets[i], what + " target").to(xs.back().device(), torch::kDouble));
    EMGAN_CHECK(ConfigError, xs.back().sizes() == ys.back().sizes(), what, ": input shape ", xs.back().sizes(),
                " differs from target shape ", ys.back().sizes());
    EMGAN_CHECK(ConfigError, xs.back().numel() > 0, what, ": empty image");
    EMGAN_CHECK(Error, finite(xs.back()), what, ": input has NaN or Inf values");
    EMGAN_CHECK(Error, finite(ys.back()), what, ": target has NaN or Inf values");
  }

  // Everything fitted below comes from these training pairs only.
  dataset_scale_ = 1.0;
  if (options_.normalization() == "dataset") {
    double m = 0.0;
    for (const auto& x : xs) m = std::max(m, x.max().item<double>());
    EMGAN_CHECK(Error, m > 0, "poly fit: normalization 'dataset': largest training input is ", m,
                "; expected > 0");
    dataset_scale_ = m;
  }
  group_gains_.clear();
  pooled_gain_ = 1.0;
  if (!groups.empty()) {
    std::map<std::string, std::pair<double, double>> sums;  // group -> (sum y, sum x)
    double sy = 0.0, sx = 0.0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double y = ys[i].sum().item<double>(), x = xs[i].sum().item<double>();
      sums[groups[i]].first += y;
      sums[groups[i]].second += x;
      sy += y;
      sx += x;
    }
    EMGAN_CHECK(Error, sx > 0 && sy > 0, "poly fit: group gains need positive input and target sums, got ", sx,
                " and ", sy);
    pooled_gain_ = sy / sx;
    for (const auto& [g, s] : sums) {
      EMGAN_CHECK(Error, s.first > 0 && s.second > 0, "poly fit: group '", g,
                  "' has non-positive input or target sum (", s.second, ", ", s.first, ")");
      group_gains_[g] = s.first / s.second;
    }
  }

  const int64_t nf = num_features();
  const auto dev = xs.front().device();
  torch::Tensor gram = torch::zeros({nf, nf}, torch::dtype(torch::kDouble).device(dev));
  torch::Tensor rhs = torch::zeros({nf}, gram.options());
  training_pixels_ = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double s = 1.0;
    const torch::Tensor xn = normalize(xs[i].to(dev), &s);
    const double g = groups.empty() ? 1.0 : group_gains_.at(groups[i]);
    const torch::Tensor f = features(xn);
    gram += f.t().mm(f);
    rhs += f.t().mv(ys[i].to(dev).reshape({-1}) / (s * g));
    training_pixels_ += f.size(0);
  }

  // Jacobi scaling: columns of very different magnitude (x^1 .. x^d of an unnormalised
  // image span many decades) become unit-diagonal before the factorisation.
  const torch::Tensor d = torch::sqrt(torch::clamp_min(gram.diagonal(), 1e-300));
  const torch::Tensor scaled = gram / torch::outer(d, d);
  const torch::Tensor b = (rhs / d).unsqueeze(1);
  auto chol = torch::linalg_cholesky_ex(scaled, /*upper=*/false, /*check_errors=*/false);
  ridge_used_ = std::get<1>(chol).item<int64_t>() != 0;
  torch::Tensor l = std::get<0>(chol);
  if (ridge_used_) {
    chol = torch::linalg_cholesky_ex(scaled + options_.ridge() * torch::eye(nf, scaled.options()), false, false);
    EMGAN_CHECK(Error, std::get<1>(chol).item<int64_t>() == 0, "poly fit: the normal equations of ", nf,
                " features are singular even with ridge ", options_.ridge(),
                "; use fewer features (window, degree, cross) or more training pixels");
    l = std::get<0>(chol);
  }
  const torch::Tensor z = torch::cholesky_solve(b, l).squeeze(1);
  coefficients_ = (z / d).contiguous();
  EMGAN_CHECK(Error, finite(coefficients_), "poly fit: the solution has NaN or Inf coefficients");
}

torch::Tensor PolyRegression::predict(const torch::Tensor& input, const std::string& group) const {
  EMGAN_CHECK(Error, fitted(), "poly predict: the model is not fitted");
  const torch::Tensor x = as_2d(input, "poly predict input");
  EMGAN_CHECK(ConfigError, x.numel() > 0, "poly predict input: empty image ", input.sizes());
  EMGAN_CHECK(Error, finite(x), "poly predict input: NaN or Inf values");
  double s = 1.0;
  const torch::Tensor xn = normalize(x, &s);
  const torch::Tensor y =
      features(xn).mv(coefficients_.to(xn.device())).reshape({x.size(0), x.size(1)}) * (s * group_gain(group));
  const auto dtype = torch::isFloatingType(input.scalar_type()) ? input.scalar_type() : torch::kFloat;
  return y.to(dtype).reshape(input.sizes());
}

Json PolyRegression::to_json() const {
  Json gains = Json::object();
  for (const auto& [g, v] : group_gains_) gains[g] = v;
  std::vector<double> beta;
  if (fitted()) {
    const torch::Tensor c = coefficients_.to(torch::kCPU).contiguous();
    beta.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  return Json{{"format", kFormat},
              {"version", 1},
              {"options", poly_options_to_json(options_)},
              {"dataset_scale", dataset_scale_},
              {"group_gains", gains},
              {"pooled_gain", pooled_gain_},
              {"ridge_used", ridge_used_},
              {"training_pixels", training_pixels_},
              {"num_features", num_features()},
              {"coefficients", beta}};
}

PolyRegression PolyRegression::from_json(const Json& j, const std::string& source) {
  EMGAN_CHECK(IoError, j.is_object() && j.contains("format") && j["format"] == kFormat, source,
              ": not a polynomial model file (expected \"format\": \"", kFormat, "\", got ",
              (j.is_object() && j.contains("format") ? j["format"].dump() : std::string("no format tag")), ")");
  try {
    EMGAN_CHECK(IoError, j.at("version").get<int>() == 1, source, ": poly model version ", j.at("version").dump(),
                ", expected 1");
    PolyRegression m(poly_options_from_json(j.at("options"), source + " options"));
    m.dataset_scale_ = j.at("dataset_scale").get<double>();
    m.pooled_gain_ = j.at("pooled_gain").get<double>();
    m.ridge_used_ = j.at("ridge_used").get<bool>();
    m.training_pixels_ = j.at("training_pixels").get<int64_t>();
    for (const auto& [g, v] : j.at("group_gains").items()) m.group_gains_[g] = v.get<double>();
    const auto beta = j.at("coefficients").get<std::vector<double>>();
    EMGAN_CHECK(IoError, static_cast<int64_t>(beta.size()) == m.num_features(), source, ": ", beta.size(),
                " coefficients, expected ", m.num_features(), " for its options");
    m.coefficients_ = torch::tensor(beta, torch::dtype(torch::kDouble));
    return m;
  } catch (const Json::exception& e) {
    throw IoError(source + ": malformed poly model: " + e.what());
  }
}

void PolyRegression::save(const fs::path& path) const {
  EMGAN_CHECK(Error, fitted(), path.string(), ": cannot save a poly model that is not fitted");
  write_text_atomic(path, to_json().dump(1) + "\n");
}

PolyRegression PolyRegression::load(const fs::path& path) {
  const std::string text = read_text(path);
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw IoError(path.string() + ": not a polynomial model file (not JSON: " + e.what() + ")");
  }
  return from_json(j, path.string());
}

}  // namespace emgan::models
