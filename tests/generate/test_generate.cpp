// The generate workflow: property control, training data encoding (and the
// grey-vs-phases warning), volume files, and tiny end-to-end CLI runs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/generate/generate.h"
#include "emgan/generate/property.h"
#include "emgan/generate/source.h"
#include "emgan/generate/volume_io.h"
#include "emgan/io/image.h"
#include "emgan/models/slicegan.h"
#include "emgan/report/html.h"
#include "emgan/report/metrics_log.h"
#include "test_util.h"

using namespace emgan;
using namespace emgan::generate;
namespace fs = std::filesystem;

namespace {

using Run = emgan::test::CliRun;

Run run(const std::string& args) { return emgan::test::run_cli(args); }

io::WriteOptions uint8() {
  io::WriteOptions o;
  o.dtype = "uint8";
  return o;
}

io::WriteOptions uint16() {
  io::WriteOptions o;
  o.dtype = "uint16";
  return o;
}

/// A 3-phase label image `[1, h, w]` with values 0, 127, 255 (blobs on a background).
torch::Tensor three_phase(int64_t h, int64_t w, uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto yy = torch::arange(h, torch::kFloat).view({h, 1}).expand({h, w});
  auto xx = torch::arange(w, torch::kFloat).view({1, w}).expand({h, w});
  auto field = torch::sin(yy * 0.3) + torch::cos(xx * 0.25) + 0.3 * torch::randn({h, w});
  auto labels = torch::zeros({h, w});
  labels.masked_fill_(field > 0.4, 127.0);
  labels.masked_fill_(field > 1.2, 255.0);
  return labels.unsqueeze(0);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Data rows of a CSV file (lines after the header).
int64_t report_rows(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line;
  int64_t n = -1;
  while (std::getline(in, line))
    if (!line.empty()) ++n;
  return n;
}

}  // namespace

TEST(Property, FractionLossIsTheSquaredErrorOfTheMeans) {
  // Channel means 0.25, 0.75 (x is constant per channel).
  auto x = torch::stack({torch::full({2, 3, 3}, 0.25), torch::full({2, 3, 3}, 0.75)}, 1).requires_grad_(true);
  const auto loss = fraction_loss(x, {0.5, std::nan("")}, 4.0);
  EXPECT_NEAR(loss.item<double>(), 4.0 * 0.0625, 1e-7);  // phase 1 has no target
  loss.backward();
  EXPECT_LT(x.grad().select(1, 0).max().item<double>(), 0.0);  // pushes phase 0 up
  EXPECT_EQ(x.grad().select(1, 1).abs().max().item<double>(), 0.0);
  EXPECT_EQ(fraction_loss(x, {}, 4.0).item<double>(), 0.0);
  EXPECT_THROW(fraction_loss(x, {0.5}, 1.0), ConfigError);
}

TEST(Property, MeanPairwiseDistanceGolden) {
  // Images 0, 0, 2 (1 x 2 x 2): pair distances 0, 2, 2 -> mean 4/3.
  auto x = torch::zeros({3, 1, 2, 2});
  x[2].fill_(2.0);
  EXPECT_NEAR(mean_pairwise_distance(x), 4.0 / 3.0, 1e-9);
  // One-hot, 2 phases, half the pixels differ: sqrt(2 * 0.5 / 2).
  auto a = torch::zeros({2, 2, 1, 2});
  a[0][0].fill_(1.0);
  a[1][0][0][0] = 1.0;
  a[1][1][0][1] = 1.0;
  EXPECT_NEAR(mean_pairwise_distance(a), std::sqrt(0.5), 1e-9);
  // Random images against the definition, pair by pair.
  torch::manual_seed(2);
  const auto r = torch::rand({5, 3, 4, 6});
  double sum = 0.0;
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = i + 1; j < 5; ++j)
      sum += (r[i] - r[j]).to(torch::kDouble).pow(2).mean().sqrt().item<double>();
  EXPECT_NEAR(mean_pairwise_distance(r), sum / 10.0, 1e-9);
  EXPECT_THROW(mean_pairwise_distance(torch::zeros({1, 1, 2, 2})), ConfigError);
}

TEST(Property, LabelFractionsAndRequestedFractions) {
  auto x = torch::zeros({1, 3, 2, 2});
  x.index_put_({0, 0, 0, 0}, 1.0);
  x.index_put_({0, 1, 0, 1}, 1.0);
  x.index_put_({0, 2, 1, 0}, 1.0);
  x.index_put_({0, 2, 1, 1}, 1.0);
  const auto f = label_fractions(x);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_DOUBLE_EQ(f[0], 0.25);
  EXPECT_DOUBLE_EQ(f[1], 0.25);
  EXPECT_DOUBLE_EQ(f[2], 0.5);

  Encoding enc;
  enc.kind = "phases";
  enc.channels = 3;
  GenerateTrainSettings s;
  EXPECT_TRUE(requested_fractions(s, enc).empty());
  s.target_fractions = {0.2};
  const auto r = requested_fractions(s, enc);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_DOUBLE_EQ(r[0], 0.2);
  EXPECT_TRUE(std::isnan(r[1]));
  s.target_fractions = {0.2, 0.2, 0.2};
  EXPECT_THROW(requested_fractions(s, enc), ConfigError);  // must sum to 1
  s.target_fractions = {0.2, 0.3, 0.4, 0.1};
  EXPECT_THROW(requested_fractions(s, enc), ConfigError);  // more than phases
  enc.kind = "grey";
  s.target_fractions = {0.5};
  EXPECT_THROW(requested_fractions(s, enc), ConfigError);
}

