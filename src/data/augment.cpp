// Tensor augmentation: flips, 90-degree rotations, shift-scale-rotate, noise.
#include "emgan/data/augment.h"

#include <torch/torch.h>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "emgan/core/error.h"

namespace emgan::data {

namespace F = torch::nn::functional;

namespace {

constexpr double kPi = 3.14159265358979323846;

void check_keys(const Json& j, const std::vector<std::string>& allowed, const std::string& type) {
  EMGAN_CHECK(ConfigError, j.is_object(), "augmentation '", type, "': expected a JSON object, got ",
              j.dump());
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (key == "type" || key == "p") continue;
    EMGAN_CHECK(ConfigError, std::find(allowed.begin(), allowed.end(), key) != allowed.end(),
                "augmentation '", type, "': unknown key '", key, "' (known: type, p",
                allowed.empty() ? "" : ", " + join(allowed), ")");
  }
}

double get_p(const Json& j, const std::string& type) {
  const double p = j.value("p", 1.0);
  EMGAN_CHECK(ConfigError, p >= 0.0 && p <= 1.0, "augmentation '", type,
              "': p must be in [0, 1], got ", p);
  return p;
}

class FlipH : public Augmentation {
 public:
  using Augmentation::Augmentation;
  std::string type() const override { return "flip_h"; }
  Json to_json() const override { return Json{{"type", type()}, {"p", p_}}; }

 protected:
  void apply_one(torch::Tensor& in, torch::Tensor& tg, torch::Generator&) const override {
    in = in.flip({-1});
    if (tg.defined()) tg = tg.flip({-1});
  }
};

class FlipV : public Augmentation {
 public:
  using Augmentation::Augmentation;
  std::string type() const override { return "flip_v"; }
  Json to_json() const override { return Json{{"type", type()}, {"p", p_}}; }

 protected:
  void apply_one(torch::Tensor& in, torch::Tensor& tg, torch::Generator&) const override {
    in = in.flip({-2});
    if (tg.defined()) tg = tg.flip({-2});
  }
};

/// k * 90 degrees, k uniform in {0, 1, 2, 3} ({0, 2} for non-square images, so the
/// shape never changes).
class Rot90 : public Augmentation {
 public:
  using Augmentation::Augmentation;
  std::string type() const override { return "rot90"; }
  Json to_json() const override { return Json{{"type", type()}, {"p", p_}}; }

 protected:
  void apply_one(torch::Tensor& in, torch::Tensor& tg, torch::Generator& gen) const override {
    const bool square = in.size(-1) == in.size(-2);
    const int64_t k = square ? uniform_int(gen, 4) : 2 * uniform_int(gen, 2);
    in = rotate90(in, k);
    if (tg.defined()) tg = rotate90(tg, k);
  }
};

class ShiftScaleRotate : public Augmentation {
 public:
  explicit ShiftScaleRotate(const Json& j) : Augmentation(get_p(j, "shift_scale_rotate")) {
    check_keys(
        j,
        {"shift", "scale_min", "scale_max", "rotate_deg", "padding", "fill", "mode", "target_mode"},
        "shift_scale_rotate");
    shift_ = j.value("shift", 0.0625);
    scale_min_ = j.value("scale_min", 0.9);
    scale_max_ = j.value("scale_max", 1.1);
    rotate_deg_ = j.value("rotate_deg", 45.0);
    padding_ = j.value("padding", std::string("reflection"));
    fill_ = j.value("fill", 0.0);
    mode_ = j.value("mode", std::string("bilinear"));
    target_mode_ = j.value("target_mode", std::string("bilinear"));
    EMGAN_CHECK(ConfigError, shift_ >= 0 && shift_ <= 1,
                "shift_scale_rotate: shift must be in [0, 1], got ", shift_);
    EMGAN_CHECK(ConfigError, scale_min_ > 0 && scale_max_ >= scale_min_,
                "shift_scale_rotate: need 0 < scale_min <= scale_max, got ", scale_min_, ", ",
                scale_max_);
    EMGAN_CHECK(ConfigError, rotate_deg_ >= 0 && rotate_deg_ <= 180,
                "shift_scale_rotate: rotate_deg must be in [0, 180], got ", rotate_deg_);
    check_choice("shift_scale_rotate padding", padding_, {"zeros", "border", "reflection"});
    check_choice("shift_scale_rotate mode", mode_, {"bilinear", "nearest"});
    check_choice("shift_scale_rotate target_mode", target_mode_, {"bilinear", "nearest"});
  }
  std::string type() const override { return "shift_scale_rotate"; }
  Json to_json() const override {
    return Json{{"type", type()},          {"p", p_},
                {"shift", shift_},         {"scale_min", scale_min_},
                {"scale_max", scale_max_}, {"rotate_deg", rotate_deg_},
                {"padding", padding_},     {"fill", fill_},
                {"mode", mode_},           {"target_mode", target_mode_}};
  }

