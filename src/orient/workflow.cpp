#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/orient/angles.h"
#include "emgan/orient/orient.h"
#include "emgan/orient/polyhedra.h"
#include "emgan/orient/render.h"
#include "emgan/report/metrics_log.h"
#include "emgan/report/report.h"
#include "emgan/train/checkpoint.h"

namespace emgan::orient {

namespace {

std::string fmt(double v, int prec = 2) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

/// Reads the named tensors of a torch archive; IoError naming the file and entry.
std::vector<torch::Tensor> read_tensors(const fs::path& path, const std::vector<std::string>& names,
                                        const torch::Device& device) {
  torch::serialize::InputArchive ar;
  train::read_archive(path, ar, device);
  std::vector<torch::Tensor> out;
  for (const auto& name : names) {
    torch::Tensor t;
    EMGAN_CHECK(IoError, ar.try_read(name, t), path.string(), ": no tensor '", name, "' (expected a file written by `emgan orient data`)");
    out.push_back(t);
  }
  return out;
}

void write_tensors(const fs::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& items,
                   const Json& meta = Json()) {
  torch::serialize::OutputArchive ar;
  if (!meta.is_null()) ar.write("meta", c10::IValue(meta.dump()));
  for (const auto& kv : items) ar.write(kv.first, kv.second.cpu());
  train::write_archive_atomic(path, ar);
}

struct Pairs {
  torch::Tensor a, b, offset_deg, order, dose;
  std::string kind = "polygon";  ///< data kind (pairs.pt "meta"; absent = polygon)
  torch::Tensor offset_rot;      ///< polyhedron3d: R_off `[N, 3, 3]`
};

const std::vector<std::string>& data_kinds() {
  static const std::vector<std::string> kinds{"polygon", "projection1d", "polyhedron", "polyhedron3d"};
  return kinds;
}

/// The folded kinds fix only theta modulo 360/n folded to [0, 180/n] (angles.h).
bool is_folded(const std::string& kind) { return kind == "projection1d" || kind == "polyhedron"; }

/// Full 3D orientation: rotations (6D head), errors modulo the group and the twin.
bool is_rotation(const std::string& kind) { return kind == "polyhedron3d"; }

/// Samples are 1D profiles `[N, 1, S]` (1) or images `[N, 1, S, S]` (2).
int64_t kind_dims(const std::string& kind) { return kind == "projection1d" ? 1 : 2; }

/// The "kind" of a pairs.pt "meta" entry; "polygon" when there is none (older folders).
std::string read_kind(const fs::path& path) {
  torch::serialize::InputArchive ar;
  train::read_archive(path, ar, torch::Device(torch::kCPU));
  c10::IValue v;
  if (!ar.try_read("meta", v)) return "polygon";
  Json meta = Json::parse(v.isString() ? v.toStringRef() : std::string(), nullptr, false);
  EMGAN_CHECK(IoError, !meta.is_discarded() && meta.is_object() && meta.contains("kind") && meta["kind"].is_string(),
              path.string(), ": unreadable 'meta' entry (expected {\"kind\": ...})");
  const auto kind = meta["kind"].get<std::string>();
  const auto& ok = data_kinds();
  EMGAN_CHECK(IoError, std::find(ok.begin(), ok.end(), kind) != ok.end(), path.string(), ": unknown data kind '", kind,
              "' (expected ", join(ok, ", "), ")");
  return kind;
}

Pairs load_pairs(const fs::path& dir, const torch::Device& device) {
  const auto t = read_tensors(dir / "pairs.pt", {"a", "b", "offset_deg", "order", "dose"}, device);
  Pairs p{t[0], t[1], t[2], t[3], t[4], read_kind(dir / "pairs.pt"), {}};
  const auto n = p.a.size(0);
  if (is_rotation(p.kind)) {
    p.offset_rot = read_tensors(dir / "pairs.pt", {"offset_rot"}, device)[0];
    EMGAN_CHECK(IoError, p.offset_rot.dim() == 3 && p.offset_rot.size(0) == n && p.offset_rot.size(1) == 3 &&
                             p.offset_rot.size(2) == 3,
                (dir / "pairs.pt").string(), ": offset_rot of shape ", p.offset_rot.sizes(), ", expected [", n, ", 3, 3]");
  }
  const int64_t dim = kind_dims(p.kind) + 2;
  EMGAN_CHECK(IoError, p.a.dim() == dim && p.a.sizes() == p.b.sizes() && p.offset_deg.size(0) == n &&
                           p.order.size(0) == n && p.dose.size(0) == n,
              (dir / "pairs.pt").string(), ": inconsistent shapes (a ", p.a.sizes(), ", b ", p.b.sizes(),
              ") for data kind '", p.kind, "' (expected ", dim, "-D samples)");
  return p;
}

/// Preprocesses in chunks (bounded memory): images with `preprocess`, profiles `[N, 1, L]`
/// with `preprocess_profiles`.
torch::Tensor preprocess_all(const torch::Tensor& raw, double sigma) {
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < raw.size(0); i += 512) {
    const auto x = raw.slice(0, i, i + 512);
    parts.push_back(x.dim() == 3 ? preprocess_profiles(x, sigma) : preprocess(x, sigma));
  }
  return torch::cat(parts);
}

torch::Tensor pick_order(const torch::Tensor& out, const torch::Tensor& order, int64_t min_order) {
  const auto idx = (order.to(out.device(), torch::kLong) - min_order).view({-1, 1, 1}).expand({-1, 1, out.size(2)});
  return out.gather(1, idx).squeeze(1);
}

/// Network output `[N, 3]` of each image's own order -> angle in degrees (before the zero fix).
torch::Tensor head_to_angle(const torch::Tensor& head, const torch::Tensor& order, const std::string& angle_loss) {
  if (angle_loss == "mse") {
    const auto period = symmetry_period_deg(order.to(head.device()));
    return wrap_angle(head.select(1, 0) * period, period);
  }
  return decode_angle(head.slice(1, 0, 2), order);
}

/// The network's angle of each preprocessed image `x` (raw, before the zero), averaged
/// over the image turned to `views` evenly spaced angles (circular mean, period 360/n);
/// views <= 1: one pass.
torch::Tensor view_averaged_angles(OrientNet& net, const torch::Tensor& x, const torch::Tensor& order, int64_t views,
                                   const std::string& angle_loss) {
  if (views <= 1) return head_to_angle(net->forward_order(x, order), order, angle_loss);
  std::vector<torch::Tensor> turned_angles;
  for (int64_t j = 0; j < views; ++j) {
    const double phi = 360.0 * static_cast<double>(j) / static_cast<double>(views);
    const auto turned = j == 0 ? x : rotate_images(x, torch::full({x.size(0)}, phi, x.options()));
    turned_angles.push_back(head_to_angle(net->forward_order(turned, order), order, angle_loss) + phi);
  }
  return circular_mean_deg(torch::stack(turned_angles, 1), order);
}

/// The "meta" JSON text of an orientation checkpoint or model archive.
Json read_meta(const fs::path& path) {
  torch::serialize::InputArchive ar;
  train::read_archive(path, ar, torch::Device(torch::kCPU));
  c10::IValue v;
  EMGAN_CHECK(IoError, ar.try_read("meta", v) && v.isString(), path.string(),
              ": not an emgan orientation file (no 'meta' entry)");
  Json meta = Json::parse(v.toStringRef(), nullptr, false);
  EMGAN_CHECK(IoError, !meta.is_discarded() && meta.is_object(), path.string(), ": unreadable 'meta' entry");
  return meta;
}

Json model_meta(const TrainSettings& s, const OrientNetOptions& o, const std::vector<double>& zero,
                const std::string& kind, const std::vector<double>& zero_rot) {
  return Json{{"format", "emgan-orient-1"}, {"method", s.method}, {"angle_loss", s.angle_loss},
              {"size", o.size()}, {"min_order", o.min_order()}, {"max_order", o.max_order()},
              {"width", o.width()}, {"dims", o.dims()}, {"outputs", o.outputs()}, {"kind", kind},
              {"denoise_sigma", s.denoise_sigma}, {"zero_deg", zero}, {"zero_rot", zero_rot}};
}

/// The 6D head outputs `[N, 6]` -> rotations `[N, 3, 3]`.
torch::Tensor head_to_rotation(const torch::Tensor& head) { return rotation_from_6d(head.slice(1, 0, 6)); }

/// (|a| - 1)^2 + (|b| - 1)^2 of the two 3-vectors of a 6D head `[N, 6]`, mean over N:
/// keeps Gram-Schmidt away from tiny vectors (it is scale invariant).
torch::Tensor norm_penalty_6d(const torch::Tensor& head) {
  return (head.slice(1, 0, 3).norm(2, 1) - 1.0).pow(2).mean() + (head.slice(1, 3, 6).norm(2, 1) - 1.0).pow(2).mean();
}

/// A loss over shapes: `fn(mask, group)` for each rotation group present in `order`
/// `[N]` (group sizes), weighted by its share of the batch.
template <typename Fn>
torch::Tensor per_group(const torch::Tensor& order, Fn fn) {
  const auto ou = std::get<0>(at::_unique(order.cpu()));
  torch::Tensor total;
  for (int64_t i = 0; i < ou.numel(); ++i) {
    const int64_t k = ou[i].item<int64_t>();
    const auto m = order == k;
    const double share = m.sum().item<double>() / static_cast<double>(order.size(0));
    const auto l = fn(m, group_of_order(k)) * share;
    total = total.defined() ? total + l : l;
  }
  return total;
}

}  // namespace

// ----------------------------------------------------------------------------- model

OrientNetImpl::OrientNetImpl(OrientNetOptions opts) : options(std::move(opts)) {
  EMGAN_CHECK(ConfigError, options.size() >= 16 && options.size() % 16 == 0, "OrientNet: size ", options.size(),
              " must be a multiple of 16");
  EMGAN_CHECK(ConfigError, options.min_order() >= 1 && options.max_order() >= options.min_order(),
              "OrientNet: orders ", options.min_order(), "..", options.max_order(), " must satisfy 1 <= min <= max");
  EMGAN_CHECK(ConfigError, options.width() >= 1, "OrientNet: width ", options.width(), " must be >= 1");
  EMGAN_CHECK(ConfigError, options.dims() == 1 || options.dims() == 2, "OrientNet: dims ", options.dims(),
              " must be 1 (profiles, Conv1d) or 2 (images, Conv2d)");
  EMGAN_CHECK(ConfigError, options.outputs() == 3 || options.outputs() == 6, "OrientNet: outputs ", options.outputs(),
              " must be 3 (phase and size code) or 6 (a 6D rotation)");
  namespace nn = torch::nn;
  const int64_t w = options.width();
  const bool one_d = options.dims() == 1;
  auto conv = [one_d](int64_t in, int64_t out, int64_t k) {
    if (one_d) return nn::AnyModule(nn::Conv1d(nn::Conv1dOptions(in, out, k).stride(2).padding(k / 2)));
    return nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(2).padding(k / 2)));
  };
  // The 1D variant uses leaky ReLUs: with plain ReLUs the small profile network
  // often went dead in the first epoch of siamese training (a constant output).
  auto act = [one_d]() {
    if (one_d) return nn::AnyModule(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.1)));
    return nn::AnyModule(nn::ReLU());
  };
  features_ = nn::Sequential();
  features_->push_back(conv(1, w, 5));
  features_->push_back(act());
  features_->push_back(conv(w, 2 * w, 3));
  features_->push_back(act());
  features_->push_back(conv(2 * w, 4 * w, 3));
  features_->push_back(act());
  features_->push_back(conv(4 * w, 4 * w, 3));
  features_->push_back(act());
  features_->push_back(nn::Flatten());
  const int64_t side = options.size() / 16;
  const int64_t orders = options.max_order() - options.min_order() + 1;
  const int64_t flat = 4 * w * (one_d ? side : side * side);
  head_ = nn::Sequential();
  head_->push_back(nn::Linear(flat, 128));
  head_->push_back(act());
  head_->push_back(nn::Linear(128, orders * options.outputs()));
  register_module("features", features_);
  register_module("head", head_);
}

torch::Tensor OrientNetImpl::forward(const torch::Tensor& x) {
  const int64_t orders = options.max_order() - options.min_order() + 1;
  return head_->forward(features_->forward(x)).view({x.size(0), orders, options.outputs()});
}

torch::Tensor OrientNetImpl::forward_order(const torch::Tensor& x, const torch::Tensor& order) {
  return pick_order(forward(x), order, options.min_order());
}

