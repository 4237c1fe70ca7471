// Optimizers by name, learning-rate schedules (golden values) and EMA math.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "emgan/train/optim.h"
#include "test_util.h"

using namespace emgan;
using namespace emgan::train;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

std::vector<torch::Tensor> some_params() {
  return {torch::zeros({3}, torch::requires_grad()), torch::ones({2, 2}, torch::requires_grad())};
}

}  // namespace

TEST(Optimizers, RegistryListsKnownNames) {
  EXPECT_EQ(optimizer_registry().names(), (std::vector<std::string>{"adam", "adamw", "rmsprop", "sgd"}));
  OptimizerOptions o;
  o.name = "adamax";
  const std::string msg = error_of([&] { make_optimizer(some_params(), o); });
  EXPECT_NE(msg.find("'adamax'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("known: adam, adamw, rmsprop, sgd"), std::string::npos) << msg;
}

TEST(Optimizers, BuildsEachWithItsSettings) {
  OptimizerOptions o;
  o.lr = 0.01;
  o.beta1 = 0.5;
  o.beta2 = 0.9;
  o.weight_decay = 0.1;
  auto adam = make_optimizer(some_params(), o);
  ASSERT_NE(dynamic_cast<torch::optim::Adam*>(adam.get()), nullptr);
  auto& ao = static_cast<torch::optim::AdamOptions&>(adam->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(ao.lr(), 0.01);
  EXPECT_DOUBLE_EQ(std::get<0>(ao.betas()), 0.5);
  EXPECT_DOUBLE_EQ(std::get<1>(ao.betas()), 0.9);
  EXPECT_DOUBLE_EQ(ao.weight_decay(), 0.1);

  o.name = "adamw";
  auto adamw = make_optimizer(some_params(), o);
  ASSERT_NE(dynamic_cast<torch::optim::AdamW*>(adamw.get()), nullptr);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(adamw->param_groups()[0].options()).weight_decay(), 0.1);

  o.name = "sgd";
  o.momentum = 0.9;
  o.nesterov = true;
  auto sgd = make_optimizer(some_params(), o);
  ASSERT_NE(dynamic_cast<torch::optim::SGD*>(sgd.get()), nullptr);
  auto& so = static_cast<torch::optim::SGDOptions&>(sgd->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(so.momentum(), 0.9);
  EXPECT_TRUE(so.nesterov());

  o.name = "rmsprop";
  o.alpha = 0.95;
  auto rms = make_optimizer(some_params(), o);
  ASSERT_NE(dynamic_cast<torch::optim::RMSprop*>(rms.get()), nullptr);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::RMSpropOptions&>(rms->param_groups()[0].options()).alpha(), 0.95);
}

TEST(Optimizers, SgdStepMatchesHandComputation) {
  // w = 1, loss = 3 w -> grad 3; SGD lr 0.1, momentum 0.9: v1 = 3, w1 = 0.7; v2 = 0.9*3 + 3, w2 = 0.7 - 0.57.
  auto w = torch::ones({1}, torch::requires_grad());
  OptimizerOptions o;
  o.name = "sgd";
  o.lr = 0.1;
  o.momentum = 0.9;
  auto opt = make_optimizer({w}, o);
  for (int i = 0; i < 2; ++i) {
    opt->zero_grad();
    (3 * w).sum().backward();
    opt->step();
  }
  EXPECT_NEAR(w.item<double>(), 1.0 - 0.3 - 0.57, 1e-6);
}

TEST(Optimizers, BadValuesNameTheField) {
  OptimizerOptions o;
  o.lr = -1;
  std::string msg = error_of([&] { make_optimizer(some_params(), o); });
  EXPECT_NE(msg.find("lr = -1"), std::string::npos) << msg;
  o = OptimizerOptions{};
  o.name = "sgd";
  o.nesterov = true;
  msg = error_of([&] { make_optimizer(some_params(), o); });
  EXPECT_NE(msg.find("nesterov"), std::string::npos) << msg;
  o = OptimizerOptions{};
  o.beta2 = 1.0;
  msg = error_of([&] { make_optimizer(some_params(), o); });
  EXPECT_NE(msg.find("beta2 = 1"), std::string::npos) << msg;
}

TEST(Optimizers, SettingsRoundTripThroughJson) {
  auto o = settings_from_json<OptimizerOptions>(Json{{"name", "sgd"}, {"momentum", 0.9}}, "run.json");
  EXPECT_EQ(o.name, "sgd");
  EXPECT_DOUBLE_EQ(o.momentum, 0.9);
  EXPECT_DOUBLE_EQ(o.lr, 2e-4);
  const Json back = o;
  EXPECT_EQ(settings_from_json<OptimizerOptions>(back, "x").momentum, 0.9);
  EXPECT_THROW(settings_from_json<OptimizerOptions>(Json{{"momentun", 0.9}}, "run.json"), ConfigError);
}

namespace {

/// Runs `steps` Adam updates of a small regression from fixed data; returns the params.
std::vector<torch::Tensor> run_adam(const std::function<OptimizerPtr(std::vector<torch::Tensor>)>& make,
                                    int steps, int64_t save_at = -1,
                                    const std::function<OptimizerPtr(std::vector<torch::Tensor>)>& remake = nullptr) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> params = {torch::randn({64, 33}).requires_grad_(), torch::randn({33}).requires_grad_(),
                                       torch::randn({5}).requires_grad_()};
  const auto x = torch::randn({16, 64});
  const auto y = torch::randn({16, 33});
  auto opt = make(params);
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    auto loss = ((x.mm(params[0]) + params[1] - y).pow(2).mean() + params[2].sin().sum());
    loss.backward();
    opt->step();
    if (s == save_at && remake) {  // checkpoint round trip through an archive mid-run
      torch::serialize::OutputArchive out;
      opt->save(out);
      std::ostringstream bytes;
      out.save_to(bytes);
      opt = remake(params);
      torch::serialize::InputArchive in;
      std::istringstream is(bytes.str());
      in.load_from(is);
      opt->load(in);
    }
  }
  return params;
}

}  // namespace

