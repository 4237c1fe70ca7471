#include "emgan/orient/polyhedra.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "emgan/core/config.h"
#include "emgan/core/error.h"

namespace emgan::orient {

namespace {

const double kPhi = (1.0 + std::sqrt(5.0)) / 2.0;

/// Half-spaces n . x <= d for the rows of `normals` (not normalised) at offsets `d`,
/// normalised and scaled so that the farthest vertex `vertex` lies at radius 1.
Polyhedron from_planes(const std::string& name, std::vector<std::vector<double>> normals, std::vector<double> d,
                       double circumradius, const std::string& group) {
  std::vector<float> nf, df;
  for (size_t i = 0; i < normals.size(); ++i) {
    const auto& n = normals[i];
    const double len = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    for (double v : n) nf.push_back(static_cast<float>(v / len));
    df.push_back(static_cast<float>(d[i] / len / circumradius));
  }
  const auto f = static_cast<int64_t>(normals.size());
  return {name, torch::tensor(nf).view({f, 3}), torch::tensor(df), group};
}

/// Every sign combination of (a, b, c), duplicates removed for zeros.
std::vector<std::vector<double>> signs(double a, double b, double c) {
  std::vector<std::vector<double>> out;
  for (int sa : {1, -1})
    for (int sb : {1, -1})
      for (int sc : {1, -1}) {
        if ((a == 0 && sa < 0) || (b == 0 && sb < 0) || (c == 0 && sc < 0)) continue;
        out.push_back({sa * a, sb * b, sc * c});
      }
  return out;
}

torch::Tensor mat(std::initializer_list<double> v) {
  return torch::tensor(std::vector<double>(v), torch::kFloat64).view({3, 3});
}

torch::Tensor closure(const std::vector<torch::Tensor>& generators) {
  std::vector<torch::Tensor> elems{torch::eye(3, torch::kFloat64)};
  for (size_t i = 0; i < elems.size(); ++i) {
    for (const auto& g : generators) {
      const auto m = torch::matmul(elems[i], g);
      bool seen = false;
      for (const auto& e : elems)
        if ((e - m).abs().max().item<double>() < 1e-6) {
          seen = true;
          break;
        }
      if (!seen) elems.push_back(m);
      EMGAN_CHECK(ConfigError, elems.size() <= 200, "rotation_group: generators do not close to a finite group");
    }
  }
  return torch::stack(elems).to(torch::kFloat32);
}

torch::Tensor rodrigues(double angle_deg, const std::vector<double>& axis) {
  return axis_angle_rotation(torch::tensor({angle_deg}, torch::kFloat64), axis)[0].to(torch::kFloat64);
}

}  // namespace

std::vector<std::string> polyhedron_names() {
  return {"tetrahedron", "cube", "octahedron", "cuboctahedron", "decahedron", "icosahedron", "truncated_octahedron"};
}

Polyhedron make_polyhedron(const std::string& name) {
  check_choice("polyhedron", name, polyhedron_names());
  if (name == "cube") {
    return from_planes(name, {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}},
                       std::vector<double>(6, 1.0), std::sqrt(3.0), "O");
  }
  if (name == "octahedron") return from_planes(name, signs(1, 1, 1), std::vector<double>(8, 1.0), 1.0, "O");
  if (name == "tetrahedron") {
    // Vertices (1,1,1), (1,-1,-1), (-1,1,-1), (-1,-1,1); faces opposite, normals -vertex.
    return from_planes(name, {{-1, -1, -1}, {-1, 1, 1}, {1, -1, 1}, {1, 1, -1}}, std::vector<double>(4, 1.0),
                       std::sqrt(3.0), "T");
  }
  if (name == "cuboctahedron") {
    // |x_i| <= 1 and |x| + |y| + |z| <= 2: vertices permutations of (+-1, +-1, 0).
    auto n = signs(1, 1, 1);
    std::vector<double> d(8, 2.0);
    for (const auto& c : std::vector<std::vector<double>>{{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}}) {
      n.push_back(c);
      d.push_back(1.0);
    }
    return from_planes(name, n, d, std::sqrt(2.0), "O");
  }
  if (name == "truncated_octahedron") {
    // |x_i| <= 2 and |x| + |y| + |z| <= 3: vertices permutations of (0, +-1, +-2).
    auto n = signs(1, 1, 1);
    std::vector<double> d(8, 3.0);
    for (const auto& c : std::vector<std::vector<double>>{{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}}) {
      n.push_back(c);
      d.push_back(2.0);
    }
    return from_planes(name, n, d, std::sqrt(5.0), "O");
  }
  if (name == "icosahedron") {
    // Vertices cyclic permutations of (0, +-phi, +-1); face normals along the dual
    // dodecahedron's vertices (+-1, +-1, +-1) and cyclic (0, +-1/phi, +-phi).
    auto n = signs(1, 1, 1);
    for (const auto& v : signs(0, 1 / kPhi, kPhi)) {
      n.push_back(v);
      n.push_back({v[2], v[0], v[1]});
      n.push_back({v[1], v[2], v[0]});
    }
    // Plane offset: the face through (0, phi, 1), (1, 0, phi), (-1, 0, phi) has normal
    // (0, 1/phi, phi) / sqrt(3) and offset phi^2 / sqrt(3), as have the (1, 1, 1) ones.
    std::vector<double> d;
    const double dist = kPhi * kPhi / std::sqrt(1 / (kPhi * kPhi) + kPhi * kPhi);
    for (const auto& v : n) d.push_back(dist * std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]));
    return from_planes(name, n, d, std::sqrt(1 + kPhi * kPhi), "I");
  }
  // Decahedron: a pentagonal bipyramid, equatorial vertices at radius 1 (one on +x),
  // apexes at +-h with h = 0.618 (near-equilateral faces, as five twinned tetrahedra).
  const double h = 0.618, r_mid = std::cos(M_PI / 5);
  std::vector<std::vector<double>> n;
  std::vector<double> d;
  for (int k = 0; k < 5; ++k) {
    const double a = 2 * M_PI * k / 5 + M_PI / 5;
    for (double s : {1.0, -1.0}) {
      n.push_back({h * std::cos(a), h * std::sin(a), s * r_mid});
      d.push_back(h * r_mid);
    }
  }
  return from_planes(name, n, d, 1.0, "D5");
}