std::string EvalSummary::last_line() const {
  if (rotation)
    return "orient eval: N=" + std::to_string(count) + " geodesic error mod group: median=" + fmt(median_error, 1) +
           "deg p90=" + fmt(p90_error, 1) + "deg mean=" + fmt(mean_error, 1) + "deg within5=" + fmt(100 * within_5, 1) +
           "% within10=" + fmt(100 * within_10, 1) + "% within15=" + fmt(100 * within_15, 1) +
           "% (chance median=" + fmt(chance_median_error, 1) + "deg; prediction spread median=" +
           fmt(spread_median_error, 1) + "deg; pair residual median=" + fmt(pair_residual_median, 1) + "deg)";
  return "orient eval: N=" + std::to_string(count) + " within2=" + fmt(100 * within_2, 1) +
         "% within5=" + fmt(100 * within_5, 1) + "% mean=" + fmt(mean_error, 2) + "deg median=" +
         fmt(median_error, 2) + "deg (chance within5=" + fmt(100 * chance_within_5, 1) +
         "%; best per-shape zero: within2=" + fmt(100 * within_2_best_zero, 1) + "% within5=" +
         fmt(100 * within_5_best_zero, 1) + "%)";
}

// ----------------------------------------------------------------------------- data

void validate(const DataSettings& s) {
  check_choice("orient data: kind", s.kind, data_kinds());
  if (s.kind == "polyhedron3d") {
    EMGAN_CHECK(ConfigError, !s.polyhedra.empty(), "orient data: polyhedra must list at least one shape (",
                join(polyhedron_names(), ", "), ")");
    std::vector<std::string> groups;
    for (const auto& name : s.polyhedra) {
      check_choice("orient data: polyhedron", name, polyhedron_names());
      const auto g = make_polyhedron(name).group;
      EMGAN_CHECK(ConfigError, std::find(groups.begin(), groups.end(), g) == groups.end(), "orient data: polyhedron '",
                  name, "' has the rotation group ", g,
                  " of another listed shape; a polyhedron3d mix needs distinct groups (the network keys its heads by group size)");
      groups.push_back(g);
    }
    EMGAN_CHECK(ConfigError, s.offset_min_deg >= 0 && s.offset_max_deg > 0 && s.offset_max_deg <= 90,
                "orient data: polyhedron3d tilt offset_min_deg ", s.offset_min_deg, " .. offset_max_deg ",
                s.offset_max_deg, " must satisfy 0 <= min <= max, 0 < max <= 90 degrees");
  }
  if (s.kind == "polyhedron") {
    EMGAN_CHECK(ConfigError, !s.polyhedra.empty(), "orient data: polyhedra must list at least one shape (",
                join(polyhedron_names(), ", "), ")");
    std::vector<int64_t> orders;
    for (const auto& name : s.polyhedra) {
      check_choice("orient data: polyhedron", name, polyhedron_names());
      const auto k = tilt_order(name);
      EMGAN_CHECK(ConfigError, std::find(orders.begin(), orders.end(), k) == orders.end(), "orient data: polyhedron '",
                  name, "' has the tilt symmetry order ", k,
                  " of another listed shape; a mix needs distinct orders (the network keys its heads by order)");
      orders.push_back(k);
    }
  }
  EMGAN_CHECK(ConfigError, s.count >= 1, "orient data: count ", s.count, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.size >= 16 && s.size % 16 == 0, "orient data: size ", s.size, " must be a multiple of 16");
  EMGAN_CHECK(ConfigError, s.min_sides >= 3 && s.max_sides >= s.min_sides && s.max_sides <= 12,
              "orient data: sides ", s.min_sides, "..", s.max_sides, " must satisfy 3 <= min <= max <= 12");
  EMGAN_CHECK(ConfigError, s.radius_min > 0 && s.radius_max >= s.radius_min && s.radius_max + s.position_jitter < 0.5,
              "orient data: radius ", s.radius_min, "..", s.radius_max, " (+ jitter ", s.position_jitter,
              ") must be > 0 and keep the particle inside the image (< 0.5)");
  EMGAN_CHECK(ConfigError, s.offset_max_deg >= s.offset_min_deg, "orient data: offset_max_deg ", s.offset_max_deg,
              " must be >= offset_min_deg ", s.offset_min_deg);
  EMGAN_CHECK(ConfigError, !s.doses.empty(), "orient data: doses must list at least one dose");
  EMGAN_CHECK(ConfigError, s.gaussian_sigma >= 0, "orient data: gaussian_sigma ", s.gaussian_sigma, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.supersample >= 1, "orient data: supersample ", s.supersample, " must be >= 1");
}

namespace {

/// What one data kind generates (all on one device; a, b and ref raw, before noise
/// for ref).
struct Generated {
  torch::Tensor a, b, offset, order, dose;                   // pairs.pt
  torch::Tensor theta_a, theta_b, radius, cx, cy;            // labels.pt
  torch::Tensor ref, ref_order;                              // reference.pt
  torch::Tensor rot_a, rot_b, offset_axis, offset_rot;       // polyhedron3d only
};

/// The per-pair random draws shared by all kinds, in the order the polygon kind has
/// always drawn them (so its files stay byte-identical for a seed).
struct Draws {
  torch::Tensor order, theta_a, offset, theta_b, radius, cx, cy, sx, sy, dose;
};

Draws draw(const DataSettings& s, const torch::Tensor& order, const torch::TensorOptions& fo) {
  const int64_t n = s.count;
  auto uniform = [&](double lo, double hi) { return torch::rand({n}, fo) * (hi - lo) + lo; };
  Draws d;
  d.order = order;
  const auto period = symmetry_period_deg(order);
  d.theta_a = torch::rand({n}, fo) * period;
  d.offset = uniform(s.offset_min_deg, s.offset_max_deg);
  d.theta_b = wrap_angle(d.theta_a + d.offset, period);
  d.radius = uniform(s.radius_min, s.radius_max) * s.size;
  d.cx = uniform(-s.position_jitter, s.position_jitter) * s.size;
  d.cy = uniform(-s.position_jitter, s.position_jitter) * s.size;
  d.sx = uniform(-s.stereo_shift_px, s.stereo_shift_px);
  d.sy = uniform(-s.stereo_shift_px, s.stereo_shift_px);
  const auto doses = torch::tensor(s.doses, torch::kFloat64).to(fo);
  d.dose = doses.index_select(0, torch::randint(0, static_cast<int64_t>(s.doses.size()), {n}, fo.dtype(torch::kLong)));
  return d;
}

/// Shot + Gaussian noise on the images of both sides of the pairs, in chunks of 256 pairs,
/// a then b per chunk (the order of random draws the generated files depend on).
std::pair<torch::Tensor, torch::Tensor> noisy_pair(const torch::Tensor& a, const torch::Tensor& b,
                                                   const torch::Tensor& dose, double sigma) {
  std::vector<torch::Tensor> an, bn;
  for (int64_t i = 0; i < a.size(0); i += 256) {
    an.push_back(add_noise(a.slice(0, i, i + 256), dose.slice(0, i, i + 256), sigma));
    bn.push_back(add_noise(b.slice(0, i, i + 256), dose.slice(0, i, i + 256), sigma));
  }
  return {torch::cat(an), torch::cat(bn)};
}

Generated generate_polygons(const DataSettings& s, const torch::TensorOptions& fo) {
  const int64_t n = s.count;
  const auto order = torch::randint(s.min_sides, s.max_sides + 1, {n}, fo.dtype(torch::kLong));
  const Draws d = draw(s, order, fo);
  const auto intensity = torch::ones({n}, fo);
  std::vector<torch::Tensor> as, bs;
  Progress progress("orient data", n, "pair");
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t j = std::min(n, i + 256);
    auto sl = [&](const torch::Tensor& t) { return t.slice(0, i, j); };
    PolygonBatch pa{sl(order), sl(d.theta_a), sl(d.radius), sl(d.cx), sl(d.cy), sl(intensity)};
    PolygonBatch pb{sl(order), sl(d.theta_b), sl(d.radius), sl(d.cx) + sl(d.sx), sl(d.cy) + sl(d.sy), sl(intensity)};
    as.push_back(add_noise(render_polygons(pa, s.size, s.supersample), sl(d.dose), s.gaussian_sigma));
    bs.push_back(add_noise(render_polygons(pb, s.size, s.supersample), sl(d.dose), s.gaussian_sigma));
    progress.update(j, "", j - i);
  }
  progress.finish();
  // One clean reference per shape at the zero orientation, mid-size, centred.
  const int64_t k = s.max_sides - s.min_sides + 1;
  const auto ref_order = torch::arange(s.min_sides, s.max_sides + 1, fo.dtype(torch::kLong));
  PolygonBatch pr{ref_order, torch::zeros({k}, fo), torch::full({k}, 0.5 * (s.radius_min + s.radius_max) * s.size, fo),
                  torch::zeros({k}, fo), torch::zeros({k}, fo), torch::ones({k}, fo)};
  return {torch::cat(as), torch::cat(bs), d.offset, order, d.dose, d.theta_a, d.theta_b, d.radius, d.cx, d.cy,
          render_polygons(pr, s.size, s.supersample), ref_order, {}, {}, {}, {}};
}

/// HAADF-like projection of one polyhedron per sample, intensity = chord length /
/// circumdiameter (at most 1).
torch::Tensor project_one(const std::string& name, const Polyhedron& shape, const torch::Tensor& theta,
                          double radius_px, const torch::Tensor& cx, const torch::Tensor& cy, const DataSettings& s) {
  return project_polyhedron(shape, tilt_rotations(name, theta), s.size, radius_px, s.supersample, cx, cy) /
         (2.0 * radius_px);
}

Generated generate_polyhedra(const DataSettings& s, const torch::TensorOptions& fo) {
  const int64_t n = s.count, shapes = static_cast<int64_t>(s.polyhedra.size());
  std::vector<Polyhedron> solids;
  std::vector<int64_t> orders;
  for (const auto& name : s.polyhedra) {
    solids.push_back(make_polyhedron(name));
    orders.push_back(tilt_order(name));
  }
  const auto shape = torch::randint(0, shapes, {n}, fo.dtype(torch::kLong));
  const auto order = torch::tensor(orders, torch::kLong).to(fo.device()).index_select(0, shape);
  const Draws d = draw(s, order, fo);
  const auto shape_c = shape.cpu();
  const auto radius_c = d.radius.cpu().to(torch::kFloat64);
  std::vector<torch::Tensor> as, bs;
  Progress progress("orient data", n, "pair");
  for (int64_t i = 0; i < n; ++i) {
    const auto si = shape_c[i].item<int64_t>();
    const auto& name = s.polyhedra[static_cast<size_t>(si)];
    const double r = radius_c[i].item<double>();
    auto one = [&](const torch::Tensor& t) { return t.slice(0, i, i + 1); };
    as.push_back(project_one(name, solids[static_cast<size_t>(si)], one(d.theta_a), r, one(d.cx), one(d.cy), s));
    bs.push_back(project_one(name, solids[static_cast<size_t>(si)], one(d.theta_b), r, one(d.cx) + one(d.sx),
                             one(d.cy) + one(d.sy), s));
    if ((i + 1) % 64 == 0 || i + 1 == n) progress.update(i + 1, "", 64);
  }
  progress.finish();
  const auto [an, bn] = noisy_pair(torch::cat(as), torch::cat(bs), d.dose, s.gaussian_sigma);
  // One clean reference per shape at tilt 0 (the mirror orientation, folded angle 0).
  std::vector<torch::Tensor> refs;
  const double r_mid = 0.5 * (s.radius_min + s.radius_max) * s.size;
  for (int64_t k = 0; k < shapes; ++k)
    refs.push_back(project_one(s.polyhedra[static_cast<size_t>(k)], solids[static_cast<size_t>(k)],
                               torch::zeros({1}, fo), r_mid, {}, {}, s));
  return {an, bn, d.offset, order, d.dose, d.theta_a, d.theta_b, d.radius, d.cx, d.cy,
          torch::cat(refs), torch::tensor(orders, torch::kLong).to(fo.device()), {}, {}, {}, {}};
}

