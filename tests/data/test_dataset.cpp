// Data sets: ID matching on the real naming patterns, error messages, crops,
// volumes, collation, and the real stem-conv2multislice tree.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "emgan/core/error.h"
#include "emgan/data/crop.h"
#include "emgan/data/dataset.h"
#include "emgan/io/image.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace emgan;
using namespace emgan::data;

namespace {

/// Writes a whitespace-separated text image (the format of the convolution inputs).
void write_txt(const fs::path& path, const torch::Tensor& img2d) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path);
  f.precision(9);
  auto a = img2d.to(torch::kFloat64).contiguous();
  for (int64_t y = 0; y < a.size(0); ++y) {
    for (int64_t x = 0; x < a.size(1); ++x) f << (x ? " " : "") << a[y][x].item<double>();
    f << "\n";
  }
}

void write_tif(const fs::path& path, const torch::Tensor& img2d) {
  fs::create_directories(path.parent_path());
  io::write_image(path, img2d.unsqueeze(0).to(torch::kFloat32));
}

torch::Tensor ramp(int64_t h, int64_t w, double offset = 0) {
  return torch::arange(h * w, torch::kFloat32).reshape({h, w}) / 10.0 + offset;
}

/// Expects `f` to throw an emgan::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

}  // namespace

TEST(DataIds, ExtractsIdsFromTheRealNamingPatterns) {
  EXPECT_EQ(extract_id("Pt_Mo5_convolution_7.txt", kDefaultInputPattern).value(), "7");
  EXPECT_EQ(extract_id("Pt_convolution_17.txt", kDefaultInputPattern).value(), "17");
  EXPECT_EQ(extract_id("Pt_Mo50_convolution_10.txt", kDefaultInputPattern).value(), "10");
  EXPECT_EQ(extract_id("pt_mo5_7_cl160mm_ss.tif", kDefaultTargetPattern).value(), "7");
  EXPECT_EQ(extract_id("Pt_17_cl160mm_ss.tif", kDefaultTargetPattern).value(), "17");
  EXPECT_EQ(extract_id("pt_mo50_19_cl160mm_ss.tif", kDefaultTargetPattern).value(), "19");
  EXPECT_FALSE(extract_id("pt_mo5_7_cl160mm_ss.tif", kDefaultInputPattern).has_value());
  EXPECT_FALSE(extract_id("Pt_convolution_17.txt", kDefaultTargetPattern).has_value());
  EXPECT_EQ(extract_id("IMG_A12.png", R"(^img_([a-z]\d+)\.png$)").value(),
            "a12");  // ignore_case lower-cases
  expect_error([] { extract_id("a.tif", "no_group.tif"); },
               {"no_group.tif", "exactly one capture group"});
  expect_error([] { extract_id("a.tif", "(unclosed"); },
               {"(unclosed", "not a valid regular expression"});
}

TEST(DataPaired, MatchesTwoFoldersById) {
  const auto dir = test::temp_dir();
  for (int id : {12, 7, 3}) {
    write_txt(dir / "in" / ("Pt_Mo5_convolution_" + std::to_string(id) + ".txt"), ramp(5, 6, id));
    write_tif(dir / "tg" / ("pt_mo5_" + std::to_string(id) + "_cl160mm_ss.tif"),
              ramp(5, 6, 100 + id));
  }
  PairedFolderDataset ds(dir / "in", dir / "tg");
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.id(0), "3");  // numeric order
  EXPECT_EQ(ds.id(1), "7");
  EXPECT_EQ(ds.id(2), "12");
  const Sample s = ds.get(1);
  EXPECT_EQ(s.group, "");
  EXPECT_NE(s.input_path.find("Pt_Mo5_convolution_7.txt"), std::string::npos);
  EXPECT_NE(s.target_path.find("pt_mo5_7_cl160mm_ss.tif"), std::string::npos);
  ASSERT_EQ(s.input.sizes(), (std::vector<int64_t>{1, 5, 6}));
  EXPECT_TRUE(torch::allclose(s.input[0], ramp(5, 6, 7), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(s.target[0], ramp(5, 6, 107), 1e-5, 1e-5));
  // The cache hands out copies: changing one does not change the next get().
  Sample again = ds.get(1);
  again.input.fill_(-1);
  EXPECT_TRUE(torch::allclose(ds.get(1).input[0], ramp(5, 6, 7), 1e-5, 1e-5));
}

