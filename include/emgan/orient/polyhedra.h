#pragma once
/// \file polyhedra.h
/// 3D orientation pieces: convex polyhedra of nanoparticle shapes, their HAADF-like
/// projections (the line integral of a uniform density along the beam, i.e. the
/// chord length through the solid), their proper rotation groups, the continuous 6D
/// rotation representation, and geodesic distances modulo a shape's rotation group.
/// Rotations are `[N, 3, 3]` float32 matrices acting on column vectors in the
/// particle frame (x right, y down the image, z along the beam); angles in degrees.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace emgan::orient {

/// A convex polyhedron as the intersection of half-spaces normal . x <= offset, with
/// unit outward `normals` `[F, 3]` and `offsets` `[F]` (circumradius scaled to 1).
struct Polyhedron {
  std::string name;
  torch::Tensor normals;  ///< `[F, 3]` float32, unit length
  torch::Tensor offsets;  ///< `[F]` float32, > 0
  std::string group;      ///< name of its rotation group: T, O, I or D5
};

/// The shapes known: tetrahedron, cube, octahedron, cuboctahedron, decahedron
/// (pentagonal bipyramid), icosahedron, truncated_octahedron.
std::vector<std::string> polyhedron_names();
/// The polyhedron `name` scaled to circumradius 1; ConfigError listing the names otherwise.
Polyhedron make_polyhedron(const std::string& name);

/// The proper rotation group `name` as `[G, 3, 3]`: "T" (12, tetrahedral), "O" (24,
/// octahedral: cube, octahedron, cuboctahedron, truncated octahedron), "I" (60,
/// icosahedral), "D5" (10, five-fold about z). Built as the closure of generators.
torch::Tensor rotation_group(const std::string& name);

/// Projections `[N, 1, size, size]`: for each rotation R of `rotations` `[N, 3, 3]`,
/// the chord length (pixels) of the rotated solid R x along z through each pixel
/// centre, for a circumradius of `radius_px` pixels, averaged over a `supersample`^2
/// sub-grid. On the device of `rotations`.
/// `cx_px`, `cy_px` `[N]` (optional): the particle centre relative to the image
/// centre, pixels (x right, y down); undefined = centred.
torch::Tensor project_polyhedron(const Polyhedron& shape, const torch::Tensor& rotations, int64_t size,
                                 double radius_px, int64_t supersample = 2, const torch::Tensor& cx_px = {},
                                 const torch::Tensor& cy_px = {});

// ----------------------------------------------------------------------------- single-axis tilt
// A stereo tilt series about one fixed axis: the image y axis (in the image plane,
// perpendicular to the beam z). Each shape is first turned by a fixed base rotation B
// that puts one of its symmetry axes along y (4-fold for the cubic shapes, 2-fold for
// the tetrahedron, 5-fold for the icosahedron and the decahedron) and a mirror plane
// of the shape perpendicular to the beam. The orientation at tilt theta is
// R_y(theta) B. The projection is periodic in theta with period 360/k (k = the order
// of the shape's rotation symmetry about y), and, because a projection along z cannot
// tell a solid from its mirror image in z, the projection at -theta equals the one
// at theta: a single projection fixes only the folded angle (fold_angle_deg, angles.h).

/// The base rotation B `[3, 3]` float32 of shape `name` (ConfigError for an unknown name).
torch::Tensor tilt_base_rotation(const std::string& name);
/// k, the order of the rotation symmetry of shape `name` about the tilt axis y
/// (counted in its rotation group after the base rotation): 4 for the cubic shapes,
/// 2 tetrahedron, 5 icosahedron and decahedron.
int64_t tilt_order(const std::string& name);
/// Rotations `[N, 3, 3]` R_y(theta) B for tilts `theta_deg` `[N]` (degrees, right-handed about +y).
torch::Tensor tilt_rotations(const std::string& name, const torch::Tensor& theta_deg);

/// Rotations `[N, 3, 3]` by `angle_deg` `[N]` about the unit `axis` (x, y, z).
torch::Tensor axis_angle_rotation(const torch::Tensor& angle_deg, const std::vector<double>& axis);

/// The 6D representation (Zhou et al. 2019): the first two columns of each rotation,
/// `[N, 3, 3]` -> `[N, 6]`.
torch::Tensor rotation_to_6d(const torch::Tensor& rotations);
/// Gram-Schmidt of two 3-vectors `[N, 6]` (any, not collinear) -> rotations `[N, 3, 3]`;
/// continuous and differentiable, the representation a network should predict.
torch::Tensor rotation_from_6d(const torch::Tensor& six);

/// Geodesic angle between rotations `a` and `b` `[N, 3, 3]`, degrees in [0, 180].
torch::Tensor geodesic_deg(const torch::Tensor& a, const torch::Tensor& b);
/// The smallest geodesic angle between `a` and `b` g over the elements g of `group`
/// `[G, 3, 3]` (the shape looks the same in orientations b and b g): 0 for
/// symmetry-equivalent orientations. `[N]` degrees.
torch::Tensor geodesic_mod_group_deg(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& group);

// ----------------------------------------------------------------------------- full 3D orientation
// A particle at a uniformly random rotation R in SO(3); a stereo pair = its projection
// and that of R_off R, R_off a known tilt about a known axis in the image plane.
// Predictions are defined modulo the shape's rotation group G acting on the right
// (the solid R g x is the solid R x), and, for one projection, modulo its *twin*:
// a projection along z cannot tell the solid R S from its mirror image M R S
// (M = diag(1, 1, -1)), and M R S = M R sigma S = T(R) S with the proper rotation
// T(R) = M R sigma, sigma an improper symmetry of the shape (projection_twin).

