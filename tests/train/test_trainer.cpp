// The training loop: metrics log rows, callbacks, NaN stop with the last checkpoint
// intact, checkpoint errors, and exact resume (stopped + resumed == straight through).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/train/checkpoint.h"
#include "emgan/train/pix2pix.h"
#include "emgan/train/trainer.h"
#include "test_util.h"
#include "tiny.h"

using namespace emgan;
using namespace emgan::train;
using emgan::test::TinyD;
using emgan::test::TinyG;

namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

/// A linear regression recipe whose extra loss "loss_x" follows a script; it counts
/// its calls and can run a hook at the start of a chosen step.
class ScriptedRecipe : public Recipe {
 public:
  ScriptedRecipe() : net(torch::nn::Linear(4, 1)) {
    OptimizerOptions o;
    o.name = "sgd";
    o.lr = 0.05;
    opt = make_optimizer(net->parameters(), o);
  }
  StepResult step(const Batch& batch) override {
    ++calls;
    if (hook) hook(calls);
    opt->zero_grad();
    auto loss = (net->forward(batch.input.flatten(1).narrow(1, 0, 4)) - 1.0).pow(2).mean();
    loss.backward();
    opt->step();
    StepResult r;
    r.losses["loss_fit"] = loss.item<double>();
    r.losses["loss_x"] = script ? script(calls) : static_cast<double>(calls);
    return r;
  }
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules() const override {
    return {{"net", net.ptr()}};
  }
  std::map<std::string, OptimizerPtr> optimizers() const override { return {{"opt", opt}}; }

  torch::nn::Linear net;
  OptimizerPtr opt;
  int64_t calls = 0;
  std::function<double(int64_t)> script;
  std::function<void(int64_t)> hook;
};

TrainerOptions quiet(int64_t epochs) {
  TrainerOptions o;
  o.epochs = epochs;
  o.progress = false;
  return o;
}

std::shared_ptr<BatchSource> tiny_source(int64_t batches) {
  return std::make_shared<FunctionBatchSource>(batches, emgan::test::tiny_batch);
}

}  // namespace

TEST(Trainer, MetricsLogHasOneRowPerInterval) {
  const auto dir = emgan::test::temp_dir();
  auto recipe = std::make_shared<ScriptedRecipe>();
  auto opts = quiet(1);
  opts.log_every = 2;
  opts.metrics_format = "both";
  Trainer trainer(opts, recipe, tiny_source(5), torch::kCPU, dir);
  trainer.fit();
  EXPECT_EQ(trainer.step(), 5);
  EXPECT_EQ(trainer.epoch(), 1);

  const auto csv = lines_of(dir / "metrics.csv");
  ASSERT_EQ(csv.size(), 4u);  // header + steps 2, 4, 5
  EXPECT_EQ(csv[0], "step,epoch,images_per_s,loss_fit,loss_x,lr_opt,time_s");
  const auto jsonl = lines_of(dir / "metrics.jsonl");
  ASSERT_EQ(jsonl.size(), 3u);
  const double mean_x[] = {1.5, 3.5, 5.0};  // loss_x = call number, averaged over the interval
  const int64_t steps[] = {2, 4, 5};
  for (int i = 0; i < 3; ++i) {
    const Json row = Json::parse(jsonl[i]);
    EXPECT_EQ(row["step"].get<int64_t>(), steps[i]);
    EXPECT_EQ(row["epoch"].get<int64_t>(), 0);
    EXPECT_DOUBLE_EQ(row["loss_x"].get<double>(), mean_x[i]);
    EXPECT_DOUBLE_EQ(row["lr_opt"].get<double>(), 0.05);
    EXPECT_GT(row["images_per_s"].get<double>(), 0.0);
    EXPECT_TRUE(std::isfinite(row["loss_fit"].get<double>()));
  }
  EXPECT_EQ(csv[2].rfind("4,0,", 0), 0u) << csv[2];
  EXPECT_TRUE(fs::exists(trainer.last_checkpoint()));
}

