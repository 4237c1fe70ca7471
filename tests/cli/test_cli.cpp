// The emgan program as a user runs it: exit codes, help, errors on stderr.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>

#include "emgan/core/config.h"
#include "emgan/io/image.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using Run = emgan::test::CliRun;

Run run(const std::string& args) { return emgan::test::run_cli(args); }

}  // namespace

TEST(Cli, HelpListsVerbsAndDefaults) {
  auto r = run("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* verb : {"info", "convert", "metrics", "translate", "demo"}) {
    EXPECT_NE(r.out.find(verb), std::string::npos) << verb;
  }
  r = run("translate cv --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--folds"), std::string::npos);
  EXPECT_NE(r.out.find("--folds INT=5"), std::string::npos) << "default of --folds printed from the settings struct";
}

TEST(Cli, InfoReportsRuntime) {
  auto r = run("info --threads 1");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("libtorch:"), std::string::npos);
  EXPECT_NE(r.out.find("blas:"), std::string::npos);
}

TEST(Cli, ConvertAndMetrics) {
  const auto dir = emgan::test::temp_dir();
  auto img = torch::rand({1, 24, 20});
  emgan::io::write_image(dir / "a.tif", img);
  auto r = run("convert " + (dir / "a.tif").string() + " " + (dir / "a.npy").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(torch::equal(emgan::io::read_image(dir / "a.npy").data, img));
  emgan::io::write_image(dir / "b.tif", img * 0.5);
  r = run("metrics --pred " + (dir / "b.tif").string() + " --target " + (dir / "a.tif").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ssim"), std::string::npos);
  EXPECT_NE(r.out.find("frac_rmse_percent"), std::string::npos);
}

TEST(Cli, BadInputExitsNonZeroNamingTheFile) {
  const auto dir = emgan::test::temp_dir();
  auto r = run("convert " + (dir / "missing.tif").string() + " " + (dir / "x.png").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("missing.tif"), std::string::npos) << r.out;
  {
    std::ofstream(dir / "bad.json") << R"({"foldz": 3})";
  }
  r = run("translate cv --data " + dir.string() + " --config " + (dir / "bad.json").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("foldz"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad.json"), std::string::npos) << r.out;
  r = run("translate cv --data " + (dir / "nowhere").string() + " --model poly --out " + (dir / "run").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("nowhere"), std::string::npos) << r.out;
  r = run("info --device cuda:7");
  if (!torch::cuda::is_available()) {
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("cuda:7"), std::string::npos) << r.out;
  }
}

TEST(Cli, DemoSyntheticDataAndTranslateCvLastLine) {
  const auto dir = emgan::test::temp_dir();
  // A tiny demo (no real data), then translate cv on its pairs through the CLI.
  auto r = run("demo --out " + (dir / "demo").string() + " --pairs 6 --folds 2 --epochs 1 --real-data '' --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir / "demo" / "index.html"));
  EXPECT_TRUE(fs::exists(dir / "demo" / "translate_pix2pix" / "cv.csv"));
  r = run("translate cv --data " + (dir / "demo" / "data").string() + " --model poly --folds 3 --out " +
          (dir / "cv").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  // The contract: the last line of stdout.
  std::string last = r.out.substr(r.out.rfind("mean_frac_rmse="));
  EXPECT_TRUE(std::regex_search(last, std::regex(R"(^mean_frac_rmse=[0-9.]+ mean_ssim=-?[0-9.]+ folds=3 images=6)")))
      << last;
  // train, then predict with two models (--model takes several: their mean).
  r = run("translate train --data " + (dir / "demo" / "data").string() + " --model poly --out " +
          (dir / "model").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string model = (dir / "model" / "model").string();
  const fs::path input = dir / "demo" / "data" / "synthetic" / "synthetic_convolution";
  ASSERT_TRUE(fs::is_directory(input));
  r = run("translate predict --model " + model + " " + model + " --input " + input.string() + " --output " +
          (dir / "pred").string() + " --no-png --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("predicted 6 image(s)"), std::string::npos) << r.out;
  EXPECT_EQ(emgan::load_json_file(dir / "pred" / "config.json").at("model").size(), 2u);
}
