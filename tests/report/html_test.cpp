// The HTML report: escaping, references, atomic writing, and the headless-browser check.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "emgan/core/error.h"
#include "emgan/report/report.h"
#include "test_util.h"

namespace er = emgan::report;

namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

bool have_chromium() {
  return std::system("command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1") == 0;
}

// A small but complete run report in `dir`: grid, curves, histogram, bars, tables, config.
er::Report sample_report(const std::filesystem::path& dir) {
  torch::manual_seed(5);
  auto target = torch::rand({2, 1, 24, 24});
  auto output = target + 0.05 * torch::randn({2, 1, 24, 24});
  auto input = torch::nn::functional::avg_pool2d(target, torch::nn::functional::AvgPool2dFuncOptions(2));
  auto grid = er::comparison_options(true, 2);
  grid.panel_scale(4);
  er::write_grid_png(dir / "figures" / "predictions step 100.png", er::comparison_rows(input, output, target), grid);
  {
    std::ofstream f(dir / "metrics.csv");
    f << "step,loss_g,loss_d\n";
    for (int i = 0; i <= 40; ++i) f << i * 5 << "," << 3.0 / (1 + 0.2 * i) << "," << 0.69 - 0.002 * i << "\n";
  }
  er::write_learning_curves(dir / "metrics.csv", dir / "figures" / "curves.png",
                            er::LearningCurveOptions().chart(
                                er::ChartOptions().title("Learning curves").y_label("loss").log_y(true)));
  er::write_histogram(dir / "figures" / "sizes.png",
                      {{"true", torch::randn({300}) + 5.0, {}}, {"predicted", torch::randn({300}) * 1.2 + 5.5, {}}},
                      er::HistogramOptions().chart(er::ChartOptions().title("Particle sizes").x_label("diameter (nm)")));
  er::write_bar_chart(dir / "figures" / "folds.png", {"fold 0", "fold 1", "fold 2"},
                      {{"this run", {12.5, 11.9, 13.4}, {}}, {"published", {13.1, 12.8, 12.9}, {}}},
                      er::ChartOptions().title("RMSE per fold").y_label("RMSE (%)"));
  er::Report r("Run <demo> & \"friends\"");
  r.section("Summary")
      .paragraph("A small pix2pix run; values in % of the target's standard deviation.")
      .key_values({{"steps", "100"}, {"device", "cpu"}, {"seed", "0"}}, "Run")
      .section("Predictions")
      .image("figures/predictions step 100.png", "input / output / target / difference, same window per row")
      .section("Training")
      .image("figures/curves.png", "learning curves")
      .image_row({{"figures/sizes.png", "sizes"}, {"figures/folds.png", "folds"}}, 540)
      .table({"fold", "RMSE (%)", "published (%)"}, {{"0", "12.5", "13.1"}, {"1", "11.9", "12.8"}},
             "Per-fold results beside the published ones")
      .section("Configuration")
      .json(emgan::Json{{"lr", 0.0002}, {"model", "unet<256>"}}, "Effective config");
  return r;
}

}  // namespace

TEST(Html, Escapes) {
  EXPECT_EQ(er::escape_html("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(er::url_encode_path("figs/a b#1?.png"), "figs/a%20b%231%3F.png");
  EXPECT_EQ(er::format_number(0.123456), "0.1235");
  EXPECT_EQ(er::format_number(1.5e-5), "1.5e-5");
  EXPECT_EQ(er::format_number(NAN), "nan");
  er::Report r("<script>alert(1)</script>");
  r.paragraph("1 < 2 & 3 > 2").preformatted("<b>not bold</b>").table({"<h>"}, {{"x&y"}});
  const auto html = r.html();
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("1 &lt; 2 &amp; 3 &gt; 2"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;not bold&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("<td>x&amp;y</td>"), std::string::npos);
}

TEST(Html, ReferencesAndWrite) {
  const auto dir = emgan::test::temp_dir();
  er::Report r("refs");
  r.section("A").image("figs/a b.png", "first").section("B").image_row({{"c.png", "c"}, {"d.png", ""}});
  EXPECT_EQ(r.images(), (std::vector<std::string>{"figs/a b.png", "c.png", "d.png"}));
  const auto html = r.html();
  EXPECT_NE(html.find("<img src=\"figs/a%20b.png\""), std::string::npos);
  EXPECT_EQ(count(html, "<img "), 3u);
  EXPECT_NE(html.find("href=\"#s2\""), std::string::npos);  // contents list
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  // Missing images are named; nothing is written then.
  try {
    r.write(dir);
    FAIL() << "expected IoError";
  } catch (const emgan::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("figs/a b.png"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "index.html"));
  std::filesystem::create_directories(dir / "figs");
  for (const char* f : {"figs/a b.png", "c.png", "d.png"}) std::ofstream(dir / f) << "x";
  EXPECT_EQ(r.write(dir), dir / "index.html");
  EXPECT_EQ(emgan::read_text(dir / "index.html"), html);
  EXPECT_THROW(r.image("/etc/passwd"), emgan::ConfigError);
  EXPECT_THROW(r.image("../outside.png"), emgan::ConfigError);
  EXPECT_THROW(r.image("https://example.com/x.png"), emgan::ConfigError);
  EXPECT_THROW(r.table({"a", "b"}, {{"1"}}), emgan::ConfigError);
}

TEST(Html, ChromiumLoadsTheReportOffline) {
  if (!have_chromium()) GTEST_SKIP() << "chromium not installed (apt-get install -y chromium)";
  const auto dir = emgan::test::temp_dir();
  auto report = sample_report(dir);
  report.write(dir);
  const std::string script = EMGAN_CHECK_REPORT_SCRIPT;
  const auto shot = dir / "screenshot.png";
  const std::string cmd = "'" + script + "' '" + dir.string() + "' --screenshot '" + shot.string() + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  // The check must fail when an image is missing (on a copy; the report stays for a look).
  const auto bad = dir.parent_path() / (dir.filename().string() + ".missing-image");
  std::filesystem::remove_all(bad);
  std::filesystem::copy(dir, bad, std::filesystem::copy_options::recursive);
  std::filesystem::remove(bad / "figures" / "sizes.png");
  EXPECT_NE(std::system(("'" + script + "' '" + bad.string() + "' >/dev/null 2>&1").c_str()), 0);
}