/// Full 3D orientation: uniformly random rotations, image b after a known tilt about a
/// random axis in the image plane (R_b = R_off R_a), intensity = chord / circumdiameter.
Generated generate_polyhedra3d(const DataSettings& s, const torch::TensorOptions& fo) {
  const int64_t n = s.count, shapes = static_cast<int64_t>(s.polyhedra.size());
  std::vector<Polyhedron> solids;
  std::vector<int64_t> orders;
  for (const auto& name : s.polyhedra) {
    solids.push_back(make_polyhedron(name));
    orders.push_back(rotation_group(solids.back().group).size(0));
  }
  const auto shape = torch::randint(0, shapes, {n}, fo.dtype(torch::kLong));
  const auto order = torch::tensor(orders, torch::kLong).to(fo.device()).index_select(0, shape);
  const Draws d = draw(s, order, fo);  // offset = the tilt angle; radius, position, drift, dose
  const auto rot_a = random_rotations(n, fo);
  const auto phi = torch::rand({n}, fo) * (2.0 * M_PI);
  const auto axis = torch::stack({torch::cos(phi), torch::sin(phi), torch::zeros_like(phi)}, 1);
  const auto offset_rot = axis_angle_rotations(d.offset, axis);
  const auto rot_b = torch::matmul(offset_rot, rot_a);
  const auto shape_c = shape.cpu();
  const auto radius_c = d.radius.cpu().to(torch::kFloat64);
  std::vector<torch::Tensor> as, bs;
  Progress progress("orient data", n, "pair");
  for (int64_t i = 0; i < n; ++i) {
    const auto& solid = solids[static_cast<size_t>(shape_c[i].item<int64_t>())];
    const double r = radius_c[i].item<double>();
    auto one = [&](const torch::Tensor& t) { return t.slice(0, i, i + 1); };
    as.push_back(project_polyhedron(solid, one(rot_a), s.size, r, s.supersample, one(d.cx), one(d.cy)) / (2.0 * r));
    bs.push_back(project_polyhedron(solid, one(rot_b), s.size, r, s.supersample, one(d.cx) + one(d.sx),
                                    one(d.cy) + one(d.sy)) /
                 (2.0 * r));
    if ((i + 1) % 64 == 0 || i + 1 == n) progress.update(i + 1, "", 64);
  }
  progress.finish();
  const auto [an, bn] = noisy_pair(torch::cat(as), torch::cat(bs), d.dose, s.gaussian_sigma);
  // One clean reference per shape at the identity rotation, mid-size, centred.
  std::vector<torch::Tensor> refs;
  const double r_mid = 0.5 * (s.radius_min + s.radius_max) * s.size;
  for (int64_t k = 0; k < shapes; ++k)
    refs.push_back(project_polyhedron(solids[static_cast<size_t>(k)], torch::eye(3, fo).unsqueeze(0), s.size, r_mid,
                                      s.supersample) /
                   (2.0 * r_mid));
  Generated g{an, bn, d.offset, order, d.dose, {}, {}, d.radius, d.cx, d.cy,
              torch::cat(refs), torch::tensor(orders, torch::kLong).to(fo.device()), rot_a, rot_b, axis, offset_rot};
  return g;
}

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto c = t.detach().cpu().to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

/// A line chart of a few pairs of profiles `[N, 1, L]` (the 1D counterpart of the image grids).
void write_profile_chart(const fs::path& path, const torch::Tensor& a, const torch::Tensor& b,
                         const std::vector<std::string>& labels, const std::string& title) {
  std::vector<report::Series> series;
  for (size_t i = 0; i < std::min<size_t>(labels.size(), 3); ++i) {
    const auto k = static_cast<int64_t>(i);
    report::Series sa(labels[i] + " a", {}, to_vector(a[k].flatten()));
    report::Series sb(labels[i] + " b", {}, to_vector(b[k].flatten()));
    sb.dashed = true;
    sa.color = sb.color = report::palette(static_cast<int>(i));
    series.push_back(sa);
    series.push_back(sb);
  }
  report::write_line_chart(path, series, report::ChartOptions().title(title).x_label("x, px").y_label("sum over y"));
}

}  // namespace

fs::path run_data(const DataSettings& s) {
  validate(s);
  const auto device = apply_runtime(s.runtime);
  const fs::path out = s.out;
  ensure_dir(out);
  const auto fo = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const int64_t n = s.count;
  Generated g = s.kind == "polyhedron"     ? generate_polyhedra(s, fo)
                : s.kind == "polyhedron3d" ? generate_polyhedra3d(s, fo)
                                           : generate_polygons(s, fo);
  if (s.kind == "projection1d") {
    // The profile along x: each image summed over its rows (y), [N, 1, S, S] -> [N, 1, S].
    g.a = g.a.sum(2);
    g.b = g.b.sum(2);
    g.ref = g.ref.sum(2);
  }
  std::vector<std::pair<std::string, torch::Tensor>> pairs{
      {"a", g.a}, {"b", g.b}, {"offset_deg", g.offset}, {"order", g.order}, {"dose", g.dose}};
  if (is_rotation(s.kind)) {
    pairs.emplace_back("offset_axis", g.offset_axis);
    pairs.emplace_back("offset_rot", g.offset_rot);
  }
  // The polygon kind writes no meta entry: its pairs.pt stays byte-identical to before.
  write_tensors(out / "pairs.pt", pairs, s.kind == "polygon" ? Json() : Json{{"kind", s.kind}});
  if (is_rotation(s.kind)) {
    write_tensors(out / "labels.pt", {{"rot_a", g.rot_a}, {"rot_b", g.rot_b}, {"radius_px", g.radius},
                                      {"cx_px", g.cx}, {"cy_px", g.cy}});
  } else {
    write_tensors(out / "labels.pt", {{"theta_a_deg", g.theta_a}, {"theta_b_deg", g.theta_b}, {"radius_px", g.radius},
                                      {"cx_px", g.cx}, {"cy_px", g.cy}});
  }
  write_tensors(out / "reference.pt", {{"ref", g.ref}, {"ref_order", g.ref_order}});
  save_json_file(out / "data.json", Json(s));
  std::vector<std::vector<torch::Tensor>> rows;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < std::min<int64_t>(n, 6); ++i) {
    if (g.a.dim() == 4) rows.push_back({g.a[i], g.b[i]});
    labels.push_back((is_rotation(s.kind) ? "|G|=" : "n=") + std::to_string(g.order[i].item<int64_t>()) + " +" +
                     fmt(g.offset[i].item<double>(), 1));
  }
  if (g.a.dim() == 3) {
    write_profile_chart(out / "preview.png", g.a, g.b, labels, "Profiles (a solid, b dashed)");
  } else {
    report::write_grid_png(out / "preview.png", rows,
                           report::GridOptions().column_titles({"image a", "image b"}).row_labels(labels).panel_scale(2));
  }
  log_info("orient data: wrote " + std::to_string(n) + " " + s.kind + " pairs to " + out.string());
  return out;
}

// ----------------------------------------------------------------------------- train