TEST(Trainer, EpochCallbacksAreLoggedAndSeeTheEpoch) {
  const auto dir = emgan::test::temp_dir();
  auto recipe = std::make_shared<ScriptedRecipe>();
  Trainer trainer(quiet(3), recipe, tiny_source(2), torch::kCPU, dir);
  std::vector<int64_t> seen;
  trainer.add_epoch_callback([&](Trainer& t, int64_t epoch) {
    seen.push_back(epoch);
    EXPECT_EQ(t.step(), 2 * (epoch + 1));
    return std::map<std::string, double>{{"val_score", 10.0 + static_cast<double>(epoch)}};
  });
  trainer.fit();
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2}));
  const auto csv = lines_of(dir / "eval.csv");
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(csv[0], "step,epoch,val_score");
  EXPECT_EQ(csv[2], "4,1,11.0");
}

TEST(Trainer, ProgressLineShowsStepEpochLossesAndEta) {
  const auto dir = emgan::test::temp_dir();
  auto recipe = std::make_shared<ScriptedRecipe>();
  auto opts = quiet(2);
  opts.progress = true;
  Trainer trainer(opts, recipe, tiny_source(2), torch::kCPU, dir);
  std::ostringstream os;
  trainer.set_progress_stream(&os, false);
  trainer.fit();
  const std::string out = os.str();
  EXPECT_NE(out.find("train 1/4"), std::string::npos) << out;
  EXPECT_NE(out.find("epoch 1/2"), std::string::npos) << out;
  EXPECT_NE(out.find("loss_x=1"), std::string::npos) << out;
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  EXPECT_NE(out.find("img/s"), std::string::npos) << out;
}

TEST(Trainer, NonFiniteLossStopsAndKeepsLastCheckpoint) {
  for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    const auto dir = emgan::test::temp_dir();
    auto recipe = std::make_shared<ScriptedRecipe>();
    recipe->script = [bad](int64_t call) { return call == 3 ? bad : 0.5; };
    auto opts = quiet(1);
    opts.checkpoint_every = 1;
    opts.log_every = 1;
    Trainer trainer(opts, recipe, tiny_source(6), torch::kCPU, dir);
    std::string before;
    recipe->hook = [&](int64_t call) {
      if (call == 3) before = file_bytes(trainer.last_checkpoint());
    };
    try {
      trainer.fit();
      FAIL() << "no TrainingError for loss " << bad;
    } catch (const TrainingError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'loss_x'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("step 3"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::isnan(bad) ? "nan" : "inf"), std::string::npos) << msg;
      EXPECT_NE(msg.find("last.pt"), std::string::npos) << msg;
    }
    ASSERT_FALSE(before.empty());
    EXPECT_EQ(file_bytes(trainer.last_checkpoint()), before);
    EXPECT_EQ(read_checkpoint_meta(trainer.last_checkpoint())["step"].get<int64_t>(), 2);
    EXPECT_EQ(lines_of(dir / "metrics.csv").size(), 3u);  // header + steps 1, 2
  }
}

TEST(Trainer, MissingOrGarbageCheckpointIsIoErrorNamingTheFile) {
  const auto dir = emgan::test::temp_dir();
  auto recipe = std::make_shared<ScriptedRecipe>();
  Trainer trainer(quiet(1), recipe, tiny_source(2), torch::kCPU, dir);
  auto expect_io = [&](const fs::path& p, const std::string& words) {
    try {
      trainer.resume(p);
      FAIL() << "no IoError for " << p;
    } catch (const IoError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(words), std::string::npos) << msg;
    }
  };
  expect_io(dir / "missing.pt", "not found");
  write_text_atomic(dir / "garbage.pt", "this is not a checkpoint\n");
  expect_io(dir / "garbage.pt", "not a readable");
  torch::save(torch::ones({2}), (dir / "tensor.pt").string());
  expect_io(dir / "tensor.pt", "not an emgan checkpoint");
  EXPECT_THROW(read_checkpoint_meta(dir / "garbage.pt"), IoError);
}

TEST(Trainer, CheckpointOfAnotherModelIsRejected) {
  const auto dir = emgan::test::temp_dir();
  auto recipe = std::make_shared<ScriptedRecipe>();
  Trainer trainer(quiet(1), recipe, tiny_source(2), torch::kCPU, dir / "a");
  trainer.fit();
  auto other = std::make_shared<ScriptedRecipe>();
  other->net = torch::nn::Linear(4, 3);  // same name, different shape
  Trainer second(quiet(1), other, tiny_source(2), torch::kCPU, dir / "b");
  try {
    second.resume(trainer.last_checkpoint());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("module 'net'"), std::string::npos) << e.what();
  }
  Trainer third(quiet(1), std::make_shared<ScriptedRecipe>(), tiny_source(3), torch::kCPU, dir / "c");
  EXPECT_THROW(third.resume(trainer.last_checkpoint()), ConfigError);  // other data length
}