TEST(Optimizers, FusedAdamMatchesTorchAdam) {
  const auto torch_adam = [](std::vector<torch::Tensor> p) -> OptimizerPtr {
    return std::make_shared<torch::optim::Adam>(
        std::move(p), torch::optim::AdamOptions(2e-3).betas(std::make_tuple(0.5, 0.999)).eps(1e-8));
  };
  for (bool release : {false, true}) {
    OptimizerOptions o;
    o.lr = 2e-3;
    o.release_grads = release;
    const auto fused = [&](std::vector<torch::Tensor> p) { return make_optimizer(std::move(p), o); };
    ASSERT_NE(dynamic_cast<FusedAdam*>(fused(some_params()).get()), nullptr);
    const auto a = run_adam(torch_adam, 25);
    const auto b = run_adam(fused, 25);
    // Resumed from saved state after step 10: the same trajectory.
    const auto c = run_adam(fused, 25, 10, fused);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), 1e-6) << "param " << i << " release " << release;
      EXPECT_LT((b[i] - c[i]).abs().max().item<double>(), 1e-7) << "param " << i << " release " << release;
      EXPECT_EQ(b[i].grad().defined(), !release) << "param " << i;
    }
  }
}

TEST(Optimizers, FusedAdamWithWeightDecayUsesTorchStep) {
  OptimizerOptions o;
  o.lr = 1e-2;
  o.weight_decay = 0.1;
  o.release_grads = false;
  const auto torch_adam = [](std::vector<torch::Tensor> p) -> OptimizerPtr {
    return std::make_shared<torch::optim::Adam>(
        std::move(p), torch::optim::AdamOptions(1e-2).betas(std::make_tuple(0.5, 0.999)).weight_decay(0.1));
  };
  const auto a = run_adam(torch_adam, 10);
  const auto b = run_adam([&](std::vector<torch::Tensor> p) { return make_optimizer(std::move(p), o); }, 10);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
}

TEST(Optimizers, GetAndSetLr) {
  auto opt = make_optimizer(some_params(), OptimizerOptions{});
  set_lr(*opt, 0.125);
  EXPECT_DOUBLE_EQ(get_lr(*opt), 0.125);
}

