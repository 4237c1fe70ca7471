// Full 3D orientation (data kind polyhedron3d): uniform rotations, the projection twin,
// the supervised and stereo losses modulo a rotation group, and the workflow end to end.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/core/fs.h"
#include "emgan/io/image.h"
#include "emgan/orient/orient.h"
#include "emgan/orient/polyhedra.h"
#include "emgan/orient/render.h"
#include "orient_test_util.h"
#include "test_util.h"

using namespace emgan;
using namespace emgan::orient;
using emgan::test::tiny_train;

namespace {

torch::Tensor read_tensor(const fs::path& file, const std::string& name) {
  torch::serialize::InputArchive ar;
  ar.load_from(file.string());
  torch::Tensor t;
  ar.read(name, t);
  return t;
}

DataSettings data3d(const fs::path& dir, int64_t count, uint64_t seed) {
  DataSettings d;
  d.out = dir.string();
  d.kind = "polyhedron3d";
  d.polyhedra = {"cube"};
  d.count = count;
  d.size = 32;
  d.offset_min_deg = 10.0;
  d.offset_max_deg = 20.0;
  d.doses = {200.0};
  d.gaussian_sigma = 0.02;
  d.supersample = 2;
  d.runtime.device = "cpu";
  d.runtime.threads = 1;
  d.runtime.seed = seed;
  return d;
}

/// The message of the ConfigError `fn` throws ("" when it throws none).
template <typename Fn>
std::string config_error(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

/// `n` rotations by `angle_deg` about random in-plane axes (the stereo tilts).
torch::Tensor in_plane_tilts(int64_t n, double angle_deg) {
  const auto phi = torch::rand({n}) * (2 * M_PI);
  const auto axis = torch::stack({torch::cos(phi), torch::sin(phi), torch::zeros_like(phi)}, 1);
  return axis_angle_rotations(torch::full({n}, angle_deg), axis);
}

}  // namespace

TEST(OrientRotations, RandomRotationsAreProperAndUniform) {
  torch::manual_seed(0);
  const auto r = random_rotations(4000);
  const auto eye = torch::eye(3).expand({4000, 3, 3});
  EXPECT_LT((torch::matmul(r, r.transpose(1, 2)) - eye).abs().max().item<double>(), 1e-5);
  EXPECT_LT((torch::det(r) - 1).abs().max().item<double>(), 1e-5);
  EXPECT_LT(r.mean(0).abs().max().item<double>(), 0.05);  // Haar: E[R] = 0
  // Haar measure: the mean rotation angle is pi/2 + 2/pi rad = 126.48 degrees.
  EXPECT_NEAR(geodesic_deg(r, eye.contiguous()).mean().item<double>(), 126.48, 2.0);
  // Modulo the cube's group: the mean misorientation angle is 40.74 degrees (Mackenzie 1958).
  EXPECT_NEAR(
      geodesic_mod_group_deg(r, eye.contiguous(), rotation_group("O")).mean().item<double>(), 40.74,
      1.0);
  // The batched axis-angle form agrees with the single-axis one.
  const auto one = axis_angle_rotation(torch::tensor({33.0, -70.0}), {0.6, 0.8, 0});
  const auto many = axis_angle_rotations(torch::tensor({33.0, -70.0}),
                                         torch::tensor({{0.6f, 0.8f, 0.0f}, {3.0f, 4.0f, 0.0f}}));
  EXPECT_LT((one - many).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(axis_angle_rotations(torch::tensor({1.0}), torch::zeros({1, 2})), ConfigError);
}

TEST(OrientRotations, ProjectionTwinLooksTheSameButIsAnotherOrientation) {
  torch::manual_seed(1);
  const auto r = random_rotations(3);
  for (const auto& name : polyhedron_names()) {
    const auto shape = make_polyhedron(name);
    const auto twin = projection_twin(r, shape.group);
    EXPECT_LT((torch::det(twin) - 1).abs().max().item<double>(), 1e-5) << name;
    EXPECT_LT((projection_twin(twin, shape.group) - r).abs().max().item<double>(), 1e-5) << name;
    const auto p = project_polyhedron(shape, r, 24, 9.0, 1),
               pt = project_polyhedron(shape, twin, 24, 9.0, 1);
    EXPECT_LT((p - pt).abs().max().item<double>(), 1e-3) << name;
    // ... but the twin is not the same orientation modulo the group.
    EXPECT_GT(geodesic_mod_group_deg(r, twin, rotation_group(shape.group)).min().item<double>(),
              5.0)
        << name;
    EXPECT_LT(projection_error_deg(twin, r, shape.group).max().item<double>(), 0.1) << name;
  }
}

TEST(OrientRotations, SupervisedLossZeroForEquivalentRotationsPositiveOtherwise) {
  torch::manual_seed(2);
  for (const char* group : {"T", "O", "I", "D5"}) {
    const auto g = rotation_group(group);
    const int64_t n = g.size(0);
    const auto r = random_rotations(n);
    EXPECT_LT(rotation_loss_mod_group(torch::matmul(r, g), r, group).item<double>(), 1e-6) << group;
    EXPECT_LT(rotation_loss_mod_group(torch::matmul(projection_twin(r, group), g), r, group)
                  .item<double>(),
              1e-6)
        << group;
    EXPECT_LT(projection_error_deg(torch::matmul(r, g), r, group).max().item<double>(), 0.1)
        << group;
    // 20 degrees off: sin^2(10 deg) = 0.030 unless another candidate is nearer.
    const auto off = torch::matmul(in_plane_tilts(n, 20.0), r);
    const double loss = rotation_loss_mod_group(off, r, group).item<double>();
    EXPECT_GT(loss, 0.02) << group;
    EXPECT_LT(loss, 0.031) << group;
    const auto e = projection_error_deg(off, r, group);
    EXPECT_LT(e.max().item<double>(), 20.05) << group;
    EXPECT_GT(e.mean().item<double>(), 15.0) << group;
  }
  // Differentiable: the gradient moves a prediction towards the truth.
  const auto r = random_rotations(4);
  auto six = rotation_to_6d(torch::matmul(in_plane_tilts(4, 30.0), r)).clone().requires_grad_(true);
  const double before = rotation_loss_mod_group(rotation_from_6d(six), r, "O").item<double>();
  auto loss = rotation_loss_mod_group(rotation_from_6d(six), r, "O");
  loss.backward();
  const auto stepped = (six - 0.5 * six.grad()).detach();
  EXPECT_LT(rotation_loss_mod_group(rotation_from_6d(stepped), r, "O").item<double>(), before);
}

TEST(OrientRotations, StereoLossZeroForTheTruthAndTwinsPositiveOtherwise) {
  torch::manual_seed(3);
  for (const char* group : {"T", "O", "I", "D5"}) {
    const auto g = rotation_group(group);
    const int64_t n = g.size(0);
    const auto ra = random_rotations(n);
    const auto q = in_plane_tilts(n, 15.0);
    const auto rb = torch::matmul(q, ra);
    const auto perm = torch::randperm(n);
    const auto ga = torch::matmul(ra, g),
               gb = torch::matmul(rb, g.index_select(0, perm));  // any representatives
    const auto ta = projection_twin(ga, group), tb = projection_twin(gb, group);
    EXPECT_LT(stereo_rotation_loss(ga, gb, q, group).item<double>(), 1e-6) << group;
    EXPECT_LT(stereo_rotation_loss(ta, tb, q, group).item<double>(), 1e-6) << group;  // both twins
    EXPECT_LT(stereo_rotation_loss(ga, tb, q, group).item<double>(), 1e-6) << group;  // one of each
    EXPECT_LT(stereo_rotation_loss(ta, gb, q, group).item<double>(), 1e-6) << group;
    // Image b predicted without the tilt, or tilted about the beam axis instead: 15 degrees
    // off (sin^2(7.5 deg) = 0.017).
    EXPECT_GT(stereo_rotation_loss(ga, ga, q, group).item<double>(), 0.01) << group;
    const auto about_z = axis_angle_rotation(torch::full({n}, 15.0), {0, 0, 1});
    EXPECT_GT(stereo_rotation_loss(ga, torch::matmul(about_z, ga), q, group).item<double>(), 0.005)
        << group;
    // The smooth variant on the invariant embedding: the same zeros, positive otherwise.
    EXPECT_LT((invariant_embedding(ga, group) - invariant_embedding(ra, group))
                  .abs()
                  .max()
                  .item<double>(),
              1e-5)
        << group;
    EXPECT_LT(stereo_invariant_loss(ga, gb, q, group).item<double>(), 1e-8) << group;
    EXPECT_LT(stereo_invariant_loss(ta, tb, q, group).item<double>(), 1e-8) << group;
    EXPECT_LT(stereo_invariant_loss(ga, tb, q, group).item<double>(), 1e-8) << group;
    EXPECT_GT(stereo_invariant_loss(ga, ga, q, group).item<double>(), 1e-4) << group;
  }
  EXPECT_EQ(group_of_order(24), "O");
  // The spread term: 1 for predictions equal modulo the group or twins, small for spread ones.
  const auto r = random_rotations(24);
  const auto same = torch::cat({torch::matmul(r[0].expand({24, 3, 3}), rotation_group("O")),
                                projection_twin(r.slice(0, 0, 1), "O")});
  EXPECT_NEAR(rotation_spread_penalty(same, "O").item<double>(), 1.0, 1e-4);
  EXPECT_LT(rotation_spread_penalty(r, "O").item<double>(), 0.3);
  const auto msg = config_error([] { group_of_order(7); });
  EXPECT_NE(msg.find("7"), std::string::npos) << msg;
}

TEST(OrientRotations, RotatingAnImageTurnsTheParticleAboutTheBeam) {
  torch::manual_seed(4);
  const auto shape = make_polyhedron("cube");
  const auto r = random_rotations(2);
  const auto angle = torch::tensor({30.0f, -115.0f});
  const auto turned = project_polyhedron(
      shape, torch::matmul(axis_angle_rotation(angle, {0, 0, 1}), r), 48, 14.0, 2);
  const auto rotated = rotate_images(project_polyhedron(shape, r, 48, 14.0, 2), angle);
  const auto wrong = rotate_images(project_polyhedron(shape, r, 48, 14.0, 2), -angle);
  const double scale = turned.abs().max().item<double>();
  // Bilinear resampling blurs edges: compare the mean difference, and against the other sense.
  const double err = (rotated - turned).abs().mean().item<double>(),
               err_wrong = (wrong - turned).abs().mean().item<double>();
  EXPECT_LT(err, 0.02 * scale) << err;
  EXPECT_GT(err_wrong, 3.0 * err) << err_wrong << " vs " << err;
  EXPECT_THROW(rotate_images(torch::zeros({2, 1, 8, 6}), angle), ConfigError);
}

TEST(OrientWorkflow3d, DataMatchesItsLabelsAndRejectsBadSettings) {
  const auto dir = test::temp_dir();
  auto d = data3d(dir / "d", 8, 11);
  d.polyhedra = {"cube", "icosahedron"};
  d.doses = {0.0};  // no noise: the images must be the projections the labels describe
  d.gaussian_sigma = 0.0;
  run_data(d);
  const auto pairs = dir / "d" / "pairs.pt", labels = dir / "d" / "labels.pt";
  const auto a = read_tensor(pairs, "a"), b = read_tensor(pairs, "b"),
             order = read_tensor(pairs, "order");
  const auto axis = read_tensor(pairs, "offset_axis"), q = read_tensor(pairs, "offset_rot"),
             tilt = read_tensor(pairs, "offset_deg");
  const auto ra = read_tensor(labels, "rot_a"), rb = read_tensor(labels, "rot_b");
  const auto radius = read_tensor(labels, "radius_px"), cx = read_tensor(labels, "cx_px"),
             cy = read_tensor(labels, "cy_px");
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{8, 1, 32, 32}));
  EXPECT_EQ(q.sizes(), (std::vector<int64_t>{8, 3, 3}));
  EXPECT_LT(axis.select(1, 2).abs().max().item<double>(),
            1e-6);  // the tilt axis lies in the image plane
  EXPECT_LT((torch::matmul(q, ra) - rb).abs().max().item<double>(), 1e-5);
  EXPECT_LT((geodesic_deg(ra, rb) - tilt).abs().max().item<double>(), 0.05);
  EXPECT_GE(tilt.min().item<double>(), 10.0);
  EXPECT_LE(tilt.max().item<double>(), 20.0);
  for (int64_t i = 0; i < 8; ++i) {
    const auto k = order[i].item<int64_t>();
    ASSERT_TRUE(k == 24 || k == 60) << k;
    const double r = radius[i].item<double>();
    const auto expect =
        project_polyhedron(make_polyhedron(k == 24 ? "cube" : "icosahedron"), ra.slice(0, i, i + 1),
                           32, r, 2, cx[i].view({1}), cy[i].view({1})) /
        (2 * r);
    EXPECT_LT((a[i] - expect[0]).abs().max().item<double>(), 1e-4) << i;
    EXPECT_NEAR(b[i].sum().item<double>(), a[i].sum().item<double>(),
                0.01 * a[i].sum().item<double>())
        << i;  // same volume
  }
  const auto ref = read_tensor(dir / "d" / "reference.pt", "ref"),
             ref_order = read_tensor(dir / "d" / "reference.pt", "ref_order");
  EXPECT_EQ(ref_order[0].item<int64_t>(), 24);
  const double rmid = 0.25 * 32;
  EXPECT_LT((ref[0] - project_polyhedron(make_polyhedron("cube"), torch::eye(3).unsqueeze(0), 32,
                                         rmid, 2)[0] /
                          (2 * rmid))
                .abs()
                .max()
                .item<double>(),
            1e-4);
  d.polyhedra = {"cube", "octahedron"};  // both of group O
  auto msg = config_error([&] { run_data(d); });
  EXPECT_NE(msg.find("octahedron"), std::string::npos) << msg;
  d.polyhedra = {"cube"};
  d.offset_max_deg = 120.0;
  msg = config_error([&] { run_data(d); });
  EXPECT_NE(msg.find("120"), std::string::npos) << msg;
}