// Sample-time property control: one log-prior shift per phase brings the argmax
// fractions to the targets, changing the least certain voxels only.
TEST(Property, CalibrateFractionsShiftsThePhasePriorsToTheTargets) {
  torch::manual_seed(3);
  const auto probs = torch::softmax(2.0 * torch::randn({3, 24, 24, 24}), 0);
  const double n = 24.0 * 24.0 * 24.0;
  const std::vector<double> targets = {0.5, 0.3, 0.2};
  const auto cal = calibrate_fractions(probs, targets);
  const auto before = label_fractions(probs.unsqueeze(0));
  const auto after = label_fractions(cal.probs.unsqueeze(0));
  ASSERT_EQ(cal.after.size(), 3u);
  for (size_t p = 0; p < 3; ++p) {
    EXPECT_NEAR(before[p], 1.0 / 3.0, 0.02) << p;  // the input is far from the targets
    EXPECT_DOUBLE_EQ(cal.before[p], before[p]) << p;
    EXPECT_DOUBLE_EQ(cal.after[p], after[p]) << p;
    EXPECT_LE(std::abs(after[p] - targets[p]), std::max(1e-4, 1.0 / n)) << p;
  }
  EXPECT_LE(cal.max_error, 1e-4);
  // The output is the prior shift of the input: softmax(log p + offsets).
  const auto shift =
      torch::tensor(cal.offsets, torch::kDouble).to(torch::kFloat).view({3, 1, 1, 1});
  EXPECT_TRUE(torch::allclose(cal.probs, torch::softmax(probs.log() + shift, 0), 1e-4, 1e-6));
  // The voxels that changed phase are the ones the generator was less sure of.
  const auto changed = cal.probs.argmax(0) != probs.argmax(0);
  EXPECT_NEAR(cal.changed_share, changed.to(torch::kDouble).mean().item<double>(), 1e-12);
  const auto confidence = std::get<0>(probs.max(0));
  EXPECT_LT(confidence.masked_select(changed).mean().item<double>(),
            confidence.masked_select(changed.logical_not()).mean().item<double>());

  // Targets already met: nothing moves.
  const auto same = calibrate_fractions(probs, before);
  EXPECT_EQ(same.changed_share, 0.0);
  for (double b : same.offsets) EXPECT_EQ(b, 0.0);
  EXPECT_EQ(same.iterations, 1);

  // A target for phase 2 only: the free phases keep offset 0.
  const auto part = calibrate_fractions(probs, {std::nan(""), std::nan(""), 0.1});
  EXPECT_LE(std::abs(part.after[2] - 0.1), 1e-4);
  EXPECT_EQ(part.offsets[0], 0.0);
  EXPECT_EQ(part.offsets[1], 0.0);
  EXPECT_LT(part.offsets[2], 0.0);

  // A one-hot volume of phase 0 cannot be split (every voxel ties between 1 and 2):
  // the error is reported, not hidden.
  auto hard = torch::zeros({3, 8, 8, 8});
  hard[0].fill_(1.0);
  const auto stuck = calibrate_fractions(hard, {0.5, 0.5, 0.0});
  EXPECT_GT(stuck.max_error, 0.4);

  EXPECT_THROW(calibrate_fractions(probs, {0.5, 0.5}), ConfigError);                // count
  EXPECT_THROW(calibrate_fractions(probs, {-0.1, 0.6, 0.5}), ConfigError);          // range
  EXPECT_THROW(calibrate_fractions(probs, {0.6, 0.6, std::nan("")}), ConfigError);  // sum > 1
  EXPECT_THROW(calibrate_fractions(probs, {0.3, 0.3, 0.3}), ConfigError);           // full set != 1
  EXPECT_THROW(calibrate_fractions(torch::rand({1, 4, 4}), {1.0}), ConfigError);    // one channel
}

TEST(Source, LabelImagesAreOneHotAndCropsComeFromThem) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "a.png", three_phase(70, 80), uint8());
  const auto data = TrainingData::load({(dir / "a.png").string()}, 0, false, torch::kCPU);
  EXPECT_EQ(data.encoding().kind, "phases");
  EXPECT_EQ(data.encoding().values, (std::vector<double>{0.0, 127.0, 255.0}));
  EXPECT_FALSE(data.is_volume());
  const auto& one_hot = data.items().front();
  ASSERT_EQ(one_hot.sizes(), (std::vector<int64_t>{3, 70, 80}));
  EXPECT_TRUE(torch::equal(one_hot.sum(0), torch::ones({70, 80})));
  torch::manual_seed(0);
  const auto crops = data.crops(1, 4, 64);
  EXPECT_EQ(crops.sizes(), (std::vector<int64_t>{4, 3, 64, 64}));
  EXPECT_TRUE(torch::equal(crops.sum(1), torch::ones({4, 64, 64})));
  EXPECT_THROW(data.crops(0, 1, 96), ConfigError);  // larger than the image
  const auto m = data.channel_means();
  EXPECT_NEAR(m[0] + m[1] + m[2], 1.0, 1e-9);
  // decode maps channels back to the phase values.
  EXPECT_TRUE(torch::equal(data.decode(one_hot), three_phase(70, 80)[0]));
}

TEST(Source, GreyImageIsNotSilentlyHundredsOfPhases) {
  const auto dir = test::temp_dir();
  const auto grey = (torch::rand({1, 64, 64}) * 60000.0).round();
  io::write_image(dir / "g.tif", grey, uint16());
  const std::string path = (dir / "g.tif").string();
  try {
    TrainingData::load({path}, 0, false, torch::kCPU);
    FAIL() << "a grey image was accepted as phases";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--phases"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--grey"), std::string::npos) << msg;
    EXPECT_NE(msg.find("g.tif"), std::string::npos) << msg;
  }
  const auto as_grey = TrainingData::load({path}, 0, true, torch::kCPU);
  EXPECT_EQ(as_grey.encoding().kind, "grey");
  EXPECT_EQ(as_grey.items().front().size(0), 1);
  EXPECT_GE(as_grey.items().front().min().item<double>(), 0.0);
  EXPECT_LE(as_grey.items().front().max().item<double>(), 1.0);
  const auto as_phases = TrainingData::load({path}, 3, false, torch::kCPU);
  EXPECT_EQ(as_phases.encoding().channels, 3);
  EXPECT_EQ(as_phases.encoding().thresholds.size(), 2u);
  EXPECT_THROW(TrainingData::load({path}, 3, true, torch::kCPU), ConfigError);
}

TEST(Source, VolumeSlicesPerAxis) {
  auto labels = torch::zeros({3, 70, 66, 68});
  labels[0].fill_(1.0);  // one-hot of an all-phase-0 volume...
  labels[0].slice(0, 0, 35).fill_(0.0);
  labels[1].slice(0, 0, 35).fill_(1.0);  // ...with phase 1 in the first half along D
  Encoding enc;
  enc.channels = 3;
  enc.values = {0, 1, 2};
  TrainingData data({labels}, enc);
  EXPECT_TRUE(data.is_volume());
  EXPECT_TRUE(data.encoding().volume);
  torch::manual_seed(0);
  // Slices perpendicular to axis 1 (H) are [C, D, W] = [3, 70, 68] planes.
  const auto c = data.crops(1, 3, 64);
  EXPECT_EQ(c.sizes(), (std::vector<int64_t>{3, 3, 64, 64}));
  EXPECT_EQ(c.select(1, 2).sum().item<double>(), 0.0);
}

TEST(Property, ModeSeekingLossGolden) {
  // Halves paired: |x_a - x_b| = 1 everywhere, |z_a - z_b| = 2 -> ratio 0.5.
  const auto x = torch::tensor({0.0f, 0.0f, 1.0f, 1.0f}).reshape({2, 1, 2}).requires_grad_();
  const auto z = torch::tensor({0.0f, 2.0f}).reshape({2, 1});
  const auto loss = mode_seeking_loss(x, z, 3.0);
  EXPECT_NEAR(loss.item<double>(), 3.0 / (0.5 + 1e-5), 1e-4);
  // Its gradient pushes the two samples apart.
  loss.backward();
  EXPECT_GT(x.grad()[0].sum().item<double>(), 0.0);  // descent lowers sample a ...
  EXPECT_LT(x.grad()[1].sum().item<double>(), 0.0);  // ... and raises sample b
  // A generator that ignores z pays weight / 1e-5; weight 0 or one sample: 0.
  const auto same = torch::ones({4, 3});
  EXPECT_NEAR(mode_seeking_loss(same, torch::randn({4, 2}), 0.5).item<double>(), 0.5 / 1e-5, 1.0);
  EXPECT_EQ(mode_seeking_loss(x, z, 0.0).item<double>(), 0.0);
  EXPECT_EQ(mode_seeking_loss(x.narrow(0, 0, 1), z.narrow(0, 0, 1), 1.0).item<double>(), 0.0);
  EXPECT_THROW(mode_seeking_loss(x, torch::zeros({3, 1}), 1.0), ConfigError);
}