torch::Tensor axis_angle_rotation(const torch::Tensor& angle_deg, const std::vector<double>& axis) {
  EMGAN_CHECK(ConfigError, axis.size() == 3, "axis_angle_rotation: axis of ", axis.size(), " components, expected 3");
  const double len = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  EMGAN_CHECK(ConfigError, len > 0, "axis_angle_rotation: zero axis");
  const double x = axis[0] / len, y = axis[1] / len, z = axis[2] / len;
  const auto opts = torch::TensorOptions().dtype(angle_deg.dtype()).device(angle_deg.device());
  const auto k = torch::tensor({0.0, -z, y, z, 0.0, -x, -y, x, 0.0}, opts).view({1, 3, 3});
  const auto t = (angle_deg * (M_PI / 180.0)).view({-1, 1, 1});
  const auto eye = torch::eye(3, opts).unsqueeze(0);
  return eye + torch::sin(t) * k + (1 - torch::cos(t)) * torch::matmul(k, k);
}

torch::Tensor rotation_group(const std::string& name) {
  check_choice("rotation group", name, {"T", "O", "I", "D5"});
  const auto c3 = mat({0, 0, 1, 1, 0, 0, 0, 1, 0});    // 3-fold about (1, 1, 1)
  const auto c2z = mat({-1, 0, 0, 0, -1, 0, 0, 0, 1});  // 2-fold about z
  if (name == "T") return closure({c3, c2z});
  if (name == "O") return closure({c3, mat({0, -1, 0, 1, 0, 0, 0, 0, 1})});
  if (name == "I") return closure({c3, c2z, rodrigues(72.0, {0, kPhi, 1})});
  return closure({rodrigues(72.0, {0, 0, 1}), mat({1, 0, 0, 0, -1, 0, 0, 0, -1})});
}