 protected:
  void apply_one(torch::Tensor& in, torch::Tensor& tg, torch::Generator& gen) const override {
    const double angle = (2 * uniform(gen) - 1) * rotate_deg_;
    const double scale = scale_min_ + uniform(gen) * (scale_max_ - scale_min_);
    const double sx = (2 * uniform(gen) - 1) * shift_;
    const double sy = (2 * uniform(gen) - 1) * shift_;
    in = affine_warp(in, angle, scale, sx, sy, mode_, padding_, fill_);
    if (tg.defined()) tg = affine_warp(tg, angle, scale, sx, sy, target_mode_, padding_, fill_);
  }

 private:
  double shift_, scale_min_, scale_max_, rotate_deg_;
  std::string padding_;
  double fill_;
  std::string mode_, target_mode_;
};

class GaussianNoise : public Augmentation {
 public:
  explicit GaussianNoise(const Json& j) : Augmentation(get_p(j, "gaussian_noise")) {
    check_keys(j, {"sigma"}, "gaussian_noise");
    sigma_ = j.value("sigma", 0.01);
    EMGAN_CHECK(ConfigError, sigma_ >= 0, "gaussian_noise: sigma must be >= 0, got ", sigma_);
  }
  std::string type() const override { return "gaussian_noise"; }
  Json to_json() const override { return Json{{"type", type()}, {"p", p_}, {"sigma", sigma_}}; }

 protected:
  void apply_one(torch::Tensor& in, torch::Tensor&, torch::Generator& gen) const override {
    in = gaussian_noise(in, sigma_, gen);
  }

 private:
  double sigma_;
};

class PoissonNoise : public Augmentation {
 public:
  explicit PoissonNoise(const Json& j) : Augmentation(get_p(j, "poisson_noise")) {
    check_keys(j, {"dose"}, "poisson_noise");
    dose_ = j.value("dose", 1000.0);
    EMGAN_CHECK(ConfigError, dose_ > 0,
                "poisson_noise: dose (electrons per pixel) must be > 0, got ", dose_);
  }
  std::string type() const override { return "poisson_noise"; }
  Json to_json() const override { return Json{{"type", type()}, {"p", p_}, {"dose", dose_}}; }

 protected:
  void apply_one(torch::Tensor& in, torch::Tensor&, torch::Generator& gen) const override {
    in = poisson_noise(in, dose_, gen);
  }

 private:
  double dose_;
};

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

}  // namespace