TEST(Property, StraightThroughOneHotIsTheArgmaxForwardAndTheProbabilitiesBackward) {
  // Two voxels of three phases: argmax phase 1 and phase 2.
  const auto p =
      torch::tensor({0.2f, 0.1f, 0.5f, 0.3f, 0.3f, 0.6f}).reshape({1, 3, 2}).requires_grad_();
  const auto h = straight_through_one_hot(p);
  EXPECT_TRUE(torch::equal(h.detach(),
                           torch::tensor({0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f}).reshape({1, 3, 2})));
  // The gradient is the identity: d sum(w * h) / dp = w.
  const auto w = torch::arange(6, torch::kFloat).reshape({1, 3, 2});
  (w * h).sum().backward();
  EXPECT_TRUE(torch::allclose(p.grad(), w));
  // Volumes [N, C, D, H, W]: one-hot over C everywhere.
  const auto v = straight_through_one_hot(torch::softmax(torch::randn({2, 3, 4, 4, 4}), 1));
  EXPECT_TRUE(torch::equal(v.sum(1), torch::ones({2, 4, 4, 4})));
  // The share argmax decides: voxel 0's best phase has 0.5 < 0.9, voxel 1's 0.6; with 0.55
  // only voxel 0; one-hot outputs none.
  EXPECT_DOUBLE_EQ(uncertain_share(p.detach()[0]), 1.0);
  EXPECT_DOUBLE_EQ(uncertain_share(p.detach()[0], 0.55), 0.5);
  EXPECT_DOUBLE_EQ(uncertain_share(v[1]), 0.0);
  EXPECT_THROW(uncertain_share(torch::rand({1, 4})), ConfigError);
  EXPECT_THROW(straight_through_one_hot(torch::rand({4})), ConfigError);
  EXPECT_THROW(straight_through_one_hot(torch::rand({2, 1, 4, 4})), ConfigError);
}

TEST(Property, VolumeDiversityTellsATiledGeneratorFromARealOne) {
  torch::manual_seed(1);
  Encoding enc;
  enc.channels = 3;
  enc.values = {0, 1, 2};
  // Real data: a 96^3 volume of independent random phases (as one-hot).
  auto one_hot = [](const torch::Tensor& labels) {
    return torch::one_hot(labels, 3).movedim(-1, 0).to(torch::kFloat);
  };
  TrainingData data({one_hot(torch::randint(3, {96, 96, 96}))}, enc);
  // Volumes like the real one: as diverse as its crops (the ratio near 1).
  std::vector<torch::Tensor> like;
  for (int i = 0; i < 6; ++i) like.push_back(one_hot(torch::randint(3, {64, 64, 64})));
  const auto [d, r] = volume_diversity(torch::stack(like), data, enc);
  EXPECT_NEAR(d / r, 1.0, 0.02);
  // Volumes as n-phase probabilities compare by their argmax phases: the same figure.
  const auto soft = torch::stack(like) * 0.5 + 0.1;
  EXPECT_NEAR(volume_diversity(soft, data, enc).first, d, 1e-9);
  // The failure seen at reduced width: one 16-voxel tile repeated in every volume.
  const auto tile = one_hot(torch::randint(3, {16, 16, 16})).repeat({1, 4, 4, 4});
  const auto tiled = tile.unsqueeze(0).expand({6, 3, 64, 64, 64}).contiguous();
  const auto [dt, rt] = volume_diversity(tiled, data, enc);
  EXPECT_EQ(dt, 0.0);
  EXPECT_GT(rt, 0.5);
  EXPECT_THROW(volume_diversity(tiled.narrow(0, 0, 1), data, enc), ConfigError);
}

TEST(Source, AugmentedCropsAreSymmetriesOfTheCrops) {
  torch::manual_seed(0);
  const auto crop = torch::rand({2, 8, 8});  // no symmetry of its own
  const auto batch = crop.unsqueeze(0).expand({256, 2, 8, 8}).contiguous();
  // The 8 elements of the square's symmetry group: flips of rows/columns, then transpose.
  std::vector<torch::Tensor> group;
  for (int t = 0; t < 2; ++t)
    for (int fy = 0; fy < 2; ++fy)
      for (int fx = 0; fx < 2; ++fx) {
        auto x = crop;
        if (fy) x = x.flip({1});
        if (fx) x = x.flip({2});
        if (t) x = x.transpose(1, 2);
        group.push_back(x);
      }
  const auto counts = [&](const torch::Tensor& out) {
    std::vector<int> seen(8, 0);
    for (int64_t i = 0; i < out.size(0); ++i) {
      int which = -1;
      for (int g = 0; g < 8; ++g)
        if (torch::equal(out[i], group[static_cast<size_t>(g)])) which = g;
      EXPECT_GE(which, 0) << "crop " << i << " is not a symmetry of the input";
      if (which >= 0) ++seen[static_cast<size_t>(which)];
    }
    return seen;
  };
  EXPECT_TRUE(torch::equal(augment_crops(batch, "none"), batch));
  // flips keep which axis is which: the 4 flips appear (each ~64 times), no transpose.
  const auto flips = counts(augment_crops(batch, "flips"));
  for (int g = 0; g < 4; ++g) EXPECT_GT(flips[static_cast<size_t>(g)], 30) << "flip " << g;
  for (int g = 4; g < 8; ++g) EXPECT_EQ(flips[static_cast<size_t>(g)], 0) << "transpose " << g;
  const auto dihedral = counts(augment_crops(batch, "dihedral"));
  for (int g = 0; g < 8; ++g) EXPECT_GT(dihedral[static_cast<size_t>(g)], 10) << "element " << g;
  // Seeded: the same draws again.
  torch::manual_seed(5);
  const auto a = augment_crops(batch, "dihedral");
  torch::manual_seed(5);
  EXPECT_TRUE(torch::equal(a, augment_crops(batch, "dihedral")));
  try {
    augment_crops(batch, "rotate");
    ADD_FAILURE() << "an unknown mode was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rotate"), std::string::npos) << e.what();
  }
}