TEST(Schedules, RegistryListsKnownNames) {
  EXPECT_EQ(schedule_registry().names(), (std::vector<std::string>{"constant", "cosine", "linear", "step"}));
  ScheduleOptions s;
  s.name = "poly";
  EXPECT_NE(error_of([&] { s.validate(); }).find("constant, cosine, linear, step"), std::string::npos);
  s = ScheduleOptions{};
  s.gamma = 0;
  EXPECT_NE(error_of([&] { s.validate(); }).find("gamma = 0"), std::string::npos);
  s = ScheduleOptions{};
  s.unit = "iteration";
  EXPECT_NE(error_of([&] { s.validate(); }).find("iteration"), std::string::npos);
}

TEST(Schedules, GoldenValues) {
  ScheduleOptions s;
  EXPECT_DOUBLE_EQ(schedule_lr(s, 0.2, 57), 0.2);  // constant

  // pix2pix lambda_rule with n_epochs = 2, n_epochs_decay = 3, epoch_count = 1:
  // 1 - max(0, t + 1 - 2) / 4.
  s.name = "linear";
  s.n_constant = 2;
  s.n_decay = 3;
  const double linear[] = {1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0};
  for (int t = 0; t < 7; ++t) EXPECT_DOUBLE_EQ(schedule_lr(s, 2.0, t), 2.0 * linear[t]) << t;

  s = ScheduleOptions{};
  s.name = "step";
  s.step_size = 2;
  s.gamma = 0.5;
  const double step[] = {1.0, 1.0, 0.5, 0.5, 0.25};
  for (int t = 0; t < 5; ++t) EXPECT_DOUBLE_EQ(schedule_lr(s, 1.0, t), step[t]) << t;

  s = ScheduleOptions{};
  s.name = "cosine";
  s.t_max = 4;
  s.min_lr = 0.1;
  EXPECT_DOUBLE_EQ(schedule_lr(s, 1.0, 0), 1.0);
  EXPECT_NEAR(schedule_lr(s, 1.0, 1), 0.1 + 0.9 * 0.5 * (1 + std::sqrt(0.5)), 1e-12);
  EXPECT_NEAR(schedule_lr(s, 1.0, 2), 0.55, 1e-12);
  EXPECT_NEAR(schedule_lr(s, 1.0, 4), 0.1, 1e-12);
  EXPECT_NEAR(schedule_lr(s, 1.0, 9), 0.1, 1e-12);

  s = ScheduleOptions{};
  s.warmup = 2;
  EXPECT_DOUBLE_EQ(schedule_lr(s, 0.3, 0), 0.1);
  EXPECT_DOUBLE_EQ(schedule_lr(s, 0.3, 1), 0.2);
  EXPECT_DOUBLE_EQ(schedule_lr(s, 0.3, 2), 0.3);
}

TEST(Schedules, SchedulerSetsEveryGroupFromItsBase) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{torch::zeros({1}, torch::requires_grad())},
                      std::make_unique<torch::optim::SGDOptions>(0.4));
  groups.emplace_back(std::vector<torch::Tensor>{torch::zeros({1}, torch::requires_grad())},
                      std::make_unique<torch::optim::SGDOptions>(0.2));
  auto opt = std::make_shared<torch::optim::SGD>(groups, torch::optim::SGDOptions(0.4));
  ScheduleOptions s;
  s.name = "step";
  s.unit = "step";
  s.step_size = 1;
  s.gamma = 0.5;
  LrScheduler sched(opt, s);
  sched.apply(/*step=*/2, /*epoch=*/0);
  EXPECT_DOUBLE_EQ(get_lr(*opt, 0), 0.1);
  EXPECT_DOUBLE_EQ(get_lr(*opt, 1), 0.05);
  s.unit = "epoch";
  LrScheduler by_epoch(opt, ScheduleOptions(s));  // base = the current (scheduled) lr
  by_epoch.apply(5, 1);
  EXPECT_DOUBLE_EQ(get_lr(*opt, 0), 0.05);
}