TEST(DataPaired, TreeModeRecordsGroups) {
  const auto root = test::temp_dir();
  write_txt(root / "Pt" / "Pt_convolution" / "Pt_convolution_3.txt", ramp(4, 4));
  write_tif(root / "Pt" / "Pt_multislice_16_phonons" / "Pt_3_cl160mm_ss.tif", ramp(4, 4));
  write_txt(root / "Pt-Mo5" / "Pt-Mo_convolution" / "Pt_Mo5_convolution_3.txt", ramp(5, 5));
  write_txt(root / "Pt-Mo5" / "Pt-Mo_convolution" / "Pt_Mo5_convolution_4.txt", ramp(5, 5));
  write_tif(root / "Pt-Mo5" / "Pt-Mo_multislice" / "pt_mo5_3_cl160mm_ss.tif", ramp(5, 5));
  write_tif(root / "Pt-Mo5" / "Pt-Mo_multislice" / "pt_mo5_4_cl160mm_ss.tif", ramp(5, 5));
  std::ofstream(root / "README.md") << "not an image";
  auto ds = PairedFolderDataset::from_tree(root, PairedFolderOptions().preload(true));
  ASSERT_EQ(ds->size(), 3u);
  EXPECT_EQ(ds->groups(), (std::vector<std::string>{"Pt", "Pt-Mo5"}));
  EXPECT_EQ(ds->key(0), "Pt/3");
  EXPECT_EQ(ds->key(1), "Pt-Mo5/3");
  EXPECT_EQ(ds->key(2), "Pt-Mo5/4");
  EXPECT_EQ(ds->get(1).input.size(1), 5);
  // The same ID in another group is not a duplicate, but a target in the wrong group is no match.
  fs::rename(root / "Pt" / "Pt_multislice_16_phonons" / "Pt_3_cl160mm_ss.tif",
             root / "Pt-Mo5" / "Pt-Mo_multislice" / "Pt_3_cl160mm_ss.tif");
  expect_error(
      [&] { PairedFolderDataset::from_tree(root); },
      {"duplicate target ID '3'", "Pt-Mo5", "pt_mo5_3_cl160mm_ss.tif", "Pt_3_cl160mm_ss.tif"});
}