TEST(VolumeIo, VtiHeaderAndPayload) {
  const auto dir = test::temp_dir();
  const auto v = torch::arange(2 * 3 * 4, torch::kFloat).reshape({2, 3, 4});
  write_vti(dir / "v.vti", v, "phase", true, 0.5);
  const auto text = read_all(dir / "v.vti");
  EXPECT_NE(text.find("WholeExtent=\"0 3 0 2 0 1\""), std::string::npos);
  EXPECT_NE(text.find("Spacing=\"0.5 0.5 0.5\""), std::string::npos);
  EXPECT_NE(text.find("type=\"UInt8\" Name=\"phase\""), std::string::npos);
  const auto at = text.find("_", text.find("<AppendedData"));
  ASSERT_NE(at, std::string::npos);
  uint64_t bytes = 0;
  for (int i = 0; i < 8; ++i) bytes |= static_cast<uint64_t>(static_cast<unsigned char>(text[at + 1 + i])) << (8 * i);
  EXPECT_EQ(bytes, 24u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(static_cast<unsigned char>(text[at + 9 + i]), i);  // x fastest
  EXPECT_NE(text.find("</VTKFile>", at + 9 + 24), std::string::npos);

  const auto files = write_volume_files(dir, "s", v * 10.0, true);
  for (const auto& f : {files.tiff, files.npy, files.vti, files.slices}) EXPECT_TRUE(fs::exists(f)) << f;
  const auto back = io::read_image(files.tiff).data;
  EXPECT_TRUE(torch::equal(back.reshape({2, 3, 4}), v * 10.0));
}

TEST(GenerateCli, SliceGanTrainResumeSampleCompare) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(72, 72), uint8());
  // A 64^3 "real" volume for the statistics comparison (slices of the same kind).
  std::vector<torch::Tensor> planes;
  for (int64_t i = 0; i < 64; ++i) planes.push_back(three_phase(64, 64, i)[0]);
  io::write_image(dir / "real.tif", torch::stack(planes).unsqueeze(0), uint8());
  const fs::path run_dir = dir / "run";
  const std::string common =
      " --model slicegan --data " + (dir / "img.png").string() + " --out " + run_dir.string() +
      " --batch-size 1 --real-batch 2 --width 0.03125 --latent-channels 4 --critic-steps 2"
      " --slices-per-volume 16 --log-every 1 --checkpoint-every 1 --target-fractions 0.3 0.3 0.4 "
      "--threads 1";
  auto r = run("generate train --iterations 2" + common);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("iterations=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("requested=0.3,0.3,0.4"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "metrics.csv", "checkpoint.pt", "model.pt", "curves.png", "index.html",
                        "samples/sample_0.tif", "samples/sample_0.vti", "samples/sample_0.npy",
                        "samples/sample_0_slices.png"})
    EXPECT_TRUE(fs::exists(run_dir / f)) << f;
  const auto config = load_json_file(run_dir / "config.json");
  EXPECT_EQ(config.at("encoding").at("channels"), 3);
  EXPECT_EQ(config.at("width"), 0.03125);
  EXPECT_EQ(config.at("slices_per_volume"), 16);
  // The mode-collapse check ran at the last iteration (central slices of 16 volumes),
  // with the slice connectivity of each phase in the volumes and in real crops.
  EXPECT_EQ(report_rows(run_dir / "diversity.csv"), 1);
  {
    const auto log = report::read_metrics_log(run_dir / "diversity.csv");
    for (int p = 0; p < 3; ++p)
      for (const std::string col : {"connectivity_", "real_connectivity_"}) {
        const auto& v = log.column(col + std::to_string(p));
        ASSERT_EQ(v.size(), 1u) << col << p;
        EXPECT_GT(v[0], 0.0) << col << p;  // a share of the phase's pixels: (0, 1]
        EXPECT_LE(v[0], 1.0) << col << p;
      }
    EXPECT_TRUE(fs::exists(run_dir / "connectivity.png"));
    EXPECT_NE(read_all(run_dir / "index.html").find("connectivity.png"), std::string::npos);
  }
  // No optimiser flags: SliceGAN's own Adam settings, and every model's defaults saved.
  EXPECT_EQ(config.at("effective_optimizer").at("lr"), 1e-4);
  EXPECT_EQ(config.at("effective_optimizer").at("beta1"), 0.9);
  EXPECT_EQ(config.at("effective_optimizer").at("beta2"), 0.99);
  EXPECT_EQ(config.at("optim").at("dcgan").at("lr"), 2e-4);
  // A negative slice count is refused by name.
  std::string bad = common;
  bad.replace(bad.find("--slices-per-volume 16"), 22, "--slices-per-volume -1");
  r = run("generate train --iterations 1" + bad);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("slices_per_volume = -1"), std::string::npos) << r.out;
  // The mode-seeking term compares pairs: refused at batch size 1, naming both.
  r = run("generate train --iterations 1 --mode-seeking 1" + common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("mode_seeking = 1 needs batch_size >= 2"), std::string::npos) << r.out;
  // Without --resume an existing run is not overwritten; with it training continues.
  r = run("generate train --iterations 3" + common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
  // A log from a version without the connectivity columns is rewritten under the new
  // header on resume: the old row kept, its missing values nan.
  {
    std::ofstream old(run_dir / "diversity.csv", std::ios::trunc);
    old << "iteration,time,diversity,real_diversity,ratio\n2,1.5,0.25,0.5,0.5\n";
  }
  r = run("generate train --iterations 3 --resume" + common);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed"), std::string::npos) << r.out;
  EXPECT_EQ(report_rows(run_dir / "metrics.csv"), 3);
  EXPECT_TRUE(fs::exists(run_dir / "wasserstein.png"));
  EXPECT_NE(read_all(run_dir / "index.html").find("wasserstein.png"), std::string::npos);
  {
    // One Wasserstein estimate per slicing axis; their mean is the overall one.
    const auto m = report::read_metrics_log(run_dir / "metrics.csv");
    for (size_t i = 0; i < m.rows(); ++i) {
      const double mean = (m.column("wasserstein_z")[i] + m.column("wasserstein_y")[i] +
                           m.column("wasserstein_x")[i]) /
                          3.0;
      EXPECT_NEAR(mean, m.column("wasserstein")[i], 1e-4 * (1.0 + std::abs(mean))) << "row " << i;
    }
  }
  {
    EXPECT_NE(r.out.find("rewritten with the columns of this version"), std::string::npos) << r.out;
    const auto log = report::read_metrics_log(run_dir / "diversity.csv");
    ASSERT_EQ(log.rows(), 2u);
    EXPECT_EQ(log.column("ratio")[0], 0.5);
    EXPECT_TRUE(std::isnan(log.column("connectivity_0")[0]));
    EXPECT_GT(log.column("connectivity_0")[1], 0.0);
  }

  const fs::path out = dir / "samples";
  r = run("generate sample --model " + run_dir.string() + " --out " + out.string() +
          " --size 70 --count 1 --no-tortuosity --threads 1 --compare " + (dir / "real.tif").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto vol = io::read_image(out / "samples/sample_0.tif").data;
  EXPECT_EQ(vol.sizes(), (std::vector<int64_t>{1, 70, 70, 70}));
  EXPECT_TRUE(fs::exists(out / "stats_0/index.html"));
  EXPECT_TRUE(fs::exists(out / "index.html"));
  const auto cmp = load_json_file(out / "stats_comparison.json");
  ASSERT_EQ(cmp.size(), 1u);
  EXPECT_FALSE(fs::exists(out / "stats_pooled.json"));  // one volume: nothing to pool
  // Two volumes: taken together against the real one, and the spread between the volumes
  // of each tortuosity difference (the sample standard deviation of the two).
  r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "two").string() +
          " --size 64 --count 2 --tortuosity --threads 1 --compare " + (dir / "real.tif").string());
  ASSERT_EQ(r.code, 0) << r.out;
  {
    const auto each = load_json_file(dir / "two/stats_comparison.json");
    const auto pooled = load_json_file(dir / "two/stats_pooled.json");
    ASSERT_EQ(each.size(), 2u);
    EXPECT_EQ(pooled.at("volumes"), 2);
    EXPECT_NE(read_all(dir / "two/index.html").find("Statistics of all volumes taken together"),
              std::string::npos);
    EXPECT_TRUE(fs::exists(dir / "two/stats_pooled/index.html"));
    int finite = 0;
    for (size_t p = 0; p < 3; ++p) {
      const double mean = (each[0].at("other").at("phases")[p].at("fraction").get<double>() +
                           each[1].at("other").at("phases")[p].at("fraction").get<double>()) /
                          2.0;
      EXPECT_NEAR(pooled.at("generated").at("other").at("phases")[p].at("fraction").get<double>(),
                  mean, 1e-9)
          << "phase " << p;
      for (size_t a = 0; a < 3; ++a) {
        const auto& d0 = each[0].at("differences")[p].at("tau_rel_diff")[a];
        const auto& d1 = each[1].at("differences")[p].at("tau_rel_diff")[a];
        const auto& sd = pooled.at("tau_rel_diff_sd")[p][a];
        if (d0.is_number() && d1.is_number()) {
          ++finite;
          EXPECT_NEAR(sd.get<double>(),
                      std::abs(d0.get<double>() - d1.get<double>()) / std::sqrt(2.0), 1e-9)
              << "phase " << p << " axis " << a;
        } else {
          EXPECT_TRUE(sd.is_null()) << "phase " << p << " axis " << a;
        }
      }
    }
    EXPECT_GT(finite, 0);  // some phase percolates in both volumes and the real one
    // The last line names the worst pooled tortuosity difference (relative, any phase/axis).
    double worst = 0.0;
    for (const auto& d : pooled.at("generated").at("differences"))
      for (const auto& t : d.at("tau_rel_diff"))
        if (t.is_number()) worst = std::max(worst, std::abs(t.get<double>()));
    std::ostringstream want;
    want << "pooled_max_tau_diff=" << report::format_number(worst, 4);
    EXPECT_NE(r.out.find(want.str()), std::string::npos) << want.str() << "\n" << r.out;
  }
  // Calibrated to the model's target fractions, or to given ones (phase 0 only here).
  r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "cal").string() +
          " --size 64 --count 2 --match-fractions --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("calibrated;"), std::string::npos) << r.out;
  {
    const auto summary = load_json_file(dir / "cal/summary.json");
    const std::vector<double> want = {0.3, 0.3, 0.4};
    ASSERT_EQ(summary.at("fractions").size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      const auto vol =
          io::read_image(dir / "cal/samples" / ("sample_" + std::to_string(i) + ".tif")).data;
      for (size_t p = 0; p < 3; ++p) {
        // The written labels have the target fractions (values 0, 127, 255 of the data).
        const double value = std::array<double, 3>{0.0, 127.0, 255.0}[p];
        const double f = (vol == value).to(torch::kDouble).mean().item<double>();
        EXPECT_LE(std::abs(f - want[p]), 1e-4) << "sample " << i << " phase " << p;
        EXPECT_NEAR(summary.at("fractions")[i][p].get<double>(), f, 1e-9);
      }
      EXPECT_EQ(summary.at("calibration").at("samples")[i].at("before").size(), 3u);
    }
    EXPECT_NE(read_all(dir / "cal/index.html").find("Fraction calibration"), std::string::npos);
  }
  r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "cal1").string() +
          " --size 64 --fractions 0.25 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_LE(std::abs(load_json_file(dir / "cal1/summary.json").at("fractions")[0][0].get<double>() -
                     0.25),
            1e-4);
  r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "cal2").string() +
          " --size 32 --fractions 0.25 0.25 0.25 0.25 --threads 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("4 values for 3 phases"), std::string::npos) << r.out;
  r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "cal3").string() +
          " --size 32 --fractions 0.25 --match-fractions --threads 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("not both"), std::string::npos) << r.out;

  r = run("generate sample --model " + (run_dir / "model.pt").string() + " --out " + (dir / "per").string() +
          " --periodic --size 40 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(io::read_image(dir / "per/samples/sample_0.tif").data.size(1), 64);  // rounded up to 32 l
}