torch::Tensor project_polyhedron(const Polyhedron& shape, const torch::Tensor& rotations, int64_t size,
                                 double radius_px, int64_t supersample, const torch::Tensor& cx_px,
                                 const torch::Tensor& cy_px) {
  EMGAN_CHECK(ConfigError, size >= 4 && supersample >= 1 && radius_px > 0, "project_polyhedron: size ", size,
              ", supersample ", supersample, ", radius ", radius_px, " must be >= 4, >= 1, > 0");
  const auto dev = rotations.device();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  const int64_t fine = size * supersample;
  const auto c = ((torch::arange(fine, opts) + 0.5) / static_cast<double>(supersample) - 0.5 - (size - 1) / 2.0) / radius_px;
  // Rotated normals R n, offsets unchanged: the rotated solid is {x : (R n) . x <= d}.
  const auto n = torch::matmul(rotations.to(torch::kFloat32), shape.normals.to(dev).t()).transpose(1, 2);  // [N, F, 3]
  const auto d = shape.offsets.to(dev).view({1, -1, 1, 1});
  const auto nx = n.select(2, 0).unsqueeze(-1).unsqueeze(-1), ny = n.select(2, 1).unsqueeze(-1).unsqueeze(-1);
  const auto nz = n.select(2, 2).unsqueeze(-1).unsqueeze(-1);
  const int64_t count = rotations.size(0);
  auto xs = c.view({1, 1, 1, fine}), ys = c.view({1, 1, fine, 1});
  if (cx_px.defined()) xs = xs - (cx_px.to(dev, torch::kFloat32) / radius_px).view({count, 1, 1, 1});
  if (cy_px.defined()) ys = ys - (cy_px.to(dev, torch::kFloat32) / radius_px).view({count, 1, 1, 1});
  const auto rest = d - nx * xs - ny * ys;  // nz t <= rest
  const auto eps = 1e-6;
  const auto big = torch::full({}, 1e6, opts);
  const auto safe_nz = torch::where(nz.abs() < eps, torch::full_like(nz, eps), nz);
  const auto bound = rest / safe_nz;
  const auto parallel = nz.abs() < eps;
  const auto upper = torch::where(nz > eps, bound, torch::where(parallel & (rest < 0), -big, big)).amin(1);
  const auto lower = torch::where(nz < -eps, bound, torch::where(parallel & (rest < 0), big, -big)).amax(1);
  auto chord = torch::clamp_min(upper - lower, 0.0).unsqueeze(1) * radius_px;
  if (supersample > 1) chord = torch::nn::functional::avg_pool2d(chord, torch::nn::functional::AvgPool2dFuncOptions(supersample));
  return chord;
}

torch::Tensor tilt_base_rotation(const std::string& name) {
  check_choice("polyhedron", name, polyhedron_names());
  const std::vector<double> x{1, 0, 0}, y{0, 1, 0};
  if (name == "tetrahedron") return rodrigues(45.0, y).to(torch::kFloat32);  // mirror x = z -> normal along z
  if (name == "decahedron") return rodrigues(-90.0, x).to(torch::kFloat32);  // 5-fold z -> y, mirror y = 0 -> normal z
  if (name == "icosahedron") {
    // The 5-fold axis through the vertex (0, phi, 1) onto y, then a quarter turn about
    // y brings the mirror plane x = 0 (which contains that axis) normal to the beam.
    const auto to_y = rodrigues(-std::atan2(1.0, kPhi) * 180.0 / M_PI, x);
    return torch::matmul(rodrigues(90.0, y), to_y).to(torch::kFloat32);
  }
  return torch::eye(3, torch::kFloat32);  // cubic shapes: 4-fold along y, mirror z = 0
}

int64_t tilt_order(const std::string& name) {
  const auto b = tilt_base_rotation(name);
  const auto g = rotation_group(make_polyhedron(name).group);
  // Elements of the turned shape's group B g B^T that keep y fixed.
  const auto conj = torch::matmul(torch::matmul(b.unsqueeze(0), g), b.t().unsqueeze(0));
  const auto gy = conj.select(2, 1);  // images of y
  return ((gy - torch::tensor({0.0f, 1.0f, 0.0f}).view({1, 3})).abs().amax(1) < 1e-4).sum().item<int64_t>();
}

torch::Tensor tilt_rotations(const std::string& name, const torch::Tensor& theta_deg) {
  const auto b = tilt_base_rotation(name).to(theta_deg.device());
  return torch::matmul(axis_angle_rotation(theta_deg.to(torch::kFloat32), {0, 1, 0}), b.unsqueeze(0));
}

torch::Tensor rotation_to_6d(const torch::Tensor& rotations) {
  return torch::cat({rotations.select(2, 0), rotations.select(2, 1)}, 1);
}

torch::Tensor rotation_from_6d(const torch::Tensor& six) {
  const auto a = six.slice(1, 0, 3), b = six.slice(1, 3, 6);
  const auto e1 = a / (a.norm(2, 1, true) + 1e-8);
  auto u = b - (e1 * b).sum(1, true) * e1;
  const auto e2 = u / (u.norm(2, 1, true) + 1e-8);
  const auto e3 = torch::cross(e1, e2, 1);
  return torch::stack({e1, e2, e3}, 2);
}

torch::Tensor geodesic_deg(const torch::Tensor& a, const torch::Tensor& b) {
  // |a - b|_F = 2 sqrt(2) sin(angle / 2): accurate near 0, unlike acos of the trace.
  const auto f = (a - b).pow(2).sum({1, 2}).sqrt() / (2.0 * std::sqrt(2.0));
  return 2.0 * torch::asin(torch::clamp(f, 0.0, 1.0)) * (180.0 / M_PI);
}