TEST(Trainer, OptionsAreValidated) {
  auto recipe = std::make_shared<ScriptedRecipe>();
  auto o = quiet(0);
  try {
    Trainer t(o, recipe, tiny_source(2), torch::kCPU, "unused");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("epochs = 0"), std::string::npos);
  }
  o = quiet(1);
  o.metrics_format = "xml";
  EXPECT_THROW(Trainer(o, recipe, tiny_source(2), torch::kCPU, "unused"), ConfigError);
  auto back = settings_from_json<TrainerOptions>(Json{{"epochs", 4}, {"seed", 9}}, "run.json");
  EXPECT_EQ(back.epochs, 4);
  EXPECT_EQ(back.seed, 9u);
}

namespace {

/// A pool that keeps the previous fake batch and returns it instead of the current one
/// with probability 1/2 (drawn from the global generator): state + RNG for the resume test.
class HistoryPool : public Stateful {
 public:
  torch::Tensor query(const torch::Tensor& fake) {
    torch::Tensor out = fake;
    if (history.defined() && torch::rand({1}).item<float>() < 0.5f) out = history;
    history = fake.detach().clone();
    return out;
  }
  void save(torch::serialize::OutputArchive& a) const override {
    a.write("history", history.defined() ? history : torch::empty({0}));
  }
  void load(torch::serialize::InputArchive& a) override {
    a.read("history", history);
    if (history.numel() == 0) history = torch::Tensor();
  }
  torch::Tensor history;
};

struct TinyRun {
  TinyG g{nullptr};
  TinyD d{nullptr};
  std::shared_ptr<Ema> ema;
  std::shared_ptr<Trainer> trainer;
};

/// A pix2pix run with everything that carries state: dropout (RNG), an image pool
/// (state + RNG), Adam and SGD-momentum state, epoch and step schedules, an EMA.
TinyRun make_run(const fs::path& dir, int64_t max_steps, uint64_t init_seed, torch::Device device) {
  torch::manual_seed(init_seed);
  TinyRun r;
  r.g = TinyG(0.5);
  r.d = TinyD(2);
  r.g->to(device);
  r.d->to(device);
  OptimizerOptions og;
  og.lr = 0.01;
  OptimizerOptions od;
  od.name = "sgd";
  od.lr = 0.05;
  od.momentum = 0.9;
  auto opt_g = make_optimizer(r.g->parameters(), og);
  auto opt_d = make_optimizer(r.d->parameters(), od);
  Pix2PixOptions po;
  po.lambda_rec = 10.0;
  auto recipe = std::make_shared<Pix2PixRecipe>(torch::nn::AnyModule(r.g), torch::nn::AnyModule(r.d),
                                                opt_g, opt_d, bce_gan_loss(), l1_loss(), po);
  auto pool = std::make_shared<HistoryPool>();
  recipe->set_fake_pool([pool](const torch::Tensor& x) { return pool->query(x); });
  recipe->register_state("pool", pool);

  TrainerOptions to;
  to.epochs = 3;
  to.max_steps = max_steps;
  to.log_every = 1;
  to.keep_every = 3;
  to.seed = 7;
  to.progress = false;
  r.trainer = std::make_shared<Trainer>(to, recipe, tiny_source(2), device, dir);
  ScheduleOptions lin;
  lin.name = "linear";
  lin.n_constant = 1;
  lin.n_decay = 2;
  r.trainer->add_scheduler("G", std::make_shared<LrScheduler>(opt_g, lin));
  ScheduleOptions st;
  st.name = "step";
  st.unit = "step";
  st.step_size = 2;
  st.gamma = 0.5;
  r.trainer->add_scheduler("D", std::make_shared<LrScheduler>(opt_d, st));
  r.ema = Ema::from_clone(r.g.ptr(), 0.8);
  r.trainer->add_ema("G", r.ema);
  r.trainer->set_config(Json{{"note", "resume test"}});
  return r;
}

void check_resume_is_exact(const fs::path& dir, torch::Device device) {
  // Straight through: 3 epochs x 2 batches = 6 steps.
  TinyRun straight = make_run(dir / "straight", 0, 11, device);
  straight.trainer->fit();
  ASSERT_EQ(straight.trainer->step(), 6);

  // Stopped after 4 steps (past the kept step-3 checkpoint: its metrics row 4 must go) ...
  TinyRun first = make_run(dir / "resumed", 4, 11, device);
  first.trainer->fit();
  ASSERT_EQ(first.trainer->step(), 4);
  const fs::path ckpt = first.trainer->checkpoint_dir() / "step_000003.pt";
  ASSERT_TRUE(fs::exists(ckpt));
  first = TinyRun{};

  // ... and resumed from step 3 with new objects (initialised differently).
  TinyRun second = make_run(dir / "resumed", 0, 999, device);
  EXPECT_FALSE(test::all_equal(test::snapshot(*second.g), test::snapshot(*straight.g)));
  second.trainer->resume(ckpt);
  EXPECT_EQ(second.trainer->step(), 3);
  EXPECT_EQ(second.trainer->epoch(), 1);
  EXPECT_EQ(second.trainer->config()["note"], "resume test");
  second.trainer->fit();
  EXPECT_EQ(second.trainer->step(), 6);

  EXPECT_TRUE(test::all_equal(test::snapshot(*second.g), test::snapshot(*straight.g)));
  EXPECT_TRUE(test::all_equal(test::snapshot(*second.d), test::snapshot(*straight.d)));
  EXPECT_TRUE(test::all_equal(test::snapshot(*second.ema->module()), test::snapshot(*straight.ema->module())));
  EXPECT_EQ(second.ema->num_updates(), 6);
  // The EMA really differs from G (so comparing it means something).
  EXPECT_FALSE(test::all_equal(test::snapshot(*second.ema->module()), test::snapshot(*second.g)));

  // Same metrics rows (losses and learning rates) in both logs, no duplicates.
  const auto ra = lines_of(dir / "straight" / "metrics.csv");
  const auto rb = lines_of(dir / "resumed" / "metrics.csv");
  ASSERT_EQ(ra.size(), 7u);
  ASSERT_EQ(rb.size(), 7u);
  EXPECT_EQ(ra[0], rb[0]);
  const auto header = ra[0];
  for (size_t i = 1; i < ra.size(); ++i) {
    std::stringstream sa(ra[i]), sb(rb[i]), sh(header);
    std::string ca, cb, name;
    while (std::getline(sh, name, ',')) {
      std::getline(sa, ca, ',');
      std::getline(sb, cb, ',');
      if (name.rfind("loss", 0) == 0 || name.rfind("lr_", 0) == 0 || name == "step" || name == "epoch") {
        EXPECT_EQ(ca, cb) << name << " in row " << i;
      }
    }
  }
}

}  // namespace