/// Every parameter of critic `name` ("D0", "D1", "D2") in a slicegan checkpoint, flattened.
torch::Tensor critic_weights(const fs::path& checkpoint, const std::string& name, double width) {
  torch::serialize::InputArchive root, modules, critic;
  root.load_from(checkpoint.string());
  root.read("models", modules);
  modules.read(name, critic);
  models::SliceGanCriticOptions o;
  o.channels = 3;
  o.width = width;
  models::SliceGanCritic c(o);
  c->load(critic);
  std::vector<torch::Tensor> flat;
  for (const auto& p : c->parameters()) flat.push_back(p.detach().flatten());
  return torch::cat(flat);
}

// --reset-critics restarts the named critics of a resumed run (new weights) and leaves the
// others; it is done once: recorded in config.json's history, not repeated by a resume
// with that config. Misuse is refused by name.
TEST(GenerateCli, SliceGanResetCriticsRestartsOnlyTheNamedOnes) {
  const auto dir = test::temp_dir();
  std::vector<torch::Tensor> planes;
  for (int64_t i = 0; i < 64; ++i) planes.push_back(three_phase(64, 64, i)[0]);
  io::write_image(dir / "vol.tif", torch::stack(planes).unsqueeze(0), uint8());
  const fs::path run_dir = dir / "run";
  const double width = 0.03125;
  // A tiny learning rate: the critics that continue move by ~1e-6 per step, a restarted
  // one lands anywhere its initialisation puts it.
  const std::string common =
      " --model slicegan --data " + (dir / "vol.tif").string() + " --out " + run_dir.string() +
      " --batch-size 1 --real-batch 2 --width 0.03125 --latent-channels 4 --critic-steps 1"
      " --slices-per-volume 8 --diversity-every 0 --log-every 1 --lr 1e-6 --threads 1";
  auto r = run("generate train --iterations 2" + common);
  ASSERT_EQ(r.code, 0) << r.out;
  // Only on resume of a run that exists, only named axes, each once.
  std::string elsewhere = common;
  elsewhere.replace(elsewhere.find(run_dir.string()), run_dir.string().size(),
                    (dir / "none").string());
  r = run("generate train --iterations 3 --reset-critics y" + elsewhere);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("it needs --model slicegan and --resume"), std::string::npos) << r.out;
  r = run("generate train --iterations 3 --resume --reset-critics w" + common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("reset_critics = 'w' is not one of: z, y, x"), std::string::npos) << r.out;
  r = run("generate train --iterations 3 --resume --reset-critics y,y" + common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("names axis 'y' twice"), std::string::npos) << r.out;
  r = run("generate train --iterations 3 --resume --reset-critics y" + elsewhere);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("not found; reset_critics = y"), std::string::npos) << r.out;

  const auto ckpt = run_dir / "checkpoint.pt";
  std::vector<torch::Tensor> before;
  for (const char* d : {"D0", "D1", "D2"}) before.push_back(critic_weights(ckpt, d, width));
  r = run("generate train --iterations 3 --resume --reset-critics y" + common);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("critics y restarted"), std::string::npos) << r.out;
  std::vector<torch::Tensor> after;
  for (const char* d : {"D0", "D1", "D2"}) after.push_back(critic_weights(ckpt, d, width));
  EXPECT_LT((after[0] - before[0]).abs().max().item<double>(), 1e-4);  // z continued
  EXPECT_GT((after[1] - before[1]).abs().max().item<double>(), 1e-2);  // y restarted
  EXPECT_LT((after[2] - before[2]).abs().max().item<double>(), 1e-4);  // x continued
  auto config = load_json_file(run_dir / "config.json");
  EXPECT_TRUE(config.at("reset_critics").empty());
  ASSERT_EQ(config.at("critic_resets").size(), 1u);
  EXPECT_EQ(config.at("critic_resets")[0].at("iteration"), 2);
  EXPECT_EQ(config.at("critic_resets")[0].at("axes"), (std::vector<std::string>{"y"}));
  EXPECT_EQ(report_rows(run_dir / "metrics.csv"), 3);

  // Resuming with the saved config continues every critic and keeps the history.
  const auto y_before = critic_weights(ckpt, "D1", width);
  r = run("generate train --config " + (run_dir / "config.json").string() +
          " --resume --iterations 4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("restarted"), std::string::npos) << r.out;
  EXPECT_LT((critic_weights(ckpt, "D1", width) - y_before).abs().max().item<double>(), 1e-4);
  config = load_json_file(run_dir / "config.json");
  EXPECT_EQ(config.at("critic_resets").size(), 1u);
  EXPECT_FALSE(config.contains("lr_changes"));  // the saved lr was used

  // A learning rate changed on resume is said and kept in the history; resuming again with
  // the saved config keeps that entry and adds none.
  r = run("generate train --config " + (run_dir / "config.json").string() +
          " --resume --iterations 5 --lr 5e-7");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("learning rate 1e-06 -> 5e-07 from iteration 4"), std::string::npos)
      << r.out;
  config = load_json_file(run_dir / "config.json");
  ASSERT_EQ(config.at("lr_changes").size(), 1u);
  EXPECT_EQ(config.at("lr_changes")[0].at("iteration"), 4);
  EXPECT_EQ(config.at("lr_changes")[0].at("from"), 1e-6);
  EXPECT_EQ(config.at("lr_changes")[0].at("to"), 5e-7);
  EXPECT_EQ(config.at("effective_optimizer").at("lr"), 5e-7);
  r = run("generate train --config " + (run_dir / "config.json").string() +
          " --resume --iterations 6");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("learning rate"), std::string::npos) << r.out;
  config = load_json_file(run_dir / "config.json");
  EXPECT_EQ(config.at("lr_changes").size(), 1u);
  EXPECT_EQ(config.at("critic_resets").size(), 1u);

  // One shared critic (a single isotropic image) serves all three axes.
  io::write_image(dir / "img.png", three_phase(72, 72), uint8());
  std::string iso = common;
  iso.replace(iso.find((dir / "vol.tif").string()), (dir / "vol.tif").string().size(),
              (dir / "img.png").string());
  iso.replace(iso.find(run_dir.string()), run_dir.string().size(), (dir / "iso").string());
  r = run("generate train --iterations 1" + iso);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("generate train --iterations 2 --resume --reset-critics y" + iso);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("one critic shared by the three axes"), std::string::npos) << r.out;
  r = run("generate train --iterations 2 --resume --reset-critics z,y,x" + iso);
  ASSERT_EQ(r.code, 0) << r.out;
}