TEST(DataPaired, ErrorsNameTheFiles) {
  const auto dir = test::temp_dir();
  fs::create_directories(dir / "empty_in");
  fs::create_directories(dir / "empty_tg");
  expect_error([&] { PairedFolderDataset(dir / "empty_in", dir / "empty_tg"); },
               {"no image pairs", "empty_in"});
  expect_error([&] { PairedFolderDataset(dir / "missing", dir / "empty_tg"); },
               {"missing", "not a folder"});

  // An input with no target.
  write_txt(dir / "a_in" / "Pt_convolution_1.txt", ramp(3, 3));
  write_txt(dir / "a_in" / "Pt_convolution_2.txt", ramp(3, 3));
  write_tif(dir / "a_tg" / "Pt_1_cl160mm_ss.tif", ramp(3, 3));
  expect_error([&] { PairedFolderDataset(dir / "a_in", dir / "a_tg"); },
               {"Pt_convolution_2.txt", "no target", "a_tg", "ID '2'"});

  // A target with no input.
  write_tif(dir / "a_tg" / "Pt_2_cl160mm_ss.tif", ramp(3, 3));
  write_tif(dir / "a_tg" / "Pt_9_cl160mm_ss.tif", ramp(3, 3));
  expect_error([&] { PairedFolderDataset(dir / "a_in", dir / "a_tg"); },
               {"Pt_9_cl160mm_ss.tif", "no input"});
  EXPECT_EQ(PairedFolderDataset(dir / "a_in", dir / "a_tg",
                                PairedFolderOptions().require_all_targets_used(false))
                .size(),
            2u);

  // Duplicate IDs.
  write_txt(dir / "b_in" / "A_convolution_5.txt", ramp(3, 3));
  write_txt(dir / "b_in" / "B_convolution_5.txt", ramp(3, 3));
  write_tif(dir / "b_tg" / "x_5_cl160mm_ss.tif", ramp(3, 3));
  expect_error([&] { PairedFolderDataset(dir / "b_in", dir / "b_tg"); },
               {"duplicate input ID '5'", "A_convolution_5.txt", "B_convolution_5.txt"});

  // A file matching no pattern (strict), ignored when not strict.
  write_txt(dir / "c_in" / "Pt_convolution_1.txt", ramp(3, 3));
  write_txt(dir / "c_in" / "notes.txt", ramp(3, 3));
  write_tif(dir / "c_tg" / "Pt_1_cl160mm_ss.tif", ramp(3, 3));
  expect_error([&] { PairedFolderDataset(dir / "c_in", dir / "c_tg"); },
               {"notes.txt", "input_pattern"});
  EXPECT_EQ(
      PairedFolderDataset(dir / "c_in", dir / "c_tg", PairedFolderOptions().strict(false)).size(),
      1u);

  // Mismatched shapes: found by get(), or at construction with preload.
  write_txt(dir / "d_in" / "Pt_convolution_1.txt", ramp(4, 5));
  write_tif(dir / "d_tg" / "Pt_1_cl160mm_ss.tif", ramp(4, 6));
  PairedFolderDataset lazy(dir / "d_in", dir / "d_tg");
  expect_error([&] { lazy.get(0); },
               {"Pt_convolution_1.txt", "Pt_1_cl160mm_ss.tif", "[1, 4, 5]", "[1, 4, 6]"});
  expect_error(
      [&] { PairedFolderDataset(dir / "d_in", dir / "d_tg", PairedFolderOptions().preload(true)); },
      {"Pt_convolution_1.txt", "Pt_1_cl160mm_ss.tif"});

  // NaN in an image.
  auto bad = ramp(3, 3);
  bad[1][2] = std::numeric_limits<float>::quiet_NaN();
  write_txt(dir / "e_in" / "Pt_convolution_1.txt", ramp(3, 3));
  write_tif(dir / "e_tg" / "Pt_1_cl160mm_ss.tif", bad);
  expect_error([&] { PairedFolderDataset(dir / "e_in", dir / "e_tg").get(0); },
               {"Pt_1_cl160mm_ss.tif", "NaN/Inf", "index 5"});
  expect_error([&] { lazy.get(3); }, {"index 3", "out of range"});
}

TEST(DataSingleUnpaired, ReadsFoldersWithoutTargets) {
  const auto dir = test::temp_dir();
  write_txt(dir / "a" / "img_1.txt", ramp(3, 4));
  write_txt(dir / "a" / "img_2.txt", ramp(3, 4, 1));
  write_tif(dir / "b" / "b1.tif", ramp(5, 5));
  write_tif(dir / "b" / "b2.tif", ramp(5, 5, 2));
  write_tif(dir / "b" / "b3.tif", ramp(5, 5, 3));
  SingleFolderDataset single(dir / "a");
  ASSERT_EQ(single.size(), 2u);
  EXPECT_EQ(single.id(0), "img_1");
  EXPECT_FALSE(single.get(1).has_target());
  EXPECT_TRUE(torch::allclose(single.get(1).input[0], ramp(3, 4, 1), 1e-5, 1e-5));
  SingleFolderDataset by_pattern(dir / "a", SingleFolderOptions().pattern(R"(^img_(\d+)\.txt$)"));
  EXPECT_EQ(by_pattern.id(1), "2");

  UnpairedDataset un(dir / "a", dir / "b");
  ASSERT_EQ(un.size(), 3u);
  EXPECT_EQ(un.get(2).id, "img_1");
  EXPECT_NE(un.get(2).target_path.find("b3.tif"), std::string::npos);
  std::set<std::string> partners;
  for (uint64_t seed = 0; seed < 20; ++seed) partners.insert(un.get(0, seed).target_path);
  EXPECT_EQ(partners.size(), 3u);  // the seed draws the partner
  EXPECT_EQ(un.get(0, 5).target_path, un.get(0, 5).target_path);
  fs::create_directories(dir / "none");
  expect_error([&] { SingleFolderDataset(dir / "none"); }, {"no images", "none"});
}

