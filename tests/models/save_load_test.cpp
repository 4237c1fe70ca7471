// Model files: round trip for every registered model, wrong files, Python loading.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <sys/wait.h>

#include "emgan/core/error.h"
#include "emgan/models/discriminators.h"
#include "emgan/models/generators.h"
#include "model_test_util.h"

namespace em = emgan::models;
namespace fs = std::filesystem;
using emgan::Json;

namespace {

// A few training forwards so batch-norm running statistics and spectral-norm u, v
// move away from their initial values (they must be saved too).
template <typename Ptr>
void warm_up(Ptr& m, const torch::Tensor& x) {
  m->train();
  torch::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) m->forward(x + 0.1 * i);
  m->eval();
}

void expect_no_temp_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

Json tensor_json(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).contiguous().to(torch::kFloat);
  return {{"shape", c.sizes().vec()},
          {"data", std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())}};
}

}  // namespace

TEST(SaveLoad, EveryGeneratorRoundTripsToIdenticalOutputs) {
  const auto dir = emgan::test::temp_dir();
  for (const auto& name : em::generator_registry().names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(21);
    auto g = em::make_generator(name, emgan::test::small_generator_options(name));
    const auto x = torch::randn({2, 1, 37, 45});
    warm_up(g, x);
    const auto y = g->forward(x);
    const auto path = dir / (name + ".pt");
    em::save_model(*g, path, {{"step", 3}, {"norm", "minmax"}});
    torch::manual_seed(22);  // the rebuilt model starts from other random weights
    em::ModelInfo info;
    auto loaded = em::load_generator(path, torch::Device("cpu"), &info);
    loaded->eval();
    EXPECT_TRUE(torch::equal(loaded->forward(x), y));
    EXPECT_EQ(info.kind, "generator");
    EXPECT_EQ(info.arch, g->arch());
    EXPECT_EQ(info.options, g->options_json());
    EXPECT_EQ(info.meta.at("step"), 3);
    EXPECT_EQ(loaded->options_json(), g->options_json());
  }
  expect_no_temp_files(dir);
}

TEST(SaveLoad, EveryDiscriminatorRoundTripsWithBuffers) {
  const auto dir = emgan::test::temp_dir();
  for (const auto& name : em::discriminator_registry().names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(23);
    Json o = emgan::test::small_discriminator_options(name);
    if (name == "patchgan") o["spectral_norm"] = true;  // u, v buffers must survive
    auto d = em::make_discriminator(name, o);
    const auto x = torch::randn({1, 2, 40, 36});
    warm_up(d, x);
    const auto y = d->forward(x);
    const auto path = dir / (name + ".pt");
    em::save_model(*d, path);
    torch::manual_seed(24);
    auto loaded = em::load_discriminator(path);
    loaded->eval();
    const auto z = loaded->forward(x);
    ASSERT_EQ(z.size(), y.size());
    for (size_t i = 0; i < y.size(); ++i) EXPECT_TRUE(torch::equal(z[i], y[i])) << "scale " << i;
    auto a = d->named_buffers();
    auto b = loaded->named_buffers();
    for (const auto& kv : a) EXPECT_TRUE(torch::equal(kv.value(), b[kv.key()])) << kv.key();
  }
}

TEST(SaveLoad, WrongFilesNameTheFile) {
  const auto dir = emgan::test::temp_dir();
  auto d = em::make_discriminator("patchgan", {{"ndf", 4}});
  const auto dpath = dir / "disc.pt";
  em::save_model(*d, dpath);
  try {
    em::load_generator(dpath);
    FAIL() << "a discriminator loaded as generator";
  } catch (const emgan::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dpath.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("discriminator"), std::string::npos) << msg;
  }
  EXPECT_EQ(em::read_model_info(dpath).arch, "patchgan");

  const auto text = dir / "notes.pt";
  std::ofstream(text) << "not a model\n";
  try {
    em::load_generator(text);
    FAIL() << "a text file loaded";
  } catch (const emgan::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(text.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(em::load_generator(dir / "missing.pt"), emgan::IoError);

  const auto plain = dir / "plain.pt";  // a torch archive, but not an emgan model
  torch::save(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 1, 3)), plain.string());
  try {
    em::load_generator(plain);
    FAIL() << "a plain torch archive loaded";
  } catch (const emgan::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(plain.string()), std::string::npos) << e.what();
  }

  auto g = em::make_generator("unet", emgan::test::small_generator_options("unet"));
  const auto gpath = dir / "gen.pt";
  em::save_model(*g, gpath);
  EXPECT_THROW(em::load_discriminator(gpath), emgan::ConfigError);
}

TEST(SaveLoad, PythonOpensFilesAndMatchesReferenceNetworks) {
  // scripts/check_python_load.py next to this source tree; /usr/bin/python3 with torch.
  const fs::path source_root = fs::path(__FILE__).parent_path().parent_path().parent_path();
  const fs::path script = source_root / "scripts" / "check_python_load.py";
  if (!fs::path(__FILE__).is_absolute() || !fs::exists(script)) GTEST_SKIP() << "script not found: " << script;
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 not installed";
  const auto dir = emgan::test::temp_dir();
  std::string args;
  auto add = [&](const std::string& file, const auto& model, const torch::Tensor& x, const Json& outputs) {
    const auto path = dir / (file + ".pt");
    em::save_model(*model, path);
    std::ofstream(dir / (file + ".io.json")) << Json{{"input", tensor_json(x)}, {"outputs", outputs}}.dump();
    args += " '" + path.string() + "' --io '" + (dir / (file + ".io.json")).string() + "'";
  };
  torch::manual_seed(31);
  const auto x1 = torch::randn({1, 1, 37, 45});
  const auto x2 = torch::randn({2, 2, 40, 36});
  for (const std::string name : {"unet", "resnet", "lawrence2020"}) {
    Json o = emgan::test::small_generator_options(name);
    if (name == "unet") o["norm"] = "instance";
    auto g = em::make_generator(name, o);
    warm_up(g, x1);
    add(name, g, x1, Json::array({tensor_json(g->forward(x1))}));
  }
  {
    auto g = em::make_generator("unet", {{"ngf", 4}, {"depth", 6}, {"kernel_size", 3}, {"output_activation", "none"}});
    warm_up(g, x1);
    add("unet_k3", g, x1, Json::array({tensor_json(g->forward(x1))}));
  }
  for (const auto& name : em::discriminator_registry().names()) {
    Json o = emgan::test::small_discriminator_options(name);
    if (name == "patchgan") o = {{"ndf", 4}, {"n_layers", 3}, {"norm", "none"}, {"spectral_norm", true}};
    if (name == "lawrence2020_patchgan") o["spectral_norm"] = true;
    auto d = em::make_discriminator(name, o);
    warm_up(d, x2);
    Json outs = Json::array();
    for (const auto& m : d->forward(x2)) outs.push_back(tensor_json(m));
    add(name, d, x2, outs);
  }
  const auto log = dir / "python.log";
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "'" + args + " > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string output = emgan::read_text(log);
  ASSERT_NE(status, -1);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << output;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << "\n" << output;
}