void validate(const TrainSettings& s) {
  check_choice("orient train: method", s.method, {"siamese", "reconstruct", "supervised"});
  check_choice("orient train: angle_loss", s.angle_loss, {"periodic", "mse"});
  EMGAN_CHECK(ConfigError, s.angle_loss == "periodic" || s.method == "supervised",
              "orient train: angle_loss 'mse' (plain angle regression) needs the labels: use it with --method supervised, not '",
              s.method, "'");
  EMGAN_CHECK(ConfigError, s.epochs >= 1 || s.epochs == -1, "orient train: epochs ", s.epochs,
              " must be >= 1 (or -1, automatic)");
  EMGAN_CHECK(ConfigError, s.width >= 1, "orient train: width ", s.width, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.batch_size >= 2, "orient train: batch_size ", s.batch_size, " must be >= 2");
  EMGAN_CHECK(ConfigError, s.lr > 0, "orient train: lr ", s.lr, " must be > 0");
  EMGAN_CHECK(ConfigError, s.denoise_sigma >= 0, "orient train: denoise_sigma ", s.denoise_sigma, " must be >= 0");
  check_choice("orient train: stereo_loss", s.stereo_loss, {"nearest", "invariant"});
  check_choice("orient train: cross_mode", s.cross_mode, {"constant", "offset"});
  check_choice("orient train: generator", s.generator, {"learned", "renderer"});
  EMGAN_CHECK(ConfigError, s.generator_width >= 1, "orient train: generator_width ", s.generator_width, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.inplane_weight >= 0, "orient train: inplane_weight ", s.inplane_weight, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.zero_views >= 1 && s.zero_views <= 3600, "orient train: zero_views ", s.zero_views,
              " must be in 1..3600");
  EMGAN_CHECK(ConfigError, s.zero_scale >= 0 && s.zero_scale < 1, "orient train: zero_scale ", s.zero_scale,
              " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, s.spread_tau > 0, "orient train: spread_tau ", s.spread_tau, " must be > 0");
  EMGAN_CHECK(ConfigError, s.spread_weight >= 0, "orient train: spread_weight ", s.spread_weight, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.norm_weight >= 0, "orient train: norm_weight ", s.norm_weight, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.cross_penalty >= 0, "orient train: cross_penalty ", s.cross_penalty, " must be >= 0");
  EMGAN_CHECK(ConfigError, (s.restarts >= 1 && s.restarts <= 100) || s.restarts == -1, "orient train: restarts ",
              s.restarts, " must be in 1..100 (or -1, automatic)");
  EMGAN_CHECK(ConfigError, s.restart_fraction > 0 && s.restart_fraction <= 1, "orient train: restart_fraction ",
              s.restart_fraction, " must be in (0, 1]");
  EMGAN_CHECK(ConfigError, s.cross_penalty_start >= 0 || s.cross_penalty_start == -1, "orient train: cross_penalty_start ",
              s.cross_penalty_start, " must be >= 0 (or -1, no schedule)");
  EMGAN_CHECK(ConfigError, s.size_weight >= 0 || s.size_weight == -1, "orient train: size_weight ", s.size_weight,
              " must be >= 0 (or -1, automatic)");
  EMGAN_CHECK(ConfigError, s.augment_scale >= 0 && s.augment_shift_px >= 0 && s.augment_noise >= 0,
              "orient train: augment_scale ", s.augment_scale, ", augment_shift_px ", s.augment_shift_px,
              ", augment_noise ", s.augment_noise, " must all be >= 0");
  EMGAN_CHECK(ConfigError, s.render_supersample >= 1, "orient train: render_supersample ", s.render_supersample, " must be >= 1");
}

namespace {

/// Renders what the reconstruct method predicts image b to look like.
torch::Tensor render_prediction(const torch::Tensor& head, const torch::Tensor& order, const torch::Tensor& delta_deg,
                                int64_t size, double sigma, int64_t supersample) {
  const auto theta = decode_angle(head.slice(1, 0, 2), order) + delta_deg;
  const auto radius = size * (0.1 + 0.3 * torch::sigmoid(head.select(1, 2)));
  const auto zeros = torch::zeros_like(theta);
  PolygonBatch pb{order, theta, radius, zeros, zeros, torch::ones_like(theta)};
  return normalise_images(gaussian_blur(render_polygons(pb, size, supersample), sigma));
}

torch::Tensor norm_penalty(const torch::Tensor& head) {
  return (head.slice(1, 0, 2).norm(2, 1) - 1.0).pow(2).mean();
}

/// The phase of `head` `[N, >= 2]` turned by n x `delta_deg` for orders n `[N]`: the
/// phase of its angle plus `delta_deg` (not normalised; the generator needs only its direction).
torch::Tensor turned_phase(const torch::Tensor& head, const torch::Tensor& order, const torch::Tensor& delta_deg) {
  return rotate_phase(head.slice(1, 0, 2), order.to(head.dtype()) * delta_deg * (M_PI / 180.0));
}

/// Writes the encoder into `ar` as "model" and, when defined, the learned generator as
/// "decoder" (checkpoint.pt and model.pt alike).
void write_networks(torch::serialize::OutputArchive& ar, const OrientNet& net, const OrientDecoder& decoder) {
  torch::serialize::OutputArchive m(ar.compilation_unit());
  net->save(m);
  ar.write("model", m);
  if (decoder) {
    torch::serialize::OutputArchive d(ar.compilation_unit());
    decoder->save(d);
    ar.write("decoder", d);
  }
}

}  // namespace

/// Shift of the zero views (pixels, up to): the order of the stereo drift.
constexpr double kZeroShiftPx = 1.5;
/// Reconstruct: training images per shape over which the renderer's zero is fitted.
constexpr int64_t kZeroFitImages = 128;

namespace {

/// The automatic epochs (-1): 120 for reconstruct with the renderer, which learns the high
/// orders late; 60 otherwise (the learned generator: 100.0 % within 2 deg at 60 on three
/// seeds, docs/ORIENT.md).
int64_t resolved_epochs(const TrainSettings& s) {
  if (s.epochs >= 0) return s.epochs;
  return s.method == "reconstruct" && s.generator == "renderer" ? 120 : 60;
}

/// Mean loss of the last epoch in a run's metrics.csv (NaN when it has none).
double last_logged_loss(const fs::path& metrics) {
  if (!fs::exists(metrics)) return std::nan("");
  const auto table = report::read_metrics_log(metrics);
  return table.rows() == 0 || !table.has("loss") ? std::nan("") : table.column("loss").back();
}

/// One training run; with `stop_epoch` > 0 it stops after that epoch (checkpoint written,
/// learning-rate schedule still that of the full run) without fixing the zero or writing
/// model.pt: a restart candidate.
TrainSummary train_once(const TrainSettings& given, int64_t stop_epoch) {
  TrainSettings s = given;
  const auto device = apply_runtime(s.runtime);
  const fs::path data = s.data, out = s.out;
  ensure_dir(out);
  const auto start = std::chrono::steady_clock::now();
  Pairs pairs = load_pairs(data, device);
  torch::Tensor truth_a, truth_b;
  const bool rotation = is_rotation(pairs.kind);
  // Automatic size term (-1): on wherever it applies, the single-angle kinds (BENCHMARKS.md,
  // issue 7); polyhedron3d has no size term.
  if (s.size_weight < 0) s.size_weight = rotation ? 0.0 : 1.0;  // (reconstruct: learned generator only)
  s.epochs = resolved_epochs(s);
  if (s.method == "supervised") {
    const auto t = read_tensors(data / "labels.pt",
                                rotation ? std::vector<std::string>{"rot_a", "rot_b"}
                                         : std::vector<std::string>{"theta_a_deg", "theta_b_deg"},
                                device);
    truth_a = t[0];
    truth_b = t[1];
    EMGAN_CHECK(IoError, truth_a.size(0) == pairs.a.size(0), (data / "labels.pt").string(), ": ", truth_a.size(0),
                " labels for ", pairs.a.size(0), " pairs");
  }
  const auto refs = read_tensors(data / "reference.pt", {"ref", "ref_order"}, device);
  const std::string kind = pairs.kind;
  const bool folded = is_folded(kind);
  // Both generators draw 2D images turned in-plane (the learned one turns a template,
  // the renderer draws polygons); profiles, tilts out of the plane and folded angles
  // have no generator yet.
  EMGAN_CHECK(ConfigError, s.method != "reconstruct" || kind == "polygon", "orient train: method 'reconstruct' ",
              "(its generators draw 2D images at an in-plane angle) needs polygon data; ", (data / "pairs.pt").string(),
              " holds '", kind, "' data (use siamese or supervised)");
  EMGAN_CHECK(ConfigError, s.angle_loss == "periodic" || kind == "polygon", "orient train: angle_loss 'mse' is for polygon data; ",
              (data / "pairs.pt").string(), " holds '", kind, "' data (use the periodic loss)");
  EMGAN_CHECK(IoError, refs[0].dim() == pairs.a.dim() && refs[0].sizes().slice(1) == pairs.a.sizes().slice(1),
              (data / "reference.pt").string(), ": reference of shape ", refs[0].sizes(), " does not match samples ",
              pairs.a.sizes());
  const int64_t size = pairs.a.size(2);
  const int64_t min_order = refs[1].min().item<int64_t>(), max_order = refs[1].max().item<int64_t>();
  EMGAN_CHECK(IoError, pairs.order.min().item<int64_t>() >= min_order && pairs.order.max().item<int64_t>() <= max_order,
              (data / "pairs.pt").string(), ": orders outside the reference orders ", min_order, "..", max_order);
  const auto a = preprocess_all(pairs.a, s.denoise_sigma);
  const auto b = preprocess_all(pairs.b, s.denoise_sigma);
  pairs.a = pairs.b = torch::Tensor();
  const auto order = pairs.order.to(torch::kLong);
  const auto offset = pairs.offset_deg.to(torch::kFloat32);
  const auto offset_rot = rotation ? pairs.offset_rot.to(torch::kFloat32) : torch::Tensor();
  const int64_t n = a.size(0);

  OrientNetOptions net_opts(size, min_order, max_order);
  net_opts.width(s.width).dims(kind_dims(kind)).outputs(rotation ? 6 : 3);
  OrientNet net(net_opts);
  net->to(device);
  // reconstruct, learned: the generator network, trained with the encoder by one optimiser.
  const bool learned = s.method == "reconstruct" && s.generator == "learned";
  OrientDecoder decoder{nullptr};
  auto params = net->parameters();
  if (learned) {
    decoder = OrientDecoder(OrientDecoderOptions(size, min_order, max_order).width(s.generator_width));
    decoder->to(device);
    for (const auto& p : decoder->parameters()) params.push_back(p);
  }
  torch::optim::Adam optim(params, torch::optim::AdamOptions(s.lr));

  Json config = s;
  save_json_file(out / "config.json", config);
  const fs::path ckpt = out / "checkpoint.pt", metrics = out / "metrics.csv";
  int64_t epoch0 = 0;
  if (s.resume && fs::exists(ckpt)) {
    torch::serialize::InputArchive ar;
    train::read_archive(ckpt, ar, device);
    const Json meta = read_meta(ckpt);
    const std::string gen = meta.value("generator", "");
    EMGAN_CHECK(ConfigError, meta.value("method", "") == s.method && meta.value("width", int64_t{0}) == s.width &&
                                 gen == (learned ? s.generator : std::string()),
                ckpt.string(), ": checkpoint of method '", meta.value("method", ""), "' width ",
                meta.value("width", int64_t{0}), (gen.empty() ? "" : " generator '" + gen + "'"),
                " cannot resume a run of method '", s.method, "' width ", s.width,
                (learned ? " generator 'learned'" : ""), " (use --no-resume or another --out)");
    torch::serialize::InputArchive m, o;
    ar.read("model", m);
    train::load_module_checked(*net, m, ckpt.string());
    if (learned) {
      torch::serialize::InputArchive d;
      ar.read("decoder", d);
      train::load_module_checked(*decoder, d, ckpt.string());
    }
    ar.read("optimizer", o);
    optim.load(o);
    torch::Tensor rng;
    if (ar.try_read("rng_cpu", rng)) train::set_rng_state({rng, {}});
    epoch0 = meta.at("epoch").get<int64_t>();
    log_info("orient train: resumed " + ckpt.string() + " at epoch " + std::to_string(epoch0));
  } else {
    write_text_atomic(metrics, "epoch,loss,lr,seconds\n");
  }

  const int64_t steps_per_epoch = (n + s.batch_size - 1) / s.batch_size;
  const int64_t total_steps = steps_per_epoch * s.epochs;
  double last_loss = 0.0;
  const int64_t last_epoch = stop_epoch > 0 ? std::min(stop_epoch, s.epochs) : s.epochs;
  Progress progress("orient train " + s.method, std::max<int64_t>(0, (last_epoch - epoch0) * steps_per_epoch), "step");
  // The size term (siamese, reconstruct with the learned generator): the phase of images
  // x resized and shifted must equal `phase`, weighted by size_weight, plus `norm_w` times
  // the norm penalty of the resized images' heads.
  auto size_term = [&](const torch::Tensor& x, const torch::Tensor& phase, const torch::Tensor& ord, double norm_w) {
    const auto hs = net->forward_order(augment_same_angle(x, kSizeTermScale, kSizeTermShiftPx, 0.0), ord);
    return s.size_weight * offset_consistency_loss(phase, hs.slice(1, 0, 2), ord, torch::zeros({x.size(0)}, x.options())) +
           norm_w * norm_penalty(hs);
  };
  int64_t done = 0;
  for (int64_t epoch = epoch0; epoch < last_epoch; ++epoch) {
    net->train();
    const auto perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong).device(device));
    double sum = 0.0;
    double lr = s.lr;
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      const int64_t global = epoch * steps_per_epoch + step;
      lr = s.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(global) / static_cast<double>(total_steps)));
      for (auto& g : optim.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
      // The crossing cost, from cross_penalty_start down to cross_penalty over the first
      // half of the run (start < 0: constant).
      const double progress_frac = static_cast<double>(global) / static_cast<double>(total_steps);
      const double cross = s.cross_penalty_start < 0
                               ? s.cross_penalty
                               : s.cross_penalty + (s.cross_penalty_start - s.cross_penalty) * std::max(0.0, 1.0 - 2.0 * progress_frac);
      const auto idx = perm.slice(0, step * s.batch_size, (step + 1) * s.batch_size);
      const auto xa = a.index_select(0, idx), xb = b.index_select(0, idx);
      const auto ord = order.index_select(0, idx);
      const auto delta = offset.index_select(0, idx);
      torch::Tensor loss;
      if (rotation && s.method == "siamese") {
        // Full 3D: the stereo loss on rotations, modulo each shape's group and the
        // projection twin (stereo_rotation_loss, polyhedra.h).
        const bool aug = s.augment_scale > 0 || s.augment_shift_px > 0 || s.augment_noise > 0;
        const auto ia = aug ? augment_same_angle(xa, s.augment_scale, s.augment_shift_px, s.augment_noise) : xa;
        const auto ib = aug ? augment_same_angle(xb, s.augment_scale, s.augment_shift_px, s.augment_noise) : xb;
        const auto ha = net->forward_order(ia, ord), hb = net->forward_order(ib, ord);
        const auto ra = head_to_rotation(ha), rb = head_to_rotation(hb);
        const auto q = offset_rot.index_select(0, idx);
        auto stereo = [&](const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& off, const std::string& group) {
          return s.stereo_loss == "invariant" ? stereo_invariant_loss(x, y, off, group) : stereo_rotation_loss(x, y, off, group);
        };
        // Anti-collapse: predictions of different particles pushed apart modulo the
        // group (rotation_spread_penalty): without it the network settled near a
        // constant rotation (stereo loss ~ sin^2(tilt / 2)) and stayed at chance.
        const auto both = torch::cat({ra, rb});
        const auto o2 = torch::cat({ord, ord});
        auto spread = per_group(o2, [&](const torch::Tensor& m, const std::string& group) {
          const auto r = both.index({m});
          return r.size(0) >= 2 ? rotation_spread_penalty(r, group, s.spread_tau) : torch::zeros({}, r.options());
        });
        loss = per_group(ord, [&](const torch::Tensor& m, const std::string& group) {
                 return stereo(ra.index({m}), rb.index({m}), q.index({m}), group);
               }) +
               s.spread_weight * spread;
        if (s.inplane_weight > 0) {
          // A second, digital "stereo pair" with an exactly known rotation: image a
          // turned by a random angle about the beam axis shows the particle at Rz R_a
          // (rotate_images, render.h); the twin commutes with Rz, so the same loss applies.
          const auto angle = torch::rand({ia.size(0)}, ia.options()) * 360.0;
          const auto hc = net->forward_order(rotate_images(ia, angle), ord);
          const auto rz = axis_angle_rotation(angle, {0, 0, 1});
          const auto rc = head_to_rotation(hc);
          loss = loss + s.inplane_weight * per_group(ord, [&](const torch::Tensor& m, const std::string& group) {
                   return stereo(ra.index({m}), rc.index({m}), rz.index({m}), group);
                 }) +
                 s.norm_weight * norm_penalty_6d(hc);
        }
        loss = loss + s.norm_weight * (norm_penalty_6d(ha) + norm_penalty_6d(hb));
      } else if (rotation) {
        const auto x = torch::cat({xa, xb});
        const auto o2 = torch::cat({ord, ord});
        const auto t = torch::cat({truth_a.index_select(0, idx), truth_b.index_select(0, idx)});
        const auto h = net->forward_order(x, o2);
        const auto r = head_to_rotation(h);
        loss = per_group(o2, [&](const torch::Tensor& m, const std::string& group) {
                 return rotation_loss_mod_group(r.index({m}), t.index({m}), group);
               }) +
               0.1 * norm_penalty_6d(h);
      } else if (s.method == "siamese") {
        const bool aug = s.augment_scale > 0 || s.augment_shift_px > 0 || s.augment_noise > 0;
        const auto ia = aug ? augment_same_angle(xa, s.augment_scale, s.augment_shift_px, s.augment_noise) : xa;
        const auto ib = aug ? augment_same_angle(xb, s.augment_scale, s.augment_shift_px, s.augment_noise) : xb;
        const auto ha = net->forward_order(ia, ord), hb = net->forward_order(ib, ord);
        const auto pa = ha.slice(1, 0, 2), pb = hb.slice(1, 0, 2);
        // Random particles have uniformly spread phases: the squared batch mean of the
        // unit phases, per shape, keeps the network from collapsing to one constant
        // angle per shape (an assumption on the sample, not a label).
        // Folded phases (upper half circle) of spread angles have a non-zero mean;
        // their squares spread over the whole circle.
        auto spread_of = [&](const torch::Tensor& p) {
          return phase_spread_penalty(folded ? square_phase(fold_phase(p)) : p, ord, min_order, max_order);
        };
        const auto spread = spread_of(pa) + spread_of(pb);
        const auto consistency = folded ? folded_consistency_loss(pa, pb, ord, delta, cross, s.cross_mode == "offset")
                                        : offset_consistency_loss(pa, pb, ord, delta);
        loss = consistency + s.spread_weight * spread + s.norm_weight * (norm_penalty(ha) + norm_penalty(hb));
        if (s.size_weight > 0) {
          // Image a resized and shifted keeps its angle: rules out an angle offset that
          // follows the particle's size, which the stereo pair (one size) cannot see.
          loss = loss + size_term(xa, pa, ord, s.norm_weight);
        }
        if (kind == "polygon" && s.inplane_weight > 0) {
          // A digital "stereo pair" with an exactly known offset of any size: image a
          // turned by a random angle shows the polygon at theta_a - angle (rotate_images
          // turns clockwise on screen; angles are counter-clockwise). The stereo pairs'
          // one offset range alone leaves any error periodic in the offset unseen.
          const auto angle = torch::rand({ia.size(0)}, ia.options()) * 360.0;
          const auto hc = net->forward_order(rotate_images(ia, angle), ord);
          loss = loss + s.inplane_weight * offset_consistency_loss(pa, hc.slice(1, 0, 2), ord, -angle) +
                 s.norm_weight * norm_penalty(hc);
        }
      } else if (s.method == "reconstruct") {
        const auto ha = net->forward_order(xa, ord), hb = net->forward_order(xb, ord);
        torch::Tensor rb, ra;
        if (learned) {
          // The generator draws image b from angle(a) + offset and a's shape code, and a
          // from angle(b) - offset and b's.
          rb = decoder->forward(turned_phase(ha, ord, delta), ord, xa);
          ra = decoder->forward(turned_phase(hb, ord, -delta), ord, xb);
        } else {
          rb = render_prediction(ha, ord, delta, size, s.denoise_sigma, s.render_supersample);
          ra = render_prediction(hb, ord, -delta, size, s.denoise_sigma, s.render_supersample);
        }
        loss = 0.5 * (torch::mse_loss(rb, xb) + torch::mse_loss(ra, xa)) + 0.1 * (norm_penalty(ha) + norm_penalty(hb));
        if (learned && s.size_weight > 0) {
          // The siamese size term: a learned generator could take an angle offset that
          // follows the particle's size back through the shape code (the renderer's fixed
          // convention cannot), so image a resized and shifted must keep its angle.
          loss = loss + size_term(xa, ha.slice(1, 0, 2), ord, 0.1);
        }
        if (s.inplane_weight > 0) {
          // The digital pair of the siamese method (image a turned by a random angle has
          // angle theta_a - angle) on the encoder: the rendering ties the particles'
          // angles to one convention, this term makes the angle map turn with the particle.
          const auto angle = torch::rand({xa.size(0)}, xa.options()) * 360.0;
          const auto hc = net->forward_order(rotate_images(xa, angle), ord);
          loss = loss + s.inplane_weight * offset_consistency_loss(ha.slice(1, 0, 2), hc.slice(1, 0, 2), ord, -angle) +
                 0.1 * norm_penalty(hc);
        }
      } else {
        const auto x = torch::cat({xa, xb});
        const auto o2 = torch::cat({ord, ord});
        const auto t = torch::cat({truth_a.index_select(0, idx), truth_b.index_select(0, idx)});
        const auto h = net->forward_order(x, o2);
        if (s.angle_loss == "mse") {
          loss = angle_mse_loss(h.select(1, 0) * symmetry_period_deg(o2), t, o2);
        } else {
          // Folded kinds: the target is the folded phase (cos n theta, |sin n theta|).
          const auto target = folded ? fold_phase(encode_angle(t, o2)) : encode_angle(t, o2);
          loss = periodic_loss(h.slice(1, 0, 2), target) + 0.1 * norm_penalty(h);
        }
      }
      const double value = loss.item<double>();
      EMGAN_CHECK(TrainingError, std::isfinite(value), "orient train: loss is ", value, " at epoch ", epoch + 1,
                  " step ", step + 1, "; stopped, the last good checkpoint is kept in ", ckpt.string(),
                  " (try a smaller --lr)");
      optim.zero_grad();
      loss.backward();
      optim.step();
      sum += value;
      progress.update(++done, "epoch=" + std::to_string(epoch + 1) + " loss=" + fmt(value, 4), 1);
    }
    last_loss = sum / static_cast<double>(steps_per_epoch);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      std::ofstream f(metrics, std::ios::app);
      f << (epoch + 1) << "," << last_loss << "," << lr << "," << secs << "\n";
    }
    torch::serialize::OutputArchive ar;
    Json meta{{"epoch", epoch + 1}, {"method", s.method}, {"width", s.width}, {"config", config}};
    if (learned) meta["generator"] = s.generator;
    ar.write("meta", c10::IValue(meta.dump()));
    write_networks(ar, net, decoder);
    torch::serialize::OutputArchive o(ar.compilation_unit());
    optim.save(o);
    ar.write("optimizer", o);
    ar.write("rng_cpu", train::get_rng_state().cpu);
    train::write_archive_atomic(ckpt, ar);
  }
  progress.finish("loss=" + fmt(last_loss, 4));
  // A resumed run with no epoch left reports the loss its last epoch logged.
  if (epoch0 >= last_epoch) last_loss = last_logged_loss(metrics);
  if (stop_epoch > 0) {  // a restart candidate: the chosen one is finished by run_train
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return {last_epoch, last_loss, secs};
  }

  // Fix the zero: the angle the network gives each reference image (at the chosen zero
  // orientation) becomes 0; so for reconstruct with the learned generator, whose angle
  // convention is its own. The renderer and supervised have an absolute zero (the
  // renderer's convention, the labels') and keep 0 (the renderer's is refined below).
  // Folded angles have an absolute zero up to one mirror (phi and 180/n - phi satisfy the stereo loss
  // alike): the zero is 0 or 180/n, whichever the reference's folded angle is nearer.
  net->eval();
  std::vector<double> zero(static_cast<size_t>(max_order - min_order + 1), 0.0);
  // polyhedron3d: the frame fix Z per order (row-major 3x3 each; identity = none).
  // The images of R and R g are equal, so the network's rotations are defined modulo
  // right multiplication by G; the stereo loss ties them to the lab frame (the tilt
  // axes) up to the normaliser of G, a right factor W: net(x) = R W. The reference is
  // the identity orientation, so net(ref) = W (or its twin T(W)); predictions are
  // net(x) Z^T with Z the one of net(ref), T(net(ref)) nearer to the group's identity
  // class. Supervised models keep the identity.
  std::vector<double> zero_rot;
  if (rotation) {
    auto z = torch::eye(3).unsqueeze(0).repeat({max_order - min_order + 1, 1, 1});
    if (s.method == "siamese") {
      torch::NoGradGuard ng;
      const auto ref = preprocess_all(refs[0], s.denoise_sigma);
      const auto rr = head_to_rotation(net->forward_order(ref, refs[1])).cpu();
      const auto eye = torch::eye(3).unsqueeze(0);
      for (int64_t i = 0; i < ref.size(0); ++i) {
        const auto k = refs[1][i].item<int64_t>();
        const auto group = group_of_order(k);
        const auto g = rotation_group(group);
        const auto c0 = rr.slice(0, i, i + 1), c1 = projection_twin(c0, group);
        const bool twin = geodesic_mod_group_deg(eye, c1, g).item<double>() < geodesic_mod_group_deg(eye, c0, g).item<double>();
        z[k - min_order] = (twin ? c1 : c0)[0];
      }
    }
    zero_rot = to_vector(z);
  }
  if ((s.method == "siamese" || learned) && !rotation) {
    torch::NoGradGuard ng;
    // Polygons: the reference turned to v angles phi_j shows the shape at -phi_j; the
    // zero is the circular mean (period 360/n) of angle(turned) + phi_j, which
    // averages out the network's error at any one orientation. With zero_noise each
    // view also gets the training images' noise (the network's angle of a clean image
    // can be biased against that of the noisy images it is used on), and zero_scale
    // varies their size and position as the particles' (augment_same_angle). Other
    // kinds: v = 1.
    const int64_t views = kind == "polygon" ? s.zero_views : 1;
    const int64_t nref = refs[0].size(0);
    const auto phi = torch::arange(views, refs[0].options()) * (360.0 / static_cast<double>(views));
    torch::Tensor turned;
    if (views == 1) {
      turned = preprocess_all(refs[0], s.denoise_sigma);
    } else {
      auto raw = rotate_images(refs[0].repeat_interleave(views, 0), phi.repeat({nref}));
      if (s.zero_noise) {
        const auto pick = torch::randint(pairs.dose.size(0), {raw.size(0)},
                                         torch::TensorOptions().dtype(torch::kLong).device(pairs.dose.device()));
        const Json info = fs::exists(data / "data.json") ? load_json_file(data / "data.json") : Json::object();
        raw = add_noise(raw, pairs.dose.index_select(0, pick), info.value("gaussian_sigma", 0.0));
      }
      turned = preprocess_all(raw, s.denoise_sigma);
      if (s.zero_scale > 0) turned = augment_same_angle(turned, s.zero_scale, kZeroShiftPx, 0.0);
    }
    const auto ord_v = refs[1].repeat_interleave(views, 0);
    const auto raw = decode_angle(net->forward_order(turned, ord_v).slice(1, 0, 2), ord_v) + phi.repeat({nref});
    const auto ang = circular_mean_deg(raw.view({nref, views}), refs[1]).cpu();
    for (int64_t i = 0; i < nref; ++i) {
      const auto k = refs[1][i].item<int64_t>();
      double z = ang[i].item<double>();
      if (folded) {
        const double half = 180.0 / static_cast<double>(k);
        z = fold_angle_deg(ang[i].view({1}), refs[1][i].view({1})).item<double>() > 0.5 * half ? half : 0.0;
      }
      zero[static_cast<size_t>(k - min_order)] = z;
    }
  }
  if (s.method == "reconstruct" && !learned) {
    // The renderer's zero, fitted over many images instead of through the training
    // gradient alone: per shape, the angle offset c that makes the renderer drawing the
    // network's angle + c best reproduce the images themselves (the training loss, over
    // kZeroFitImages images of the training set, no labels). Angles are the 8-view
    // averages that eval/predict give by default. Coarse grid of the period, then fine.
    torch::NoGradGuard ng;
    for (int64_t k = min_order; k <= max_order; ++k) {
      const auto sel = torch::nonzero(order == k).flatten().slice(0, 0, kZeroFitImages);
      if (sel.size(0) == 0) continue;
      const auto x = a.index_select(0, sel);
      const auto ok = order.index_select(0, sel);
      const auto h = net->forward_order(x, ok);
      const auto single = head_to_angle(h, ok, s.angle_loss);
      const auto to_averaged = view_averaged_angles(net, x, ok, 8, s.angle_loss) - single;
      auto cost = [&](double c) {
        const auto r = render_prediction(h, ok, to_averaged + c, size, s.denoise_sigma, s.render_supersample);
        return torch::mse_loss(r, x).item<double>();
      };
      const double period = 360.0 / static_cast<double>(k);
      double best = 0.0, best_cost = cost(0.0);
      for (int pass = 0; pass < 2; ++pass) {
        const double step = pass == 0 ? period / 45.0 : period / 45.0 / 10.0;
        const double centre = best;
        for (int64_t i = -22; i <= 22; ++i) {
          if (pass == 1 && std::abs(i) > 10) continue;
          const double c = centre + step * static_cast<double>(i);
          const double v = cost(c);
          if (v < best_cost) best_cost = v, best = c;
        }
      }
      zero[static_cast<size_t>(k - min_order)] = -best;
      log_info("orient train: reconstruct zero of order " + std::to_string(k) + ": " + fmt(-best, 3) + " deg (" +
               std::to_string(sel.size(0)) + " images)");
    }
  }
  {
    torch::serialize::OutputArchive ar;
    Json meta = model_meta(s, net_opts, zero, kind, zero_rot);
    if (learned) meta["generator"] = s.generator, meta["generator_width"] = s.generator_width;
    ar.write("meta", c10::IValue(meta.dump()));
    write_networks(ar, net, decoder);  // the generator is not needed for inference: kept as what it learned to draw
    train::write_archive_atomic(out / "model.pt", ar);
  }
  report::write_learning_curves(metrics, out / "learning_curves.png",
                                report::LearningCurveOptions().columns({"loss"}));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report::Report rep("Orientation training: " + s.method);
  rep.section("Run").key_values({{"method", s.method}, {"angle loss", s.angle_loss}, {"data kind", kind},
                                 {"pairs", std::to_string(n)},
                                 {"epochs", std::to_string(s.epochs)}, {"final loss", report::format_number(last_loss)},
                                 {"seconds (this call)", fmt(secs, 1)}});
  rep.image("learning_curves.png", "training loss per epoch");
  if (learned) {
    // What the generator learned: per order, the first training pair, image b as
    // generated from angle(a) + offset, and the particle drawn at 0, 1/4, 1/2 and 3/4
    // of its symmetry period (the model's own zero, before the fix).
    torch::NoGradGuard ng;
    std::vector<std::vector<torch::Tensor>> rows;
    std::vector<std::string> labels;
    for (int64_t k = min_order; k <= max_order; ++k) {
      const auto sel = torch::nonzero(order == k).flatten().slice(0, 0, 1);
      if (sel.size(0) == 0) continue;
      const auto xa = a.index_select(0, sel), xb = b.index_select(0, sel), ok = order.index_select(0, sel);
      const auto gen_b = decoder->forward(turned_phase(net->forward_order(xa, ok), ok, offset.index_select(0, sel)), ok, xa);
      const auto code = decoder->shape_code(xa).repeat({4, 1});
      const auto steps = torch::arange(4, xa.options()) * (90.0 / static_cast<double>(k));
      const auto turn = decoder->generate(encode_angle(steps, ok.repeat({4})), ok.repeat({4}), code);
      rows.push_back({xa[0], xb[0], gen_b[0], turn[0], turn[1], turn[2], turn[3]});
      labels.push_back("n=" + std::to_string(k));
    }
    report::write_grid_png(out / "generator.png", rows,
                           report::GridOptions()
                               .column_titles({"image a", "image b", "generated b", "0", "1/4 period", "1/2", "3/4"})
                               .row_labels(labels)
                               .panel_scale(2));
    rep.image("generator.png", "the learned generator: image b generated from angle(a) + offset, and the particle "
                               "drawn at four angles of its symmetry period");
  }
  rep.section("Configuration").json(config, "config.json");
  rep.write(out);
  log_info("orient train: wrote " + (out / "model.pt").string());
  return {s.epochs, last_loss, secs};
}