TEST(Trainer, StoppedAndResumedRunEqualsStraightRun) {
  check_resume_is_exact(emgan::test::temp_dir(), torch::kCPU);
}

TEST(Trainer, StoppedAndResumedRunEqualsStraightRun_CUDA) {
  check_resume_is_exact(emgan::test::temp_dir(), torch::Device(torch::kCUDA, 0));
}

TEST(Trainer, LoadsOneModuleForInference) {
  const auto dir = emgan::test::temp_dir();
  TinyRun run = make_run(dir, 2, 5, torch::kCPU);
  run.trainer->fit();
  TinyG g(0.5);
  load_checkpoint_module(run.trainer->last_checkpoint(), "G", *g, torch::kCPU);
  EXPECT_TRUE(test::all_equal(test::snapshot(*g), test::snapshot(*run.g)));
  load_checkpoint_module(run.trainer->last_checkpoint(), "G", *g, torch::kCPU, /*prefer_ema=*/true);
  EXPECT_TRUE(test::all_equal(test::snapshot(*g), test::snapshot(*run.ema->module())));
  try {
    load_checkpoint_module(run.trainer->last_checkpoint(), "F", *g, torch::kCPU);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("'F' (has: D, G)"), std::string::npos) << e.what();
  }
  const Json meta = read_checkpoint_meta(run.trainer->last_checkpoint());
  EXPECT_EQ(meta["step"].get<int64_t>(), 2);
  EXPECT_EQ(meta["modules"], Json({"D", "G"}));
}