void Augmentation::apply(torch::Tensor& input, torch::Tensor& target, torch::Generator& gen) const {
  EMGAN_CHECK(ConfigError, input.defined() && (input.dim() == 3 || input.dim() == 4),
              "augmentation '", type(), "': expected input [C, H, W] or [N, C, H, W], got ",
              input.defined() ? shape_str(input) : std::string("undefined"));
  if (target.defined()) {
    EMGAN_CHECK(ConfigError,
                target.dim() == input.dim() && target.size(-1) == input.size(-1) &&
                    target.size(-2) == input.size(-2) &&
                    (input.dim() == 3 || target.size(0) == input.size(0)),
                "augmentation '", type(), "': target shape ", shape_str(target),
                " does not fit input shape ", shape_str(input));
  }
  if (input.dim() == 3) {
    if (uniform(gen) < p_) apply_one(input, target, gen);
    return;
  }
  std::vector<torch::Tensor> ins, tgs;
  for (int64_t n = 0; n < input.size(0); ++n) {
    torch::Tensor in = input[n];
    torch::Tensor tg = target.defined() ? target[n] : torch::Tensor();
    if (uniform(gen) < p_) apply_one(in, tg, gen);
    ins.push_back(in);
    if (tg.defined()) tgs.push_back(tg);
  }
  input = torch::stack(ins);
  if (target.defined()) target = torch::stack(tgs);
}

Registry<AugmentationPtr, const Json&>& augmentation_registry() {
  static Registry<AugmentationPtr, const Json&> reg = [] {
    Registry<AugmentationPtr, const Json&> r("augmentation");
    r.add(
        "flip_h",
        [](const Json& j) {
          check_keys(j, {}, "flip_h");
          return AugmentationPtr(new FlipH(get_p(j, "flip_h")));
        },
        "mirror left-right");
    r.add(
        "flip_v",
        [](const Json& j) {
          check_keys(j, {}, "flip_v");
          return AugmentationPtr(new FlipV(get_p(j, "flip_v")));
        },
        "mirror top-bottom");
    r.add(
        "rot90",
        [](const Json& j) {
          check_keys(j, {}, "rot90");
          return AugmentationPtr(new Rot90(get_p(j, "rot90")));
        },
        "rotate by a random multiple of 90 degrees (of 180 for non-square images)");
    r.add(
        "shift_scale_rotate",
        [](const Json& j) { return AugmentationPtr(new ShiftScaleRotate(j)); },
        "random affine warp: shift (fraction of size), scale_min..scale_max, +-rotate_deg degrees");
    r.add(
        "gaussian_noise", [](const Json& j) { return AugmentationPtr(new GaussianNoise(j)); },
        "input += sigma * N(0, 1) (input only)");
    r.add(
        "poisson_noise", [](const Json& j) { return AugmentationPtr(new PoissonNoise(j)); },
        "shot noise at dose electrons/pixel for an input in [0, 1] (input only)");
    return r;
  }();
  return reg;
}

Compose Compose::from_json(const Json& j) {
  EMGAN_CHECK(ConfigError, j.is_array(),
              "augmentation pipeline: expected a JSON list of steps, got ", j.dump());
  std::vector<AugmentationPtr> steps;
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& step = j[i];
    try {
      EMGAN_CHECK(ConfigError,
                  step.is_object() && step.contains("type") && step["type"].is_string(),
                  "expected an object with a \"type\", got ", step.dump());
      steps.push_back(augmentation_registry().create(step["type"].get<std::string>(), step));
    } catch (const ConfigError& e) {
      throw ConfigError("augmentation step " + std::to_string(i) + ": " + e.what());
    } catch (const Json::exception& e) {
      throw ConfigError("augmentation step " + std::to_string(i) + ": bad value in " + step.dump() +
                        ": " + e.what());
    }
  }
  return Compose(std::move(steps));
}

Json Compose::to_json() const {
  Json j = Json::array();
  for (const auto& s : steps_) j.push_back(s->to_json());
  return j;
}

void Compose::apply(torch::Tensor& input, torch::Tensor& target, torch::Generator& gen) const {
  for (const auto& s : steps_) s->apply(input, target, gen);
}

Sample Compose::apply(Sample sample, torch::Generator& gen) const {
  apply(sample.input, sample.target, gen);
  return sample;
}