TEST(Schedules, StateRestoresBaseLr) {
  auto w = torch::zeros({1}, torch::requires_grad());
  OptimizerOptions oo;
  oo.lr = 1.0;
  auto opt = make_optimizer({w}, oo);
  ScheduleOptions s;
  s.name = "linear";
  s.n_constant = 1;
  s.n_decay = 3;
  LrScheduler a(opt, s);
  a.apply(0, 2);  // 1 - 2/4 = 0.5
  EXPECT_DOUBLE_EQ(a.lr(), 0.5);
  const Json state = a.state();

  // A resumed optimizer holds the scheduled lr (0.5), not the base: the state fixes that.
  auto opt2 = make_optimizer({w}, oo);
  set_lr(*opt2, 0.5);
  LrScheduler b(opt2, s);
  b.apply(0, 3);
  EXPECT_DOUBLE_EQ(b.lr(), 0.125);  // wrong base without the state
  b.load_state(state, "ckpt.pt");
  b.apply(0, 3);
  EXPECT_DOUBLE_EQ(b.lr(), 0.25);
  EXPECT_THROW(b.load_state(Json{{"base_lrs", {1.0, 2.0}}, {"last_t", 0}}, "ckpt.pt"), ConfigError);
}

TEST(Ema, AveragesParametersAndCopiesBuffers) {
  torch::manual_seed(3);
  torch::nn::Sequential net(torch::nn::Linear(3, 2), torch::nn::BatchNorm1d(2));
  auto ema = Ema::from_clone(net.ptr(), 0.9);
  const auto w0 = net->named_parameters()["0.weight"].detach().clone();
  EXPECT_TRUE(torch::equal(ema->module()->named_parameters()["0.weight"], w0));
  EXPECT_FALSE(ema->module()->is_training());

  {
    torch::NoGradGuard g;
    for (auto& p : net->parameters()) p.add_(1.0);
  }
  net->train();
  net->forward(torch::randn({4, 3}));  // moves the batch-norm running statistics
  ema->update();
  auto shadow = ema->module()->named_parameters()["0.weight"];
  EXPECT_TRUE(torch::allclose(shadow, 0.9 * w0 + 0.1 * (w0 + 1.0), 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(ema->module()->named_buffers()["1.running_mean"],
                           net->named_buffers()["1.running_mean"]));
  ema->update();  // source unchanged: shadow moves 10% further towards it
  const auto expect = 0.9 * (0.9 * w0 + 0.1 * (w0 + 1.0)) + 0.1 * (w0 + 1.0);
  EXPECT_TRUE(torch::allclose(ema->module()->named_parameters()["0.weight"], expect, 1e-6, 1e-6));
  EXPECT_EQ(ema->num_updates(), 2);
  EXPECT_FALSE(ema->module()->named_parameters()["0.weight"].requires_grad());
}

TEST(Ema, SwapInstallsAndRestoresWeights) {
  torch::manual_seed(4);
  torch::nn::Sequential net(torch::nn::Linear(3, 2));
  auto ema = Ema::from_clone(net.ptr(), 0.5);
  {
    torch::NoGradGuard g;
    for (auto& p : net->parameters()) p.mul_(3.0);
  }
  ema->update();
  const auto live = net->named_parameters()["0.weight"].detach().clone();
  {
    EmaSwap swap(*ema);
    EXPECT_TRUE(torch::equal(net->named_parameters()["0.weight"], ema->module()->named_parameters()["0.weight"]));
    EXPECT_FALSE(torch::equal(net->named_parameters()["0.weight"], live));
  }
  EXPECT_TRUE(torch::equal(net->named_parameters()["0.weight"], live));
}

TEST(Ema, RejectsBadDecayAndMismatchedCopy) {
  torch::nn::Sequential a(torch::nn::Linear(3, 2));
  torch::nn::Sequential b(torch::nn::Linear(3, 4));
  EXPECT_NE(error_of([&] { Ema(a.ptr(), b.ptr(), 0.9); }).find("0.weight"), std::string::npos);
  EXPECT_NE(error_of([&] { Ema::from_clone(a.ptr(), 1.0); }).find("decay = 1"), std::string::npos);
  struct Plain : torch::nn::Module {
    Plain() { register_parameter("w", torch::zeros({1})); }
  };
  EXPECT_NE(error_of([&] { Ema::from_clone(std::make_shared<Plain>(), 0.9); }).find("explicit copy"),
            std::string::npos);
}