TrainSummary train_with_restarts(const TrainSettings& given) {
  // Restarts: candidates with seeds seed, seed + 1, ... trained for the first
  // restart_fraction of the run; the one with the lowest training loss (label-free) is
  // finished. A resumed run that has already chosen goes on with its choice.
  const auto start = std::chrono::steady_clock::now();
  const fs::path out = given.out, chosen_file = out / "candidates.json";
  TrainSettings fin = given;
  if (given.resume && fs::exists(chosen_file) && fs::exists(out / "checkpoint.pt")) {
    fin.runtime.seed = load_json_file(chosen_file).at("chosen_seed").get<uint64_t>();
    log_info("orient train: resuming the chosen candidate (seed " + std::to_string(fin.runtime.seed) + ")");
  } else {
    const int64_t epochs = resolved_epochs(given);
    const int64_t stop = std::max<int64_t>(1, std::llround(given.restart_fraction * static_cast<double>(epochs)));
    ensure_dir(out / "candidates");
    std::ostringstream csv;
    csv << "seed,epochs,loss\n";
    double best = std::numeric_limits<double>::infinity();
    fs::path best_dir;
    for (int64_t i = 0; i < given.restarts; ++i) {
      TrainSettings c = given;
      c.restarts = 1;
      c.runtime.seed = given.runtime.seed + static_cast<uint64_t>(i);
      const fs::path dir = out / "candidates" / ("seed_" + std::to_string(c.runtime.seed));
      c.out = dir.string();
      log_info("orient train: candidate " + std::to_string(i + 1) + "/" + std::to_string(given.restarts) + " (seed " +
               std::to_string(c.runtime.seed) + "), " + std::to_string(stop) + " of " + std::to_string(epochs) + " epochs");
      train_once(c, stop);
      const double loss = last_logged_loss(dir / "metrics.csv");
      csv << c.runtime.seed << ',' << stop << ',' << loss << '\n';
      if (std::isfinite(loss) && loss < best) best = loss, best_dir = dir, fin.runtime.seed = c.runtime.seed;
    }
    write_text_atomic(out / "candidates.csv", csv.str());
    EMGAN_CHECK(TrainingError, !best_dir.empty(), "orient train: no restart candidate finished with a finite loss (",
                (out / "candidates.csv").string(), ")");
    ensure_dir(out);
    fs::copy_file(best_dir / "checkpoint.pt", out / "checkpoint.pt", fs::copy_options::overwrite_existing);
    fs::copy_file(best_dir / "metrics.csv", out / "metrics.csv", fs::copy_options::overwrite_existing);
    save_json_file(chosen_file, Json{{"chosen_seed", fin.runtime.seed}, {"loss", best}, {"epochs", stop}});
    log_info("orient train: chose seed " + std::to_string(fin.runtime.seed) + " (loss " + fmt(best, 5) + ")");
  }
  fin.resume = true;
  auto r = train_once(fin, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

TrainSummary run_train(const TrainSettings& given) {
  validate(given);
  TrainSettings s = given;
  // Automatic restarts (-1): 3 for the label-free full-3D runs, which learned with 3 seeds
  // of 4 and whose training loss tells which (docs/ORIENT.md); 1 otherwise.
  if (s.restarts < 0)
    s.restarts = s.method == "siamese" && read_kind(fs::path(s.data) / "pairs.pt") == "polyhedron3d" ? 3 : 1;
  if (s.restarts <= 1) return train_once(s, 0);
  return train_with_restarts(s);
}

// ----------------------------------------------------------------------------- inference

LoadedModel load_model(const fs::path& run_dir, const torch::Device& device) {
  const fs::path path = fs::is_directory(run_dir) ? run_dir / "model.pt" : run_dir;
  const Json meta = read_meta(path);
  EMGAN_CHECK(IoError, meta.value("format", "") == "emgan-orient-1", path.string(),
              ": not an orientation model (format '", meta.value("format", ""), "', expected emgan-orient-1)");
  OrientNetOptions o(meta.at("size").get<int64_t>(), meta.at("min_order").get<int64_t>(),
                     meta.at("max_order").get<int64_t>());
  o.width(meta.at("width").get<int64_t>()).dims(meta.value("dims", int64_t{2})).outputs(meta.value("outputs", int64_t{3}));
  LoadedModel m;
  m.net = OrientNet(o);
  m.net->to(device);
  torch::serialize::InputArchive ar, mod;
  train::read_archive(path, ar, device);
  ar.read("model", mod);
  train::load_module_checked(*m.net, mod, path.string());
  m.net->eval();
  m.zero_deg = torch::tensor(meta.at("zero_deg").get<std::vector<double>>(), torch::kFloat32).to(device);
  m.denoise_sigma = meta.at("denoise_sigma").get<double>();
  m.method = meta.at("method").get<std::string>();
  // reconstruct models: "learned" or (written before the learned generator existed) "renderer".
  if (m.method == "reconstruct") m.generator = meta.value("generator", std::string("renderer"));
  m.angle_loss = meta.value("angle_loss", "periodic");
  m.kind = meta.value("kind", "polygon");
  m.folded = is_folded(m.kind);
  if (is_rotation(m.kind)) {
    const auto z = meta.at("zero_rot").get<std::vector<double>>();
    const int64_t orders = o.max_order() - o.min_order() + 1;
    EMGAN_CHECK(IoError, static_cast<int64_t>(z.size()) == orders * 9 && o.outputs() == 6, path.string(),
                ": a polyhedron3d model needs 6 outputs and ", orders * 9, " zero_rot values (has ", o.outputs(), ", ",
                z.size(), ")");
    m.zero_rot = torch::tensor(z, torch::kFloat32).view({orders, 3, 3}).to(device);
  }
  return m;
}

torch::Tensor predict_rotations(LoadedModel& model, const torch::Tensor& raw_images, const torch::Tensor& order) {
  torch::NoGradGuard ng;
  const auto& o = model.net->options;
  EMGAN_CHECK(ConfigError, is_rotation(model.kind), "orient predict: the model was trained on '", model.kind,
              "' data and predicts angles, not rotations");
  EMGAN_CHECK(ConfigError, raw_images.dim() == 4 && raw_images.size(2) == o.size() && raw_images.size(3) == o.size(),
              "orient predict: samples of shape ", raw_images.sizes(), " given; the model expects images [N, 1, ", o.size(),
              ", ", o.size(), "]");
  const auto ord = order.to(raw_images.device(), torch::kLong);
  const auto lo = ord.min().item<int64_t>(), hi = ord.max().item<int64_t>();
  EMGAN_CHECK(ConfigError, lo >= o.min_order() && hi <= o.max_order(), "orient predict: rotation group size ", lo, "..", hi,
              " outside the model's ", o.min_order(), "..", o.max_order(), " (12 T, 24 O, 60 I, 10 D5)");
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < raw_images.size(0); i += 256) {
    const auto x = preprocess_all(raw_images.slice(0, i, i + 256), model.denoise_sigma);
    const auto od = ord.slice(0, i, i + 256);
    const auto r = head_to_rotation(model.net->forward_order(x, od));
    const auto z = model.zero_rot.index_select(0, od - o.min_order());
    parts.push_back(torch::matmul(r, z.transpose(1, 2)));
  }
  return torch::cat(parts);
}

void set_tta_views(LoadedModel& model, int64_t views) {
  EMGAN_CHECK(ConfigError, views >= 0 && views <= 360, "orient: tta_views ", views, " must be in 0..360 (0 = automatic)");
  EMGAN_CHECK(ConfigError, views <= 1 || model.kind == "polygon", "orient: tta_views ", views,
              " turns the images in-plane, which only polygon models allow; this model was trained on '", model.kind,
              "' data (use 0 or 1)");
  model.tta_views = views == 0 ? (model.kind == "polygon" ? 8 : 1) : views;
}

torch::Tensor predict_angles(LoadedModel& model, const torch::Tensor& raw_images, const torch::Tensor& order) {
  torch::NoGradGuard ng;
  EMGAN_CHECK(ConfigError, !is_rotation(model.kind), "orient predict: the model was trained on '", model.kind,
              "' data and predicts rotations (use predict_rotations), not angles");
  const auto& o = model.net->options;
  const bool shape_ok = o.dims() == 1 ? raw_images.dim() == 3 && raw_images.size(2) == o.size()
                                      : raw_images.dim() == 4 && raw_images.size(2) == o.size() && raw_images.size(3) == o.size();
  EMGAN_CHECK(ConfigError, shape_ok, "orient predict: samples of shape ", raw_images.sizes(), " given; the model (",
              model.kind, " data) expects ", o.dims() == 1 ? "profiles [N, 1, " : "images [N, 1, ", o.size(),
              o.dims() == 1 ? "]" : ", " + std::to_string(o.size()) + "]");
  const auto ord = order.to(raw_images.device(), torch::kLong);
  EMGAN_CHECK(ConfigError, ord.min().item<int64_t>() >= o.min_order() && ord.max().item<int64_t>() <= o.max_order(),
              "orient predict: symmetry order ", ord.min().item<int64_t>(), "..", ord.max().item<int64_t>(),
              " outside the model's ", o.min_order(), "..", o.max_order());
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < raw_images.size(0); i += 256) {
    const auto x = preprocess_all(raw_images.slice(0, i, i + 256), model.denoise_sigma);
    const auto od = ord.slice(0, i, i + 256);
    const auto ang = view_averaged_angles(model.net, x, od, model.tta_views, model.angle_loss);
    const auto zero = model.zero_deg.index_select(0, od - o.min_order());
    parts.push_back(model.folded ? fold_angle_deg(ang - zero, od) : wrap_angle(ang - zero, symmetry_period_deg(od)));
  }
  return torch::cat(parts);
}