torch::Tensor rotate90(const torch::Tensor& x, int64_t k) {
  return torch::rot90(x, ((k % 4) + 4) % 4, {x.dim() - 2, x.dim() - 1});
}

torch::Tensor affine_warp(const torch::Tensor& x, double angle_deg, double scale, double shift_x,
                          double shift_y, const std::string& mode, const std::string& padding,
                          double fill) {
  EMGAN_CHECK(ConfigError, x.dim() == 3 || x.dim() == 4,
              "affine_warp: expected [C, H, W] or [N, C, H, W], got ", shape_str(x));
  EMGAN_CHECK(ConfigError, scale > 0, "affine_warp: scale must be > 0, got ", scale);
  check_choice("affine_warp mode", mode, {"bilinear", "nearest"});
  check_choice("affine_warp padding", padding, {"zeros", "border", "reflection"});
  const torch::Tensor b = x.dim() == 3 ? x.unsqueeze(0) : x;
  const double h = static_cast<double>(b.size(2)), w = static_cast<double>(b.size(3));
  // Output pixel p_out (pixels from the centre, y down) samples p_in = M (p_out - t),
  // M = R(-angle) / scale; counter-clockwise as displayed. Normalised coordinates are
  // p / (W/2), p / (H/2) (align_corners = false).
  const double a = angle_deg * kPi / 180.0, c = std::cos(a) / scale, s = std::sin(a) / scale;
  const double m00 = c, m01 = -s, m10 = s, m11 = c;
  const double tx = shift_x * w, ty = shift_y * h;
  const double theta_v[6] = {m00,         m01 * h / w, -(m00 * tx + m01 * ty) / (w / 2),
                             m10 * w / h, m11,         -(m10 * tx + m11 * ty) / (h / 2)};
  const auto opts = torch::TensorOptions().dtype(b.scalar_type()).device(b.device());
  const torch::Tensor theta =
      torch::from_blob(const_cast<double*>(theta_v), {1, 2, 3}, torch::kFloat64)
          .to(opts)
          .expand({b.size(0), 2, 3});
  const torch::Tensor grid =
      F::affine_grid(theta, {b.size(0), b.size(1), b.size(2), b.size(3)}, false);
  auto gopts = F::GridSampleFuncOptions().align_corners(false);
  if (mode == "nearest")
    gopts = gopts.mode(torch::kNearest);
  else
    gopts = gopts.mode(torch::kBilinear);
  if (padding == "zeros")
    gopts = gopts.padding_mode(torch::kZeros);
  else if (padding == "border")
    gopts = gopts.padding_mode(torch::kBorder);
  else
    gopts = gopts.padding_mode(torch::kReflection);
  const bool shift_fill = padding == "zeros" && fill != 0.0;
  torch::Tensor out = F::grid_sample(shift_fill ? b - fill : b, grid, gopts);
  if (shift_fill) out = out + fill;
  return x.dim() == 3 ? out.squeeze(0) : out;
}

torch::Tensor gaussian_noise(const torch::Tensor& x, double sigma, torch::Generator& gen) {
  EMGAN_CHECK(ConfigError, sigma >= 0, "gaussian_noise: sigma must be >= 0, got ", sigma);
  const torch::Tensor n =
      torch::randn(x.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32));
  return x + (sigma * n).to(x.device(), x.scalar_type());
}

torch::Tensor poisson_noise(const torch::Tensor& x, double dose, torch::Generator& gen) {
  EMGAN_CHECK(ConfigError, dose > 0, "poisson_noise: dose must be > 0 electrons per pixel, got ",
              dose);
  const torch::Tensor rate =
      (x.detach().to(torch::kCPU, torch::kFloat32).clamp_min(0) * dose).contiguous();
  const torch::Tensor counts = torch::poisson(rate, gen);
  return (counts / dose).to(x.device(), x.scalar_type());
}

}  // namespace emgan::data