torch::Tensor geodesic_mod_group_deg(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& group) {
  const int64_t n = a.size(0), g = group.size(0);
  const auto bg = torch::matmul(b.unsqueeze(1), group.to(b.device(), b.scalar_type()).unsqueeze(0));  // [N, G, 3, 3]
  const auto aa = a.unsqueeze(1).expand({n, g, 3, 3}).reshape({n * g, 3, 3});
  return geodesic_deg(aa, bg.reshape({n * g, 3, 3})).view({n, g}).amin(1);
}

torch::Tensor random_rotations(int64_t n, const torch::TensorOptions& options, c10::optional<at::Generator> generator) {
  const auto fo = options.dtype(torch::kFloat32);
  auto q = torch::randn({n, 4}, generator, fo);
  q = q / q.norm(2, 1, true).clamp_min(1e-8);
  const auto w = q.select(1, 0), x = q.select(1, 1), y = q.select(1, 2), z = q.select(1, 3);
  const auto m = torch::stack({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                               2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                               2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
                              1);
  return m.view({n, 3, 3});
}

torch::Tensor axis_angle_rotations(const torch::Tensor& angle_deg, const torch::Tensor& axis) {
  EMGAN_CHECK(ConfigError, axis.dim() == 2 && axis.size(1) == 3 && axis.size(0) == angle_deg.numel(),
              "axis_angle_rotations: axis of shape ", axis.sizes(), " for ", angle_deg.numel(), " angles, expected [N, 3]");
  const auto u = axis / axis.norm(2, 1, true).clamp_min(1e-12);
  const auto x = u.select(1, 0), y = u.select(1, 1), z = u.select(1, 2), zero = torch::zeros_like(x);
  const auto k = torch::stack({zero, -z, y, z, zero, -x, -y, x, zero}, 1).view({-1, 3, 3});
  const auto t = (angle_deg.to(axis.scalar_type()) * (M_PI / 180.0)).view({-1, 1, 1});
  const auto eye = torch::eye(3, axis.options()).unsqueeze(0);
  return eye + torch::sin(t) * k + (1 - torch::cos(t)) * torch::matmul(k, k);
}

std::string group_of_order(int64_t order) {
  if (order == 12) return "T";
  if (order == 24) return "O";
  if (order == 60) return "I";
  if (order == 10) return "D5";
  throw ConfigError(detail::concat("rotation group of order ", order, ": unknown (expected 12 T, 24 O, 60 I or 10 D5)"));
}

torch::Tensor improper_symmetry(const std::string& group) {
  check_choice("rotation group", group, {"T", "O", "I", "D5"});
  if (group == "T") return mat({0, 1, 0, 1, 0, 0, 0, 0, 1}).to(torch::kFloat32);
  if (group == "D5") return mat({1, 0, 0, 0, 1, 0, 0, 0, -1}).to(torch::kFloat32);
  return -torch::eye(3, torch::kFloat32);
}

torch::Tensor projection_twin(const torch::Tensor& r, const std::string& group) {
  const auto sigma = improper_symmetry(group).to(r.device(), r.scalar_type());
  const auto m = torch::tensor({1.0, 1.0, -1.0}, r.options()).view({1, 3, 1});
  return m * torch::matmul(r, sigma);
}

torch::Tensor projection_error_deg(const torch::Tensor& pred, const torch::Tensor& truth, const std::string& group) {
  const auto g = rotation_group(group).to(pred.device());
  return torch::minimum(geodesic_mod_group_deg(pred, truth, g),
                        geodesic_mod_group_deg(pred, projection_twin(truth, group), g));
}

namespace {

/// Per sample the smallest |p - c g|_F^2 / 8 over the candidate sets `cands`
/// (each `[N, 3, 3]`) and g in `g` `[G, 3, 3]`: `[N]`.
torch::Tensor min_distance(const torch::Tensor& p, const std::vector<torch::Tensor>& cands, const torch::Tensor& g) {
  std::vector<torch::Tensor> d;
  for (const auto& c : cands) {
    const auto cg = torch::matmul(c.unsqueeze(1), g.unsqueeze(0));  // [N, G, 3, 3]
    d.push_back((p.unsqueeze(1) - cg).pow(2).sum({2, 3}) / 8.0);  // [N, G]
  }
  return std::get<0>(torch::cat(d, 1).min(1));
}

}  // namespace

torch::Tensor rotation_spread_penalty(const torch::Tensor& r, const std::string& group, double tau) {
  const int64_t n = r.size(0);
  EMGAN_CHECK(ConfigError, n >= 2 && tau > 0, "rotation_spread_penalty: ", n, " rotations and tau ", tau,
              " given, expected >= 2 and > 0");
  const auto g = rotation_group(group).to(r.device(), r.scalar_type());
  const int64_t k = g.size(0);
  // Candidates r_j g and T(r_j) g `[N, 2G, 9]`; |a - b|^2 = 6 - 2 <a, b> for rotations.
  const auto cand = torch::cat({torch::matmul(r.unsqueeze(1), g.unsqueeze(0)),
                                torch::matmul(projection_twin(r, group).unsqueeze(1), g.unsqueeze(0))},
                               1)
                        .reshape({n * 2 * k, 9});
  const auto inner = torch::matmul(r.reshape({n, 9}), cand.t()).view({n, n, 2 * k});
  const auto d = (6.0 - 2.0 * std::get<0>(inner.max(2))) / 8.0;  // [N, N]
  const auto off = 1.0 - torch::eye(n, r.options());
  return (torch::exp(-d / tau) * off).sum() / static_cast<double>(n * (n - 1));
}

torch::Tensor rotation_loss_mod_group(const torch::Tensor& pred, const torch::Tensor& truth, const std::string& group) {
  const auto g = rotation_group(group).to(pred.device(), pred.scalar_type());
  const auto t = truth.to(pred.scalar_type());
  return min_distance(pred, {t, projection_twin(t, group)}, g).mean();
}

namespace {

torch::Tensor stereo_distance(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                              const std::string& group) {
  const auto g = rotation_group(group).to(pa.device(), pa.scalar_type());
  const auto q = offset.to(pa.scalar_type());
  const auto m = torch::tensor({1.0, 1.0, -1.0}, pa.options());
  const auto q_mirror = q * m.view({1, 3, 1}) * m.view({1, 1, 3});  // M Q M
  const auto twin = projection_twin(pa, group);
  return min_distance(pb, {torch::matmul(q, pa), torch::matmul(q_mirror, twin), torch::matmul(q_mirror, pa),
                           torch::matmul(q, twin)},
                      g);
}

}  // namespace

torch::Tensor invariant_embedding(const torch::Tensor& r, const std::string& group) {
  const auto g = rotation_group(group).to(r.device(), r.scalar_type());
  const auto u = torch::tensor({1.0, 2.0, 3.0}, r.options()) / std::sqrt(14.0);  // on no symmetry axis
  const auto gu = torch::matmul(g, u);                                              // [G, 3]
  const auto v = torch::matmul(r.unsqueeze(1), gu.unsqueeze(0).unsqueeze(-1)).squeeze(-1);  // [N, G, 3]
  const std::vector<int> degrees = group == "T" ? std::vector<int>{3}
                                  : group == "O" ? std::vector<int>{4}
                                  : group == "I" ? std::vector<int>{6}
                                                 : std::vector<int>{2, 5};
  std::vector<torch::Tensor> parts;
  auto p = v;
  for (int degree = 2; degree <= degrees.back(); ++degree) {
    p = (p.unsqueeze(-1) * v.unsqueeze(-2)).flatten(-2);  // [N, G, 3^degree]
    if (std::find(degrees.begin(), degrees.end(), degree) != degrees.end()) parts.push_back(p.mean(1));
  }
  return torch::cat(parts, 1);
}

torch::Tensor stereo_invariant_loss(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                                    const std::string& group) {
  const auto q = offset.to(pa.scalar_type());
  const auto m = torch::tensor({1.0, 1.0, -1.0}, pa.options());
  const auto q_mirror = q * m.view({1, 3, 1}) * m.view({1, 1, 3});
  const auto twin = projection_twin(pa, group);
  const auto eb = invariant_embedding(pb, group);
  std::vector<torch::Tensor> d;
  for (const auto& c : {torch::matmul(q, pa), torch::matmul(q_mirror, twin), torch::matmul(q_mirror, pa),
                        torch::matmul(q, twin)})
    d.push_back((eb - invariant_embedding(c, group)).pow(2).sum(1) / 4.0);
  return std::get<0>(torch::stack(d, 1).min(1)).mean();
}

torch::Tensor stereo_rotation_loss(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                                   const std::string& group) {
  return stereo_distance(pa, pb, offset, group).mean();
}

torch::Tensor stereo_residual_deg(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                                  const std::string& group) {
  // d = sin^2(angle / 2).
  return 2.0 * torch::asin(torch::clamp(stereo_distance(pa, pb, offset, group), 0.0, 1.0).sqrt()) * (180.0 / M_PI);
}

}  // namespace emgan::orient