TEST(DataVolume, SlicesAndCubes) {
  const auto vol = torch::arange(2 * 6 * 7 * 8, torch::kFloat32).reshape({2, 6, 7, 8});
  VolumeDataset full(vol, VolumeOptions().mode("slice").axis(0).size(0).samples_per_epoch(5));
  for (size_t i = 0; i < full.size(); ++i) {
    const auto s = full.get(i);
    ASSERT_EQ(s.input.sizes(), (std::vector<int64_t>{2, 7, 8}));
    const int64_t k = static_cast<int64_t>(s.input[0][0][0].item<float>()) / (7 * 8);
    EXPECT_TRUE(torch::equal(s.input, vol.select(1, k)));
    EXPECT_TRUE(torch::equal(s.input, full.get(i).input));  // deterministic in i
  }
  VolumeDataset along_w(vol, VolumeOptions().axis(2).size(4).samples_per_epoch(3));
  EXPECT_EQ(along_w.get(0).input.sizes(), (std::vector<int64_t>{2, 4, 4}));
  VolumeDataset any_axis(vol, VolumeOptions().axis(-1).size(5).samples_per_epoch(4));
  std::set<std::string> axes;
  for (uint64_t seed = 0; seed < 30; ++seed) axes.insert(any_axis.get(0, seed).id.substr(0, 2));
  EXPECT_EQ(axes, (std::set<std::string>{"a0", "a1", "a2"}));
  VolumeDataset cubes(vol, VolumeOptions().mode("cube").size(3).samples_per_epoch(4));
  const auto c = cubes.get(1, 42);
  ASSERT_EQ(c.input.sizes(), (std::vector<int64_t>{2, 3, 3, 3}));
  // Consecutive voxels along W differ by 1, along H by 8, along D by 56.
  EXPECT_FLOAT_EQ((c.input[0][0][0][1] - c.input[0][0][0][0]).item<float>(), 1.f);
  EXPECT_FLOAT_EQ((c.input[0][0][1][0] - c.input[0][0][0][0]).item<float>(), 8.f);
  EXPECT_FLOAT_EQ((c.input[0][1][0][0] - c.input[0][0][0][0]).item<float>(), 56.f);
  expect_error([&] { VolumeDataset(vol, VolumeOptions().mode("cube").size(7)); },
               {"cube size 7", "[1, 6]"});
  expect_error([&] { VolumeDataset(vol, VolumeOptions().mode("slab")); }, {"slab"});
}

TEST(DataCrop, RandomCropKeepsPairsAligned) {
  Sample s;
  s.input = torch::rand({1, 20, 17});
  s.target = s.input * 3 + 1;
  s.id = "a";
  auto gen = make_generator(3);
  std::set<double> corners;
  for (int i = 0; i < 10; ++i) {
    const Sample c = random_crop(s, CropOptions().height(8).width(8), gen);
    ASSERT_EQ(c.input.sizes(), (std::vector<int64_t>{1, 8, 8}));
    EXPECT_TRUE(torch::allclose(c.target, c.input * 3 + 1));
    corners.insert(c.input[0][0][0].item<double>());
  }
  EXPECT_GT(corners.size(), 3u);  // positions vary
  // Same seed, same crop.
  auto g1 = make_generator(9), g2 = make_generator(9);
  EXPECT_TRUE(torch::equal(random_crop(s, CropOptions().height(8).width(8), g1).input,
                           random_crop(s, CropOptions().height(8).width(8), g2).input));
}