TEST(OrientWorkflow3d, SiameseNeverReadsTheLabelFile) {
  const auto dir = test::temp_dir();
  run_data(data3d(dir / "d", 48, 12));
  run_train(tiny_train(dir / "d", dir / "clean", "siamese", 1));
  write_text_atomic(dir / "d" / "labels.pt", "corrupted: not a torch archive");
  run_train(tiny_train(dir / "d", dir / "corrupt", "siamese", 1));
  auto weights = [](const fs::path& run) {
    auto m = load_model(run, torch::kCPU);
    std::vector<torch::Tensor> ps;
    for (const auto& p : m.net->parameters()) ps.push_back(p.detach().flatten());
    return torch::cat(ps);
  };
  EXPECT_TRUE(torch::equal(weights(dir / "clean"), weights(dir / "corrupt")));
  // Automatic restarts for siamese on this kind: three candidates, the choice recorded.
  EXPECT_EQ(load_json_file(dir / "clean" / "config.json").at("restarts").get<int64_t>(), 3);
  for (const char* seed : {"seed_3", "seed_4", "seed_5"})
    EXPECT_TRUE(fs::exists(dir / "clean" / "candidates" / seed / "metrics.csv")) << seed;
  EXPECT_TRUE(fs::exists(dir / "clean" / "candidates.json"));
  auto m = load_model(dir / "clean", torch::kCPU);
  EXPECT_EQ(m.net->options.outputs(), 6);
  EXPECT_EQ(m.zero_rot.sizes(), (std::vector<int64_t>{1, 3, 3}));
  const auto a = read_tensor(dir / "d" / "pairs.pt", "a").slice(0, 0, 4);
  const auto order = torch::full({4}, 24, torch::kLong);
  const auto r = predict_rotations(m, a, order);
  EXPECT_LT((torch::det(r) - 1).abs().max().item<double>(), 1e-4);
  EXPECT_THROW(predict_angles(m, a, order), ConfigError);
  EXPECT_THROW(run_train(tiny_train(dir / "d", dir / "sup", "supervised", 1)), IoError);
  EXPECT_THROW(run_train(tiny_train(dir / "d", dir / "rec", "reconstruct", 1)), ConfigError);
  EvalSettings ev;
  ev.model = (dir / "clean").string();
  ev.data = (dir / "d").string();
  ev.runtime.device = "cpu";
  EXPECT_THROW(run_eval(ev), IoError);
}