/// `n` rotations `[n, 3, 3]` drawn uniformly (Haar measure) from SO(3): normalised
/// Gaussian quaternions. Uses torch's default generator, or `generator` when given.
torch::Tensor random_rotations(int64_t n, const torch::TensorOptions& options = {},
                               c10::optional<at::Generator> generator = c10::nullopt);

/// Rotations `[N, 3, 3]` by `angle_deg` `[N]` about per-sample unit axes `axis` `[N, 3]`
/// (right-handed, Rodrigues).
torch::Tensor axis_angle_rotations(const torch::Tensor& angle_deg, const torch::Tensor& axis);

/// An improper symmetry sigma `[3, 3]` (det -1, sigma^2 = 1) of the shapes of rotation
/// group `group`: the inversion -1 for O and I (the cubic shapes and the icosahedron
/// are centrosymmetric), the mirror x <-> y for T, the mirror z -> -z for D5.
torch::Tensor improper_symmetry(const std::string& group);

/// The projection twin T(R) = M R sigma `[N, 3, 3]` of rotations `r` `[N, 3, 3]` (M =
/// diag(1, 1, -1), sigma = improper_symmetry(group)): a proper rotation whose projection
/// along the beam equals that of R, and in general not R g for any g in G. T(T(R)) = R,
/// T(R g) = T(R) sigma g sigma, T(Q R) = (M Q M) T(R).
torch::Tensor projection_twin(const torch::Tensor& r, const std::string& group);

/// Geodesic error of one projection's predicted rotation `pred` against the truth `truth`
/// `[N, 3, 3]`, modulo the group and the twin: min(geodesic_mod_group_deg(pred, truth),
/// geodesic_mod_group_deg(pred, T(truth))), `[N]` degrees.
torch::Tensor projection_error_deg(const torch::Tensor& pred, const torch::Tensor& truth, const std::string& group);

/// The supervised loss for full 3D orientation: per sample the smallest
/// |pred - C|_F^2 / 8 = sin^2(angle / 2) over the candidates C = truth g and T(truth) g
/// (g in the group `group`), averaged over N. `pred`, `truth` `[N, 3, 3]`. 0 for a
/// prediction equivalent to the truth, at most 1. Differentiable in `pred`.
torch::Tensor rotation_loss_mod_group(const torch::Tensor& pred, const torch::Tensor& truth, const std::string& group);

/// The label-free stereo loss for full 3D orientation: image b shows the particle of
/// image a after the known tilt `offset` `[N, 3, 3]` (about an in-plane axis), so the
/// predictions `pa`, `pb` `[N, 3, 3]` must satisfy pb = Q C g for some g in the group
/// and one of the four twin branches: C = pa or T(pa), Q = offset or M offset M (both
/// images right, both twins, or one of each). Per pair the smallest
/// |pb - Q C g|_F^2 / 8 over the 4 |G| candidates, averaged over N; 0 for the true
/// rotations or their twins, at most 1. Differentiable in both.
torch::Tensor stereo_rotation_loss(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                                   const std::string& group);
/// A smooth embedding of rotations modulo the group: the moment tensor of the orbit
/// {R g u : g in G} of a fixed generic unit vector u, averaged over G and flattened,
/// of the degree of the group's first invariant harmonic (whose stabiliser is G): 3 for
/// T, 4 for O, 6 for I, and 2 and 5 for D5 (the axis, then the pentagon), `[N, 3^d]`
/// (concatenated for D5; a block has norm <= 1). Invariant under R -> R g.
torch::Tensor invariant_embedding(const torch::Tensor& r, const std::string& group);

/// The stereo loss of stereo_rotation_loss on invariant_embedding instead of the
/// nearest of the 4 |G| candidates: min over the four twin branches of
/// |Phi(pb) - Phi(Q C)|^2 / 4, averaged over N. No minimum over the group, so the
/// gradient does not jump between candidates. 0 for the truth and its twins.
torch::Tensor stereo_invariant_loss(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                                    const std::string& group);

/// The per-pair residual of stereo_rotation_loss as an angle: `[N]` degrees, 0 for
/// predictions consistent with the known tilt (a diagnostic of label-free training).
torch::Tensor stereo_residual_deg(const torch::Tensor& pa, const torch::Tensor& pb, const torch::Tensor& offset,
                                  const std::string& group);

/// Anti-collapse term for label-free 3D orientation: mean over pairs i != j of the
/// rotations `r` `[N, 3, 3]` (N >= 2) of exp(-d_ij / tau), d_ij = the smallest
/// |r_i - r_j g|_F^2 / 8 = sin^2(angle / 2) over g in the group and the twin of r_j.
/// 1 when all predictions coincide modulo the group (collapse), about
/// exp(-0.1 / tau) when they are spread uniformly; `tau` > 0 sets the length scale
/// (0.05: about 26 degrees). Differentiable in `r`.
torch::Tensor rotation_spread_penalty(const torch::Tensor& r, const std::string& group, double tau = 0.05);

/// The rotation group of a shape of `order` rotations (12 T, 24 O, 60 I, 10 D5): the
/// id the polyhedron3d data kind stores as `order`; ConfigError for other values.
std::string group_of_order(int64_t order);

}  // namespace emgan::orient