// The resize variant of the SliceGAN generator (--g-upsample resize) is saved in the run's
// settings and rebuilt by `generate sample` (its weights would not load into the transposed
// generator); an unknown choice is refused by name.
TEST(GenerateCli, SliceGanResizeGeneratorTrainsAndSamples) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(72, 72), uint8());
  const fs::path run_dir = dir / "run";
  const std::string common =
      " --model slicegan --data " + (dir / "img.png").string() + " --out " + run_dir.string() +
      " --batch-size 1 --real-batch 2 --width 0.03125 --latent-channels 4 "
      "--critic-steps 1 --slices-per-volume 8 --diversity-every 0 --threads 1";
  auto r = run("generate train --iterations 1 --g-upsample bilinear" + common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("g_upsample = 'bilinear' is not one of: transposed, resize"),
            std::string::npos)
      << r.out;
  r = run("generate train --iterations 1 --g-upsample resize" + common);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(load_json_file(run_dir / "config.json").at("g_upsample"), "resize");
  EXPECT_FALSE(fs::exists(run_dir / "snapshots"));  // none by default
  r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "s").string() +
          " --size 64 --count 1 --no-tortuosity --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(io::read_image(dir / "s/samples/sample_0.tif").data.sizes(),
            (std::vector<int64_t>{1, 64, 64, 64}));
  // Resuming with other network settings is refused by name, before the run's config.json
  // is touched (here the generator's last layer, left at its default).
  r = run("generate train --iterations 3 --resume" + common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("g_upsample \"resize\" -> \"transposed\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--config " + (run_dir / "config.json").string()), std::string::npos)
      << r.out;
  EXPECT_EQ(load_json_file(run_dir / "config.json").at("g_upsample"), "resize");
  // Snapshots every 2 iterations of a 3-iteration resumed run: one at 2, none at 1 or 3;
  // sampled like model.pt, and different weights from the final model's.
  r = run(
      "generate train --iterations 3 --resume --g-upsample resize --snapshot-every 2 --lr 0.01" +
      common);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(run_dir / "snapshots/model_2.pt"));
  EXPECT_FALSE(fs::exists(run_dir / "snapshots/model_1.pt"));
  EXPECT_FALSE(fs::exists(run_dir / "snapshots/model_3.pt"));
  for (const auto& [model, out] : {std::pair{run_dir / "snapshots/model_2.pt", dir / "s2"},
                                   std::pair{run_dir / "model.pt", dir / "s3"}}) {
    r = run("generate sample --model " + model.string() + " --out " + out.string() +
            " --size 64 --count 1 --seed 5 --no-tortuosity --threads 1");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  const auto v2 = io::read_image(dir / "s2/samples/sample_0.npy").data;
  const auto v3 = io::read_image(dir / "s3/samples/sample_0.npy").data;
  EXPECT_EQ(v2.sizes(), v3.sizes());
  EXPECT_FALSE(torch::equal(v2, v3));  // the same latent through the weights at 2 and at 3
  r = run("generate train --iterations 4 --resume --g-upsample resize --snapshot-every -1" +
          common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("snapshot_every = -1"), std::string::npos) << r.out;
  // The critics' input is a training setting, not the network's: a run resumes with one-hot
  // (hard) critic input, and the choice is saved; an unknown choice is named.
  r = run("generate train --iterations 4 --resume --g-upsample resize --critic-input argmax" +
          common);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("critic_input = 'argmax' is not one of: soft, hard"), std::string::npos)
      << r.out;
  r = run("generate train --iterations 4 --resume --g-upsample resize --critic-input hard" +
          common);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(load_json_file(run_dir / "config.json").at("critic_input"), "hard");
  // Grey data have no phases to make one-hot.
  io::write_image(dir / "grey.png", (torch::rand({1, 72, 72}) * 255.0).round(), uint8());
  r = run("generate train --model slicegan --grey --iterations 1 --critic-input hard --data " +
          (dir / "grey.png").string() + " --out " + (dir / "g").string() +
          " --batch-size 1 --real-batch 2 --width 0.03125 --latent-channels 4 --critic-steps 1 "
          "--slices-per-volume 8 --diversity-every 0 --threads 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("critic_input = hard needs n-phase data"), std::string::npos) << r.out;
}

