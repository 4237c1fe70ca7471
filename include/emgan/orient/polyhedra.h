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

}  // namespace emgan::orient