TEST(OrientWorkflow3d, TinySupervisedBeatsChanceAndPredictsFiles) {
  const auto dir = test::temp_dir();
  run_data(data3d(dir / "train", 600, 13));
  run_data(data3d(dir / "test", 100, 14));
  run_train(tiny_train(dir / "train", dir / "sup", "supervised", 40));
  EvalSettings ev;
  ev.model = (dir / "sup").string();
  ev.data = (dir / "test").string();
  ev.runtime.device = "cpu";
  ev.runtime.threads = 1;
  const auto s = run_eval(ev);
  EXPECT_TRUE(s.rotation);
  // A uniformly random guess for a cube: modulo O alone the median is about 41.5 degrees
  // (the cubic misorientation distribution); the twin lowers it.
  EXPECT_GT(s.chance_median_error, 30.0) << s.last_line();
  EXPECT_LT(s.chance_median_error, 41.5) << s.last_line();
  EXPECT_LT(s.median_error, 0.5 * s.chance_median_error) << s.last_line();
  EXPECT_GT(s.spread_median_error, 0.5 * s.chance_median_error) << s.last_line();  // not collapsed
  for (const char* name : {"metrics.json", "error_histogram.png", "examples.png", "index.html"})
    EXPECT_TRUE(fs::exists(dir / "sup" / "eval" / name)) << name;
  // predict on image files: one rotation per file, the same as predict_rotations.
  const auto a = read_tensor(dir / "test" / "pairs.pt", "a");
  ensure_dir(dir / "files");
  for (int64_t i = 0; i < 3; ++i)
    io::write_image(dir / "files" / ("p" + std::to_string(i) + ".tif"), a[i]);
  PredictSettings ps;
  ps.model = (dir / "sup").string();
  ps.input = (dir / "files").string();
  ps.order = 24;
  ps.output = (dir / "rot.csv").string();
  ps.runtime.device = "cpu";
  const auto pred = run_predict_rotations(ps);
  ASSERT_EQ(pred.size(), 3u);
  auto m = load_model(dir / "sup", torch::kCPU);
  const auto direct = predict_rotations(m, a.slice(0, 0, 3), torch::full({3}, 24, torch::kLong));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(pred[static_cast<size_t>(i)].first, "p" + std::to_string(i) + ".tif");
    EXPECT_LT((pred[static_cast<size_t>(i)].second - direct[i]).abs().max().item<double>(), 1e-3)
        << i;
  }
  EXPECT_NE(read_text(dir / "rot.csv").find("p2.tif,24,"), std::string::npos);
  EXPECT_THROW(run_predict(ps), ConfigError);  // angles: not for a rotation model
  ps.order = 60;
  EXPECT_THROW(run_predict_rotations(ps), ConfigError);  // not the model's group
}