// ----------------------------------------------------------------------------- eval

namespace {

/// `orient eval` for polyhedron3d: geodesic errors modulo the group and the projection
/// twin, their distribution per shape and dose, against a Monte Carlo chance level.
EvalSummary eval_rotations(LoadedModel& model, const Pairs& p, const fs::path& data, const fs::path& out,
                           const torch::Device& device) {
  const auto lab = read_tensors(data / "labels.pt", {"rot_a", "rot_b"}, device);
  EMGAN_CHECK(IoError, lab[0].dim() == 3 && lab[0].size(0) == p.a.size(0) && lab[1].sizes() == lab[0].sizes(),
              (data / "labels.pt").string(), ": rotations of shape ", lab[0].sizes(), " for ", p.a.size(0), " pairs");
  const auto images = torch::cat({p.a, p.b});
  const auto order = torch::cat({p.order, p.order}).to(torch::kLong);
  const auto order_c = order.cpu();
  const auto dose = torch::cat({p.dose, p.dose}).cpu();
  const auto truth = torch::cat({lab[0], lab[1]}).to(torch::kFloat32);
  const auto pred = predict_rotations(model, images, order);
  const int64_t n = images.size(0), draws = 16;
  // Chance: a uniformly random rotation against a uniformly random truth, `draws` per
  // image from a fixed generator (the same figures on every call).
  auto gen = at::detail::createCPUGenerator(20261121);
  auto err = torch::zeros({n}, torch::kFloat32), chance = torch::zeros({n, draws}, torch::kFloat32);
  const auto orders = std::get<0>(at::_unique(order_c));
  for (int64_t i = 0; i < orders.numel(); ++i) {
    const int64_t k = orders[i].item<int64_t>();
    const auto m = order_c == k;
    const auto group = group_of_order(k);
    const auto md = m.to(device);
    err.index_put_({m}, projection_error_deg(pred.index({md}), truth.index({md}), group).cpu());
    const int64_t c = m.sum().item<int64_t>() * draws;
    const auto ce = projection_error_deg(random_rotations(c, torch::kFloat32, gen), random_rotations(c, torch::kFloat32, gen), group);
    chance.index_put_({m}, ce.view({-1, draws}));
  }
  auto stats = [&](const torch::Tensor& mask) {
    const auto e = err.masked_select(mask).to(torch::kFloat64);
    Json j;
    j["count"] = e.numel();
    if (e.numel() == 0) return j;
    for (int d : {2, 5, 10, 15}) j["within_" + std::to_string(d)] = (e <= d).to(torch::kFloat64).mean().item<double>();
    j["mean_error_deg"] = e.mean().item<double>();
    j["median_error_deg"] = torch::quantile(e, 0.5).item<double>();
    j["p90_error_deg"] = torch::quantile(e, 0.9).item<double>();
    const auto ch = chance.index({mask}).flatten().to(torch::kFloat64);
    j["chance_median_error_deg"] = torch::quantile(ch, 0.5).item<double>();
    j["chance_within_5"] = (ch <= 5.0).to(torch::kFloat64).mean().item<double>();
    j["chance_within_15"] = (ch <= 15.0).to(torch::kFloat64).mean().item<double>();
    return j;
  };
  Json metrics = stats(torch::ones({n}, torch::kBool));
  // Diagnostic: the distance between the predictions of random pairs of images of one
  // shape (median; near the chance median when they are spread, near 0 when the
  // network collapsed to one rotation).
  {
    std::vector<double> spread;
    for (int64_t i = 0; i < orders.numel(); ++i) {
      const auto idx = torch::nonzero(order_c == orders[i]).flatten();
      if (idx.numel() < 2) continue;
      const auto other = idx.index_select(0, torch::roll(torch::arange(idx.numel()), 1)).to(device);
      const auto e = projection_error_deg(pred.index_select(0, idx.to(device)), pred.index_select(0, other),
                                          group_of_order(orders[i].item<int64_t>()));
      for (double v : to_vector(e)) spread.push_back(v);
    }
    if (!spread.empty()) metrics["prediction_spread_median_deg"] = torch::quantile(torch::tensor(spread), 0.5).item<double>();
    // Stereo self-consistency of the test pairs (what label-free training minimises).
    std::vector<double> resid;
    const int64_t np = p.a.size(0);
    const auto order_p = order_c.slice(0, 0, np);
    for (int64_t i = 0; i < orders.numel(); ++i) {
      const auto idx = torch::nonzero(order_p == orders[i]).flatten().to(device);
      const auto e = stereo_residual_deg(pred.index_select(0, idx), pred.index_select(0, idx + np),
                                         p.offset_rot.index_select(0, idx).to(torch::kFloat32),
                                         group_of_order(orders[i].item<int64_t>()));
      for (double v : to_vector(e)) resid.push_back(v);
    }
    metrics["pair_residual_median_deg"] = torch::quantile(torch::tensor(resid), 0.5).item<double>();
    // The error of the network's own frame, before the reference fix (pred = net Z^T).
    const auto z = model.zero_rot.index_select(0, order - model.net->options.min_order());
    const auto raw = torch::matmul(pred, z);
    auto raw_err = torch::zeros({n}, torch::kFloat32);
    for (int64_t i = 0; i < orders.numel(); ++i) {
      const auto m = order_c == orders[i];
      const auto md = m.to(device);
      raw_err.index_put_({m}, projection_error_deg(raw.index({md}), truth.index({md}),
                                                   group_of_order(orders[i].item<int64_t>())).cpu());
    }
    metrics["median_error_without_frame_fix_deg"] = torch::quantile(raw_err.to(torch::kFloat64), 0.5).item<double>();
  }
  metrics["method"] = model.method;
  if (!model.generator.empty()) metrics["generator"] = model.generator;
  metrics["kind"] = model.kind;
  metrics["error"] = "geodesic angle modulo the rotation group and the projection twin (polyhedra.h), degrees";
  metrics["data"] = data.string();
  const std::vector<std::string> header{"group", "images", "median deg", "90 % deg", "mean deg", "within 5 %",
                                        "within 10 %", "within 15 %", "chance median deg"};
  auto row = [](const std::string& name, const Json& j) {
    return std::vector<std::string>{name,
                                    std::to_string(j["count"].get<int64_t>()),
                                    fmt(j.value("median_error_deg", 0.0), 1),
                                    fmt(j.value("p90_error_deg", 0.0), 1),
                                    fmt(j.value("mean_error_deg", 0.0), 1),
                                    fmt(100 * j.value("within_5", 0.0), 1),
                                    fmt(100 * j.value("within_10", 0.0), 1),
                                    fmt(100 * j.value("within_15", 0.0), 1),
                                    fmt(j.value("chance_median_error_deg", 0.0), 1)};
  };
  std::vector<std::vector<std::string>> order_rows, dose_rows;
  std::vector<report::HistogramSeries> hist;
  for (int64_t i = 0; i < orders.numel(); ++i) {
    const int64_t k = orders[i].item<int64_t>();
    const auto j = stats(order_c == k);
    const auto name = group_of_order(k) + " (" + std::to_string(k) + " rotations)";
    metrics["per_order"][std::to_string(k)] = j;
    order_rows.push_back(row(name, j));
    hist.push_back({"error, " + name, err.masked_select(order_c == k), std::nullopt});
    hist.push_back({"chance, " + name, chance.index({order_c == k}).flatten(), std::nullopt});
  }
  const auto doses = std::get<0>(at::_unique(dose));
  for (int64_t i = 0; i < doses.numel(); ++i) {
    const double d = doses[i].item<double>();
    const auto j = stats(dose == d);
    metrics["per_dose"][fmt(d, 1)] = j;
    dose_rows.push_back(row("dose " + fmt(d, 1) + " e/px", j));
  }
  save_json_file(out / "metrics.json", metrics);
  report::write_histogram(out / "error_histogram.png", hist,
                          report::HistogramOptions().density(true).bins(36).chart(
                              report::ChartOptions()
                                  .title("Geodesic error modulo the group and the twin")
                                  .x_label("error, degrees")
                                  .y_label("density")));
  std::vector<std::vector<torch::Tensor>> rows;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < std::min<int64_t>(p.a.size(0), 6); ++i) {
    rows.push_back({p.a[i].cpu(), p.b[i].cpu()});
    labels.push_back("|G|=" + std::to_string(order_c[i].item<int64_t>()) + " error a " + fmt(err[i].item<double>(), 1) +
                     " deg");
  }
  report::write_grid_png(out / "examples.png", rows,
                         report::GridOptions().column_titles({"image a", "image b"}).row_labels(labels).panel_scale(2));
  EvalSummary sum;
  sum.rotation = true;
  sum.count = n;
  sum.within_2 = metrics["within_2"].get<double>();
  sum.within_5 = metrics["within_5"].get<double>();
  sum.within_10 = metrics["within_10"].get<double>();
  sum.within_15 = metrics["within_15"].get<double>();
  sum.mean_error = metrics["mean_error_deg"].get<double>();
  sum.median_error = metrics["median_error_deg"].get<double>();
  sum.p90_error = metrics["p90_error_deg"].get<double>();
  sum.chance_median_error = metrics["chance_median_error_deg"].get<double>();
  sum.spread_median_error = metrics.value("prediction_spread_median_deg", 0.0);
  sum.pair_residual_median = metrics["pair_residual_median_deg"].get<double>();
  sum.chance_within_5 = metrics["chance_within_5"].get<double>();
  report::Report rep("Orientation evaluation (full 3D): " + model.method);
  rep.section("Summary").paragraph(sum.last_line());
  rep.table(header, {row("all", metrics)},
            "per image: the geodesic angle between predicted and true rotation, modulo the shape's rotation group and "
            "the projection twin (a projection cannot tell a solid from its mirror image along the beam)");
  rep.section("Per shape").table(header, order_rows);
  rep.section("Per noise level").table(header, dose_rows);
  rep.section("Figures")
      .image("error_histogram.png", "error distribution per shape against a uniformly random guess (chance)")
      .image("examples.png", "example pairs (label: image a)");
  rep.section("Metrics").json(metrics, "metrics.json");
  rep.write(out);
  return sum;
}

}  // namespace