TEST(DataCrop, PadsSmallImagesAndCropsCentre) {
  const auto x = torch::arange(25, torch::kFloat32).reshape({1, 5, 5});
  Sample s{x, x + 100, "a", "", "", ""};
  auto gen = make_generator(1);
  const Sample big = random_crop(s, CropOptions().height(9).width(8), gen);
  ASSERT_EQ(big.input.sizes(), (std::vector<int64_t>{1, 9, 8}));
  EXPECT_TRUE(torch::equal(crop(big.input, 2, 1, 5, 5), x));  // centred padding
  EXPECT_TRUE(torch::equal(big.target, big.input + 100));
  // reflect: padded rows are x2, x1, x0, ..., padded columns x1, x0, ...
  EXPECT_EQ(big.input[0][1][1].item<float>(), x[0][1][0].item<float>());
  EXPECT_EQ(big.input[0][0][0].item<float>(), x[0][2][1].item<float>());
  const Sample constant =
      center_crop(s, CropOptions().height(7).width(7).pad_mode("constant").pad_value(-2));
  EXPECT_EQ(constant.input[0][0][0].item<float>(), -2.f);
  EXPECT_TRUE(torch::equal(crop(constant.input, 1, 1, 5, 5), x));
  const Sample small = center_crop(s, CropOptions().height(3).width(3));
  EXPECT_TRUE(torch::equal(small.input, crop(x, 1, 1, 3, 3)));
  // Reflection padding larger than the image repeats the mirror.
  const auto tiny = torch::tensor({1.f, 2.f, 3.f}).reshape({1, 1, 3});
  const auto padded = pad(tiny, Padding{0, 0, 5, 5}, "reflect");
  EXPECT_EQ(padded.size(-1), 13);
  EXPECT_EQ(std::set<float>(padded.data_ptr<float>(), padded.data_ptr<float>() + 13),
            (std::set<float>{1, 2, 3}));
  expect_error([&] { pad(x, Padding{1, 1, 1, 1}, "wrap"); }, {"wrap"});
}

TEST(DataCrop, PadToMultipleRoundTrips) {
  const auto x = torch::rand({2, 1, 197, 259});
  Padding p;
  const auto y = pad_to_multiple(x, 32, &p);
  EXPECT_EQ(y.size(2), 224);
  EXPECT_EQ(y.size(3), 288);
  EXPECT_EQ(p.top + p.bottom, 27);
  EXPECT_TRUE(torch::equal(unpad(y, p), x));
  Padding none;
  EXPECT_TRUE(torch::equal(pad_to_multiple(x.narrow(2, 0, 192).narrow(3, 0, 256), 64, &none),
                           x.narrow(2, 0, 192).narrow(3, 0, 256)));
  EXPECT_TRUE(none.empty());
}

TEST(DataCollate, StacksAndRejectsMixedShapes) {
  Sample a{torch::zeros({1, 4, 4}), torch::ones({1, 4, 4}), "a", "g", "pa", "ta"};
  Sample b{torch::ones({1, 4, 4}), torch::zeros({1, 4, 4}), "b", "g", "pb", "tb"};
  const Batch batch = collate({a, b});
  EXPECT_EQ(batch.input.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  EXPECT_EQ(batch.ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(batch.target[1].sum().item<float>(), 0.f);
  Sample c{torch::zeros({1, 5, 4}), torch::ones({1, 5, 4}), "c", "", "", ""};
  expect_error([&] { collate({a, c}); }, {"'c'", "[1, 5, 4]", "'g/a'", "[1, 4, 4]"});
  Sample d{torch::zeros({1, 4, 4}), {}, "d", "", "", ""};
  expect_error([&] { collate({a, d}); }, {"'d'", "no target"});
}

TEST(DataReal, StemConv2MultisliceHas40PairsIn3Groups) {
  EMGAN_REQUIRE_SHARED("stem-conv2multislice");
  auto ds = PairedFolderDataset::from_tree(test::shared_data() / "stem-conv2multislice",
                                           PairedFolderOptions().preload(true));
  ASSERT_EQ(ds->size(), 40u);
  EXPECT_EQ(ds->groups(), (std::vector<std::string>{"Pt", "Pt-Mo5", "Pt-Mo50"}));
  std::map<std::string, int> per_group;
  for (size_t i = 0; i < ds->size(); ++i) {
    const Sample s = ds->get(i);
    ++per_group[s.group];
    ASSERT_EQ(s.input.dim(), 3);
    EXPECT_EQ(s.input.sizes(), s.target.sizes()) << s.input_path << " vs " << s.target_path;
    EXPECT_GE(s.input.size(1), 190);
    EXPECT_LE(s.input.size(1), 270);
  }
  EXPECT_EQ(per_group["Pt"], 2);
  EXPECT_EQ(per_group["Pt-Mo5"], 20);
  EXPECT_EQ(per_group["Pt-Mo50"], 18);
}