// The VAE/GAN's pixel anchor (pixel_weight): with feature reconstruction alone the encoder
// collapsed onto the prior on the real electrode (falling KL, rising pixel error); with it
// the pixel error falls and the latent carries information (KL grows).
TEST(GenerateCli, VaeGanPixelAnchorKeepsTheEncoderInformative) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(80, 80), uint8());
  auto last_row = [&](const std::string& pw) {
    const auto run_dir = dir / ("pw" + pw);
    const auto r = run("generate train --model vaegan --data " + (dir / "img.png").string() + " --out " +
                       run_dir.string() + " --iterations 120 --batch-size 4 --width 0.0625 --lr 1e-3 --log-every 20" +
                       " --pixel-weight " + pw + " --threads 1 --seed 0");
    EXPECT_EQ(r.code, 0) << r.out;
    std::ifstream f(run_dir / "metrics.csv");
    std::string line, header, last;
    std::getline(f, header);
    while (std::getline(f, line)) last = line;
    std::map<std::string, double> row;
    std::stringstream hs(header), ls(last);
    std::string name, value;
    while (std::getline(hs, name, ',') && std::getline(ls, value, ',')) row[name] = std::stod(value);
    return row;
  };
  auto anchored = last_row("1"), features_only = last_row("0");
  EXPECT_LT(anchored.at("recon"), 0.85 * features_only.at("recon"));
  EXPECT_GT(anchored.at("kl"), features_only.at("kl"));
  const auto bad = run("generate train --model vaegan --data " + (dir / "img.png").string() + " --out " +
                       (dir / "bad").string() + " --pixel-weight -1 --iterations 1 --threads 1");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("pixel_weight -1"), std::string::npos) << bad.out;
}

TEST(GenerateCli, TwoDModelsTrainAndSample) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(80, 80), uint8());
  for (const std::string model : {"dcgan", "vae", "vaegan"}) {
    const fs::path run_dir = dir / model;
    // vae: --lr sets the chosen model's entry only.
    // vaegan: the anti-collapse options run in its adversarial terms, and its decoder (the
    // DCGAN generator) ends in the resize layer: trained, sampled, reconstructed.
    const std::string lr =
        model == "vae" ? " --lr 0.003"
        : model == "vaegan"
            ? " --instance-noise 0.1 --minibatch-std --gan-loss lsgan --g-upsample resize"
            : "";
    auto r = run("generate train --model " + model + " --data " + (dir / "img.png").string() + " --out " +
                 run_dir.string() + " --iterations 2 --batch-size 2 --width 0.0625 --threads 1" + lr);
    ASSERT_EQ(r.code, 0) << model << "\n" << r.out;
    const auto config = load_json_file(run_dir / "config.json");
    const auto& used = config.at("effective_optimizer");
    EXPECT_EQ(config.at("g_upsample"), model == "vaegan" ? "resize" : "transposed") << model;
    if (model == "dcgan") {  // no flags: the DCGAN paper's Adam settings
      EXPECT_EQ(used.at("lr"), 2e-4);
      EXPECT_EQ(used.at("beta1"), 0.5);
      EXPECT_EQ(used.at("beta2"), 0.999);
      // The run's config.json (with its derived encoding and optimiser) loads back.
      const auto again = dir / "dcgan_again";
      const auto ra = run("generate train --config " + (run_dir / "config.json").string() +
                          " --out " + again.string() + " --iterations 1 --no-report-tortuosity");
      ASSERT_EQ(ra.code, 0) << ra.out;
      EXPECT_EQ(load_json_file(again / "config.json").at("width"), config.at("width"));
      // The end-of-training comparison with the training image solves the tortuosity
      // unless --no-report-tortuosity (saved with the run).
      const auto taus = [](const fs::path& run_dir) {
        return load_json_file(run_dir / "stats_comparison.json")
            .at(0)
            .at("real")
            .at("phases")
            .at(0)
            .at("tortuosity")
            .size();
      };
      EXPECT_EQ(config.at("report_tortuosity"), true);
      EXPECT_EQ(taus(run_dir), 2u);  // 2D: one solve per axis
      EXPECT_EQ(load_json_file(again / "config.json").at("report_tortuosity"), false);
      EXPECT_EQ(taus(again), 0u);
    }
    if (model == "dcgan") {
      // The mode-collapse check logs a row per check and draws its random numbers aside:
      // the same seed trains to the same losses with checks every step or none.
      EXPECT_EQ(report_rows(run_dir / "diversity.csv"),
                1);  // default every 250: the last iteration only
      const auto checked = dir / "dcgan_checked", unchecked = dir / "dcgan_unchecked";
      for (const auto& [out, every] : {std::pair{checked, 1}, std::pair{unchecked, 0}}) {
        const auto rc = run("generate train --model dcgan --data " + (dir / "img.png").string() +
                            " --out " + out.string() +
                            " --iterations 3 --batch-size 2 --width 0.0625 --threads 1 --seed 4" +
                            " --log-every 1 --augment dihedral --gan-loss wgan --critic-steps 2 "
                            "--diversity-every " +
                            std::to_string(every));
        ASSERT_EQ(rc.code, 0) << rc.out;
      }
      EXPECT_EQ(report_rows(checked / "diversity.csv"), 3);
      {  // 2D samples: each sample is one slice for the connectivity
        const auto log = report::read_metrics_log(checked / "diversity.csv");
        for (double v : log.column("real_connectivity_1")) {
          EXPECT_GT(v, 0.0);
          EXPECT_LE(v, 1.0);
        }
        EXPECT_TRUE(log.has("connectivity_2"));
      }
      EXPECT_FALSE(fs::exists(unchecked / "diversity.csv"));
      const auto losses = [](const fs::path& csv) {  // the metrics without the time column
        std::ifstream in(csv);
        std::string line, all;
        while (std::getline(in, line))
          all += line.substr(0, line.find(',')) + line.substr(line.find(',', line.find(',') + 1)) +
                 "\n";
        return all;
      };
      EXPECT_EQ(losses(checked / "metrics.csv"), losses(unchecked / "metrics.csv"));
      EXPECT_NE(read_all(checked / "index.html").find("diversity.png"), std::string::npos);
    }
    if (model == "vae") {
      EXPECT_EQ(used.at("lr"), 0.003);
      EXPECT_EQ(config.at("optim").at("vae").at("lr"), 0.003);
      EXPECT_EQ(config.at("optim").at("dcgan").at("lr"), 2e-4);
    }
    EXPECT_TRUE(fs::exists(run_dir / "samples/grid.png")) << model;
    EXPECT_TRUE(fs::exists(run_dir / "index.html")) << model;
    const std::string extra = model == "dcgan" ? "" : " --reconstruct " + (dir / "img.png").string() + " " +
                                                          (dir / "img.png").string();
    r = run("generate sample --model " + run_dir.string() + " --out " + (dir / (model + "_s")).string() +
            " --count 3 --threads 1" + extra);
    ASSERT_EQ(r.code, 0) << model << "\n" << r.out;
    EXPECT_EQ(io::read_image(dir / (model + "_s") / "samples/sample_2.tif").data.sizes(),
              (std::vector<int64_t>{1, 64, 64}));
    if (model != "dcgan") {
      EXPECT_TRUE(fs::exists(dir / (model + "_s") / "interpolation.png"));
    }
    if (model == "dcgan") {
      // Same seed, other batch norm statistics: after 2 steps the running averages
      // (momentum 0.1) are far from the batch statistics, so the images differ.
      const auto soft_of = [&](const std::string& stats) {
        const auto o = dir / ("dcgan_" + stats);
        const auto rr = run("generate sample --model " + run_dir.string() + " --out " + o.string() +
                            " --count 3 --threads 1 --seed 3 --norm-stats " + stats + " --no-tortuosity --compare " +
                            (dir / "img.png").string());
        EXPECT_EQ(rr.code, 0) << rr.out;
        EXPECT_NE(rr.out.find("soft="), std::string::npos) << rr.out;
        EXPECT_NE(rr.out.find("real_diversity="), std::string::npos) << rr.out;
        EXPECT_GT(load_json_file(o / "summary.json").at("real_diversity").get<double>(), 0.0);
        // All samples together against as many real crops, and two real sets against each
        // other: the pooled generated fraction is the mean of the samples' fractions.
        EXPECT_NE(rr.out.find("pooled_max_s2_rms="), std::string::npos) << rr.out;
        const auto pooled = load_json_file(o / "stats_pooled.json");
        EXPECT_EQ(pooled.at("count").get<int64_t>(), 3);
        EXPECT_EQ(pooled.at("real_vs_real").size(), 3u);
        // The phase-pair interface areas are compared too (0|1, 0|2, 1|2); the last line
        // names the worst relative difference.
        const auto& inter = pooled.at("generated").at("interface_differences");
        EXPECT_EQ(inter.size(), 3u);
        EXPECT_EQ(pooled.at("real_vs_real_interfaces").size(), 3u);  // the yardstick
        double worst = -1.0;
        for (const auto& d : inter)
          if (d.at("rel_diff").is_number())
            worst = std::max(worst, std::abs(d.at("rel_diff").get<double>()));
        EXPECT_GE(worst, 0.0);
        EXPECT_NE(rr.out.find("pooled_max_interface_diff=" + report::format_number(worst, 4)),
                  std::string::npos)
            << rr.out;
        const auto per_sample = load_json_file(o / "summary.json")
                                    .at("fractions")
                                    .get<std::vector<std::vector<double>>>();
        const auto& gen_phases = pooled.at("generated").at("other").at("phases");
        for (size_t p = 0; p < 3; ++p) {
          double mean = 0.0;
          for (const auto& f : per_sample) mean += f[p] / 3.0;
          EXPECT_NEAR(gen_phases.at(p).at("fraction").get<double>(), mean, 1e-9) << "phase " << p;
        }
        EXPECT_TRUE(fs::exists(o / "stats_pooled/index.html"));
        const auto uncertain =
            load_json_file(o / "summary.json").at("uncertain").get<std::vector<double>>();
        EXPECT_EQ(uncertain.size(), 3u);
        for (const double u : uncertain) EXPECT_TRUE(u >= 0.0 && u <= 1.0) << u;
        return load_json_file(o / "summary.json").at("soft_fractions").get<std::vector<std::vector<double>>>();
      };
      const auto batch = soft_of("batch"), running = soft_of("running");
      ASSERT_EQ(batch.size(), 3u);
      ASSERT_EQ(running.size(), 3u);
      EXPECT_NE(batch, running);
      EXPECT_NEAR(batch[0][0] + batch[0][1] + batch[0][2], 1.0, 1e-5);
      r = run("generate sample --model " + run_dir.string() + " --out " + (dir / "bad").string() +
              " --norm-stats eval --threads 1");
      EXPECT_NE(r.code, 0);
      EXPECT_NE(r.out.find("eval"), std::string::npos) << r.out;
    }
  }
}