EvalSummary run_eval(const EvalSettings& s) {
  const auto device = apply_runtime(s.runtime);
  const fs::path data = s.data;
  const fs::path out = s.out.empty() ? fs::path(s.model) / "eval" : fs::path(s.out);
  ensure_dir(out);
  auto model = load_model(s.model, device);
  set_tta_views(model, s.tta_views);
  const Pairs p = load_pairs(data, device);
  EMGAN_CHECK(ConfigError, p.kind == model.kind, "orient eval: the model was trained on '", model.kind, "' data but ",
              (data / "pairs.pt").string(), " holds '", p.kind, "' data");
  if (is_rotation(p.kind)) return eval_rotations(model, p, data, out, device);
  const auto lab = read_tensors(data / "labels.pt", {"theta_a_deg", "theta_b_deg"}, device);
  EMGAN_CHECK(IoError, lab[0].size(0) == p.a.size(0), (data / "labels.pt").string(), ": ", lab[0].size(0),
              " labels for ", p.a.size(0), " pairs");
  const auto images = torch::cat({p.a, p.b});
  const auto order = torch::cat({p.order, p.order}).to(torch::kLong);
  const auto dose = torch::cat({p.dose, p.dose}).cpu();
  EMGAN_CHECK(ConfigError, p.kind == model.kind, "orient eval: the model was trained on '", model.kind, "' data but ",
              (data / "pairs.pt").string(), " holds '", p.kind, "' data");
  const bool folded = model.folded;
  // Folded kinds: the truth is scored in the folded label space [0, 180/n].
  const auto truth = folded ? fold_angle_deg(torch::cat({lab[0], lab[1]}), order) : torch::cat({lab[0], lab[1]});
  const auto pred = predict_angles(model, images, order);
  auto error_of = [&](const torch::Tensor& pr) {
    return folded ? folded_error_deg(pr, truth, order) : symmetric_error_deg(pr, truth, order);
  };
  const auto err = error_of(pred).cpu();
  const auto period = symmetry_period_deg(order).cpu();
  const auto order_c = order.cpu();
  // Diagnostic: the error left with the best zero per shape (the circular mean of
  // pred - truth subtracted), which separates the zero fixing from the relative angles.
  // Folded: the better of the two mirror choices phi and 180/n - phi per shape.
  auto best = pred.clone();
  if (folded) {
    const auto mirrored = symmetry_period_deg(order) / 2 - pred;
    const auto e0 = error_of(pred), e1 = error_of(mirrored);
    const auto ou = std::get<0>(at::_unique(order));
    for (int64_t i = 0; i < ou.numel(); ++i) {
      const auto m = order == ou[i];
      if (e1.index({m}).mean().item<double>() < e0.index({m}).mean().item<double>())
        best.index_put_({m}, mirrored.index({m}));
    }
  } else {
    const auto resid = encode_angle(pred - truth, order);
    const auto ou = std::get<0>(at::_unique(order));
    for (int64_t i = 0; i < ou.numel(); ++i) {
      const auto m = order == ou[i];
      const auto mean_vec = resid.index({m}).mean(0, true);
      const auto shift = decode_angle(mean_vec, ou[i].view({1}));
      best.index_put_({m}, wrap_angle(pred.index({m}) - shift, symmetry_period_deg(ou[i])));
    }
  }
  const auto err_best = error_of(best).cpu();

  auto stats = [&](const torch::Tensor& mask) {
    const auto e = err.masked_select(mask);
    const auto per = period.masked_select(mask);
    Json j;
    j["count"] = e.numel();
    if (e.numel() == 0) return j;
    j["within_2"] = (e <= 2.0).to(torch::kFloat64).mean().item<double>();
    j["within_5"] = (e <= 5.0).to(torch::kFloat64).mean().item<double>();
    j["mean_error_deg"] = e.mean().item<double>();
    j["median_error_deg"] = e.median().item<double>();
    // A uniform guess: on the circle of period P within 5 degrees with probability
    // 10 / P; in the folded interval [0, L = P/2], for a uniform truth, 1 - (1 - 5/L)^2.
    const auto chance = folded ? 1.0 - torch::clamp_min(1.0 - 10.0 / per, 0.0).pow(2) : torch::clamp_max(10.0 / per, 1.0);
    j["chance_within_5"] = chance.mean().item<double>();
    const auto eb = err_best.masked_select(mask);
    j["within_2_best_zero"] = (eb <= 2.0).to(torch::kFloat64).mean().item<double>();
    j["within_5_best_zero"] = (eb <= 5.0).to(torch::kFloat64).mean().item<double>();
    return j;
  };
  const auto all = torch::ones_like(err, torch::kBool);
  Json metrics = stats(all);
  metrics["method"] = model.method;
  if (!model.generator.empty()) metrics["generator"] = model.generator;
  metrics["angle_loss"] = model.angle_loss;
  metrics["kind"] = model.kind;
  metrics["folded"] = folded;
  metrics["tta_views"] = model.tta_views;
  metrics["data"] = data.string();
  if (!folded && p.kind == "polygon") {
    // Label-free self-consistency (needs no angle label, so it can be read on a user's
    // own pairs): the stereo pairs (theta_b = theta_a + tilt), and each image a against
    // itself turned in-plane by a random phi (shows theta_a - phi); one pass, no averaging.
    const int64_t n = p.a.size(0);
    const auto ord1 = p.order.to(torch::kLong);
    const auto stereo =
        symmetric_error_deg(pred.slice(0, n, 2 * n) - p.offset_deg.to(pred.dtype()), pred.slice(0, 0, n), ord1);
    LoadedModel one = model;
    one.tta_views = 1;
    const auto phi = torch::rand({n}, p.a.options()) * 360.0;
    const auto inplane = symmetric_error_deg(predict_angles(one, rotate_images(p.a, phi), ord1) + phi.to(pred.dtype()),
                                             predict_angles(one, p.a, ord1), ord1);
    auto rms = [](const torch::Tensor& e) { return e.square().mean().sqrt().item<double>(); };
    metrics["label_free"] = {{"stereo_rms_deg", rms(stereo)},
                             {"stereo_within_2", (stereo <= 2.0).to(torch::kFloat64).mean().item<double>()},
                             {"inplane_rms_deg", rms(inplane)},
                             {"inplane_within_2", (inplane <= 2.0).to(torch::kFloat64).mean().item<double>()}};
  }
  std::vector<std::vector<std::string>> order_rows, dose_rows;
  auto row = [](const std::string& name, const Json& j) {
    return std::vector<std::string>{name, std::to_string(j["count"].get<int64_t>()),
                                    fmt(100 * j.value("within_2", 0.0), 1), fmt(100 * j.value("within_5", 0.0), 1),
                                    fmt(j.value("mean_error_deg", 0.0), 2), fmt(j.value("median_error_deg", 0.0), 2)};
  };
  const auto orders = std::get<0>(at::_unique(order_c));
  for (int64_t i = 0; i < orders.numel(); ++i) {
    const int64_t k = orders[i].item<int64_t>();
    const auto j = stats(order_c == k);
    metrics["per_order"][std::to_string(k)] = j;
    order_rows.push_back(row(std::to_string(k) + (p.kind == "polyhedron" ? "-fold tilt axis" : "-gon"), j));
  }
  const auto doses = std::get<0>(at::_unique(dose));
  for (int64_t i = 0; i < doses.numel(); ++i) {
    const double d = doses[i].item<double>();
    const auto j = stats(dose == d);
    metrics["per_dose"][fmt(d, 1)] = j;
    dose_rows.push_back(row("dose " + fmt(d, 1) + " e/px", j));
  }
  save_json_file(out / "metrics.json", metrics);
  {
    // One row per image (a of every pair, then b), for the user's own analysis; the
    // particle's circumradius when the data carries it (polygon and polyhedron data).
    torch::serialize::InputArchive la;
    train::read_archive(data / "labels.pt", la, torch::kCPU);
    torch::Tensor radius;
    const bool has_radius = la.try_read("radius_px", radius) && radius.numel() == p.a.size(0);
    const auto tr = truth.cpu(), pr = pred.cpu(), ds = dose;
    const int64_t n = p.a.size(0);
    std::ostringstream csv;
    csv << "pair,image,order,dose,truth_deg,pred_deg,error_deg" << (has_radius ? ",radius_px" : "") << "\n";
    for (int64_t i = 0; i < 2 * n; ++i) {
      csv << (i % n) << ',' << (i < n ? 'a' : 'b') << ',' << order_c[i].item<int64_t>() << ',' << ds[i].item<double>()
          << ',' << tr[i].item<double>() << ',' << pr[i].item<double>() << ',' << err[i].item<double>();
      if (has_radius) csv << ',' << radius[i % n].item<double>();
      csv << '\n';
    }
    write_text_atomic(out / "predictions.csv", csv.str());
  }

  // Figures: error vs true angle (in periods: the wrap is at 0 and 1), predicted vs
  // true, error histogram, example pairs.
  const auto truth_frac = (truth.cpu() / period);
  const auto pred_frac = (pred.cpu() / period);
  std::vector<report::Series> err_series, scatter;
  const std::string shape_word = p.kind == "polyhedron" ? "-fold" : "-gon";
  const double frac_max = folded ? 0.5 : 1.0;
  const std::string folded_word = folded ? "folded " : "";
  for (int64_t i = 0; i < orders.numel(); ++i) {
    const int64_t k = orders[i].item<int64_t>();
    const auto m = order_c == k;
    auto vec = [](const torch::Tensor& t) { return to_vector(t); };
    report::Series se(std::to_string(k) + shape_word, vec(truth_frac.masked_select(m)), vec(err.masked_select(m)));
    se.line = false;
    se.markers = true;
    err_series.push_back(se);
    report::Series sp(std::to_string(k) + shape_word, vec(truth_frac.masked_select(m)), vec(pred_frac.masked_select(m)));
    sp.line = false;
    sp.markers = true;
    scatter.push_back(sp);
  }
  report::write_line_chart(out / "error_vs_angle.png", err_series,
                           report::ChartOptions()
                               .title(folded ? "Error vs folded true angle (mirror points at 0 and 0.5)"
                                             : "Error vs true angle (wrap at 0 and 1)")
                               .x_label(folded_word + "true angle / (360/n)")
                               .y_label("error, degrees")
                               .x_min(0.0)
                               .x_max(frac_max)
                               .y_min(0.0));
  report::write_line_chart(out / "predicted_vs_true.png", scatter,
                           report::ChartOptions()
                               .title(folded ? "Predicted vs true folded angle" : "Predicted vs true angle")
                               .x_label(folded_word + "true angle / (360/n)")
                               .y_label("predicted / (360/n)")
                               .x_min(0.0)
                               .x_max(frac_max)
                               .y_min(0.0)
                               .y_max(frac_max));
  report::write_histogram(out / "error_histogram.png", {{"error", err, std::nullopt}},
                          report::HistogramOptions().chart(
                              report::ChartOptions().title("Angle error modulo symmetry").x_label("error, degrees").y_label("images")));
  std::vector<std::vector<torch::Tensor>> rows;
  std::vector<std::string> labels;
  const auto pred_c = pred.cpu(), truth_c = truth.cpu();
  const int64_t n_pairs = p.a.size(0);
  for (int64_t i = 0; i < std::min<int64_t>(n_pairs, 6); ++i) {
    if (p.a.dim() == 4) rows.push_back({p.a[i].cpu(), p.b[i].cpu()});
    labels.push_back("n=" + std::to_string(order_c[i].item<int64_t>()) + " true " + fmt(truth_c[i].item<double>(), 1) +
                     " pred " + fmt(pred_c[i].item<double>(), 1));
  }
  if (p.a.dim() == 3) {
    write_profile_chart(out / "examples.png", p.a.cpu(), p.b.cpu(), labels, "Example profiles (a solid, b dashed)");
  } else {
    report::write_grid_png(out / "examples.png", rows,
                           report::GridOptions().column_titles({"image a", "image b"}).row_labels(labels).panel_scale(2));
  }

  EvalSummary sum;
  sum.count = err.numel();
  sum.within_2 = metrics["within_2"].get<double>();
  sum.within_5 = metrics["within_5"].get<double>();
  sum.mean_error = metrics["mean_error_deg"].get<double>();
  sum.median_error = metrics["median_error_deg"].get<double>();
  sum.chance_within_5 = metrics["chance_within_5"].get<double>();
  sum.within_2_best_zero = metrics["within_2_best_zero"].get<double>();
  sum.within_5_best_zero = metrics["within_5_best_zero"].get<double>();
  const std::vector<std::string> header{"group", "images", "within 2 deg %", "within 5 deg %", "mean error deg", "median error deg"};
  report::Report rep("Orientation evaluation: " + model.method +
                     (model.generator.empty() ? "" : ", " + model.generator + " generator") + " (" + model.angle_loss +
                     " angle loss)");
  rep.section("Summary").paragraph(sum.last_line());
  rep.table(header, {row("all", metrics)},
            folded ? "folded angles: modulo the symmetry (360/n) and the mirror theta ~ -theta, in [0, 180/n]"
                   : "angles modulo the shape's symmetry (360/n)");
  rep.section("Per shape").table(header, order_rows);
  rep.section("Per noise level").table(header, dose_rows);
  rep.section("Figures")
      .image("error_vs_angle.png", "error vs true angle: no band near 0 or 1 (the symmetry wrap) means the wrap is handled")
      .image("predicted_vs_true.png")
      .image("error_histogram.png")
      .image("examples.png", "example pairs (label: image a)");
  rep.section("Metrics").json(metrics, "metrics.json");
  rep.write(out);
  return sum;
}

