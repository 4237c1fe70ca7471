// GCC 12 reports a false -Wmaybe-uninitialized inside nlohmann's defaulted from_json for nested structs.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/registry.h"
#include "emgan/core/runtime.h"
#include "emgan/core/progress.h"
#include "test_util.h"

namespace {
struct Demo {
  int epochs = 3;
  double lr = 2e-4;
  std::string norm = "batch";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Demo, epochs, lr, norm)
}  // namespace

TEST(Config, OverridesOnlyGivenKeys) {
  auto s = emgan::settings_from_json<Demo>(emgan::Json{{"lr", 0.1}}, "x.json");
  EXPECT_EQ(s.epochs, 3);
  EXPECT_DOUBLE_EQ(s.lr, 0.1);
  EXPECT_EQ(s.norm, "batch");
}

TEST(Config, UnknownKeyNamesFileAndKey) {
  try {
    emgan::settings_from_json<Demo>(emgan::Json{{"lrr", 0.1}}, "run.json");
    FAIL() << "no exception";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("run.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'lrr'"), std::string::npos);
  }
}

TEST(Config, WrongTypeNamesKeyAndValue) {
  try {
    emgan::settings_from_json<Demo>(emgan::Json{{"epochs", "ten"}}, "run.json");
    FAIL() << "no exception";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("epochs"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("\"ten\""), std::string::npos);
  }
}

TEST(Config, RoundTripsThroughFile) {
  auto dir = emgan::test::temp_dir();
  Demo d;
  d.epochs = 7;
  emgan::save_json_file(dir / "c.json", emgan::Json(d));
  auto back = emgan::settings_from_json<Demo>(emgan::load_json_file(dir / "c.json"), "c.json");
  EXPECT_EQ(back.epochs, 7);
  EXPECT_THROW(emgan::load_json_file(dir / "missing.json"), emgan::IoError);
}

TEST(Config, NonFiniteNumbersAreWrittenAsNull) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(emgan::finite_or_null(0.25), emgan::Json(0.25));
  EXPECT_TRUE(emgan::finite_or_null(nan).is_null());
  EXPECT_TRUE(emgan::finite_or_null(-inf).is_null());
  const emgan::Json row = emgan::finite_or_null(std::vector<double>{1.0, nan, inf, -2.0});
  EXPECT_EQ(row.dump(), "[1.0,null,null,-2.0]");
  EXPECT_EQ(emgan::finite_or_null(std::vector<double>{}).dump(), "[]");  // an array, not null
}

TEST(Registry, UnknownNameListsKnown) {
  emgan::Registry<int, int> reg("thing");
  reg.add("double", [](int x) { return 2 * x; });
  EXPECT_EQ(reg.create("double", 4), 8);
  try {
    reg.create("triple", 1);
    FAIL();
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: double"), std::string::npos);
  }
}

TEST(Runtime, ParsesDevices) {
  EXPECT_EQ(emgan::parse_device("cpu").type(), torch::kCPU);
  EXPECT_THROW(emgan::parse_device("gpu"), emgan::ConfigError);
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(emgan::parse_device("cuda:0"), emgan::ConfigError);
  }
}

TEST(Progress, PlainLinesHaveRateAndEta) {
  std::ostringstream os;
  emgan::Progress p("train", 10, "img");
  p.set_stream(&os, false);
  p.update(10, "loss=1", 4);
  EXPECT_NE(os.str().find("10/10"), std::string::npos);
  EXPECT_NE(os.str().find("img/s"), std::string::npos);
  EXPECT_EQ(emgan::Progress::format_duration(3725), "1h02m");
}

namespace {
struct Nested {
  Demo inner;
  emgan::Json free_form = emgan::Json::object();
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Nested, inner, free_form)
}  // namespace

TEST(Config, NestedStructsCheckedFreeFormObjectsNot) {
  auto s = emgan::settings_from_json<Nested>(
      emgan::Json::parse(R"({"inner": {"epochs": 9}, "free_form": {"anything": 1}})"), "n.json");
  EXPECT_EQ(s.inner.epochs, 9);
  EXPECT_EQ(s.free_form["anything"], 1);
  EXPECT_THROW(emgan::settings_from_json<Nested>(emgan::Json::parse(R"({"inner": {"epoch": 9}})"), "n.json"),
               emgan::ConfigError);
}

// One CSV splitter for every reader (metrics logs, charts, scan paths, particle tables,
// cv tables): RFC 4180 quoting, no trimming, empty cells kept.
TEST(Csv, SplitsQuotedCellsAndKeepsEmptyOnes) {
  using emgan::split_csv_line;
  EXPECT_EQ(split_csv_line("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split_csv_line("\"x, y\",2"), (std::vector<std::string>{"x, y", "2"}));
  EXPECT_EQ(split_csv_line("\"say \"\"hi\"\"\",1"), (std::vector<std::string>{"say \"hi\"", "1"}));
  EXPECT_EQ(split_csv_line("1,,3,"), (std::vector<std::string>{"1", "", "3", ""}));
  EXPECT_EQ(split_csv_line(""), (std::vector<std::string>{""}));
  EXPECT_EQ(split_csv_line(" a ,b"), (std::vector<std::string>{" a ", "b"}));
}