TEST(GenerateCli, NonFiniteLossStopsAndKeepsTheCheckpoint) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(64, 64), uint8());
  const std::string common = " --model dcgan --data " + (dir / "img.png").string() + " --out " +
                             (dir / "run").string() + " --batch-size 2 --width 0.0625 --checkpoint-every 1"
                             " --no-spectral-norm --threads 1";
  auto r = run("generate train --iterations 1" + common);
  ASSERT_EQ(r.code, 0) << r.out;
  // An absurd learning rate (applied on resume) blows the weights up: the run stops
  // at the first non-finite loss with an error naming the last checkpoint written.
  r = run("generate train --resume --iterations 50 --lr 1e30" + common);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("non-finite"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("last good checkpoint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("resumed"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir / "run/checkpoint.pt"));
}

TEST(GenerateCli, BadSettingsAreNamed) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(64, 64), uint8());
  auto r = run("generate train --model slicegan --data " + (dir / "img.png").string() + " " +
               (dir / "img.png").string() + " --out " + (dir / "r").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("3 images"), std::string::npos) << r.out;
  r = run("generate train --model gan3d --data " + (dir / "img.png").string() + " --out " + (dir / "r").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("gan3d"), std::string::npos) << r.out;
  for (const std::string bad : {"--augment rotate", "--instance-noise -0.5", "--diversity-every -1",
                                "--gan-loss wasserstein", "--g-upsample bicubic"}) {
    r = run("generate train --model dcgan --data " + (dir / "img.png").string() + " --out " +
            (dir / "r").string() + " " + bad);
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_NE(r.out.find(bad.substr(bad.find(' ') + 1)), std::string::npos) << bad << "\n" << r.out;
  }
  // The VAE's own decoder has no resize layer, and it has no discriminator to show hard
  // phases to: refused by name, not ignored.
  r = run("generate train --model vae --g-upsample resize --data " + (dir / "img.png").string() +
          " --out " + (dir / "r").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("g_upsample = resize"), std::string::npos) << r.out;
  r = run("generate train --model vae --critic-input hard --data " + (dir / "img.png").string() +
          " --out " + (dir / "r").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("critic_input = hard"), std::string::npos) << r.out;
  // Hard phases need phase data: a grey image is refused.
  io::write_image(dir / "grey.png", torch::rand({1, 64, 64}), uint8());
  r = run("generate train --model dcgan --grey --critic-input hard --data " +
          (dir / "grey.png").string() + " --out " + (dir / "r").string() +
          " --iterations 1 --threads 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("needs n-phase data"), std::string::npos) << r.out;
}

// --critic-input hard reaches the 2D discriminators (it was slicegan-only and the 2D models
// ignored it): with the same seed, the discriminator's loss differs from the soft run's from
// the first step on, and config.json records the choice.
TEST(GenerateCli, TwoDHardCriticInputChangesWhatTheDiscriminatorSees) {
  const auto dir = test::temp_dir();
  io::write_image(dir / "img.png", three_phase(80, 80), uint8());
  for (const std::string model : {"dcgan", "vaegan"}) {
    std::map<std::string, double> first_loss_d;
    for (const std::string input : {"soft", "hard"}) {
      const auto run_dir = dir / (model + input);
      const auto r = run("generate train --model " + model + " --data " +
                         (dir / "img.png").string() + " --out " + run_dir.string() +
                         " --iterations 2 --batch-size 2 --width 0.0625 --log-every 1" +
                         " --threads 1 --seed 3 --no-report-tortuosity --critic-input " + input);
      ASSERT_EQ(r.code, 0) << model << " " << input << "\n" << r.out;
      EXPECT_EQ(load_json_file(run_dir / "config.json").at("critic_input"), input);
      std::ifstream f(run_dir / "metrics.csv");
      std::string header, row;
      std::getline(f, header);
      std::getline(f, row);
      std::stringstream hs(header), rs(row);
      std::string name, value;
      while (std::getline(hs, name, ',') && std::getline(rs, value, ','))
        if (name == "loss_d") first_loss_d[input] = std::stod(value);
      ASSERT_EQ(first_loss_d.count(input), 1u) << header;
    }
    EXPECT_GT(std::abs(first_loss_d["hard"] - first_loss_d["soft"]),
              1e-6 * std::abs(first_loss_d["soft"]))
        << model;
  }
}