// ----------------------------------------------------------------------------- predict

namespace {

/// The image files of `s.input` (sorted) and their first channels `[N, 1, H, W]` on `device`.
std::pair<std::vector<fs::path>, torch::Tensor> read_predict_inputs(const PredictSettings& s, const torch::Device& device) {
  std::vector<fs::path> files;
  if (fs::is_directory(s.input)) {
    const auto ok = io::readable_extensions();
    for (const auto& e : fs::directory_iterator(s.input))
      if (e.is_regular_file() && std::find(ok.begin(), ok.end(), lower_extension(e.path())) != ok.end())
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(s.input);
  }
  EMGAN_CHECK(IoError, !files.empty(), "orient predict: no readable image in ", s.input);
  std::vector<torch::Tensor> imgs;
  for (const auto& f : files) {
    auto im = io::read_image(f).data;
    EMGAN_CHECK(IoError, im.dim() == 3, f.string(), ": a volume ", im.sizes(), " given, expected a 2D image");
    imgs.push_back(im.slice(0, 0, 1).to(torch::kFloat32));
  }
  return {files, torch::stack(imgs).to(device)};
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> run_predict_rotations(const PredictSettings& s) {
  EMGAN_CHECK(ConfigError, s.order >= 1, "orient predict: --order ", s.order,
              " must give the rotation group size of the particles (12 T, 24 O, 60 I, 10 D5)");
  EMGAN_CHECK(ConfigError, !s.input.empty() && fs::exists(s.input), "orient predict: input '", s.input,
              "' does not exist (expected an image file or a folder of images)");
  const auto device = apply_runtime(s.runtime);
  auto model = load_model(s.model, device);
  EMGAN_CHECK(ConfigError, is_rotation(model.kind), "orient predict: ", s.model, " was trained on '", model.kind,
              "' data and predicts angles (use run_predict)");
  const auto [files, x] = read_predict_inputs(s, device);
  const auto order = torch::full({x.size(0)}, s.order, torch::TensorOptions().dtype(torch::kLong).device(device));
  const auto rot = predict_rotations(model, x, order).cpu();
  std::vector<std::pair<std::string, torch::Tensor>> result;
  std::ostringstream csv;
  csv << "file,order,r00,r01,r02,r10,r11,r12,r20,r21,r22\n";
  for (size_t i = 0; i < files.size(); ++i) {
    const auto r = rot[static_cast<int64_t>(i)];
    result.emplace_back(files[i].filename().string(), r);
    csv << files[i].filename().string() << "," << s.order;
    for (double v : to_vector(r)) csv << "," << fmt(v, 5);
    csv << "\n";
  }
  if (!s.output.empty()) write_text_atomic(s.output, csv.str());
  return result;
}

std::vector<std::pair<std::string, double>> run_predict(const PredictSettings& s) {
  EMGAN_CHECK(ConfigError, s.order >= 1, "orient predict: --order ", s.order,
              " must give the particles' symmetry order (number of sides)");
  EMGAN_CHECK(ConfigError, !s.input.empty() && fs::exists(s.input), "orient predict: input '", s.input,
              "' does not exist (expected an image file or a folder of images)");
  const auto device = apply_runtime(s.runtime);
  auto model = load_model(s.model, device);
  set_tta_views(model, s.tta_views);
  EMGAN_CHECK(ConfigError, !is_rotation(model.kind), "orient predict: ", s.model,
              " is a polyhedron3d model and predicts rotations (use run_predict_rotations)");
  auto [files, x] = read_predict_inputs(s, device);
  // A profile model reads images as their profile along x (the sum over rows, y).
  if (model.net->options.dims() == 1) x = x.sum(2);
  const auto order = torch::full({x.size(0)}, s.order, torch::TensorOptions().dtype(torch::kLong).device(device));
  const auto ang = predict_angles(model, x, order).cpu();
  std::vector<std::pair<std::string, double>> result;
  std::ostringstream csv;
  csv << "file,order,angle_deg,period_deg\n";
  for (size_t i = 0; i < files.size(); ++i) {
    result.emplace_back(files[i].filename().string(), ang[static_cast<int64_t>(i)].item<double>());
    csv << files[i].filename().string() << "," << s.order << "," << fmt(result.back().second, 3) << ","
        << fmt(360.0 / static_cast<double>(s.order), 3) << "\n";
  }
  if (!s.output.empty()) write_text_atomic(s.output, csv.str());
  return result;
}

}  // namespace emgan::orient