TEST(OrientWorkflow3d, CliDataTrainEvalPredict) {
  const auto dir = test::temp_dir();
  const std::string cli = test::cli_path() + " orient ";
  const std::string rt = " --device cpu --threads 1 ";
  auto run = [](const std::string& cmd) {
    return std::system((cmd + " > /dev/null 2>&1").c_str());
  };
  const std::string data =
      " --kind polyhedron3d --polyhedra cube --count 32 --size 32 --supersample 1";
  ASSERT_EQ(run(cli + "data --out " + (dir / "d").string() + data + rt), 0);
  ASSERT_EQ(run(cli + "train --data " + (dir / "d").string() + " --out " + (dir / "r").string() +
                " --method siamese --epochs 1 --batch-size 16 --width 4" + rt),
            0);
  ASSERT_EQ(
      run(cli + "eval --model " + (dir / "r").string() + " --data " + (dir / "d").string() + rt),
      0);
  EXPECT_TRUE(fs::exists(dir / "r" / "eval" / "error_histogram.png"));
  ensure_dir(dir / "imgs");
  io::write_image(dir / "imgs" / "p0.tif", read_tensor(dir / "d" / "pairs.pt", "a")[0]);
  ASSERT_EQ(
      run(cli + "predict --model " + (dir / "r").string() + " --input " + (dir / "imgs").string() +
          " --order 24 --output " + (dir / "rot.csv").string() + rt),
      0);
  const std::string csv = read_text(dir / "rot.csv");
  EXPECT_NE(csv.find("file,order,r00,r01,r02,r10,r11,r12,r20,r21,r22"), std::string::npos) << csv;
  EXPECT_NE(csv.find("p0.tif,24,"), std::string::npos) << csv;
  EXPECT_NE(run(cli + "data --out " + (dir / "bad").string() + data + " --offset-max 95" + rt), 0);
  EXPECT_NE(run(cli + "train --data " + (dir / "d").string() + " --out " + (dir / "r2").string() +
                " --method siamese --spread-tau 0" + rt),
            0);
}
