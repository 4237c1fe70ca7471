#pragma once
/// \file optim.h
/// Optimizers built by name from settings (Adam, AdamW, SGD, RMSprop), learning-rate
/// schedules (constant, linear decay, step, cosine; optional linear warmup) and an
/// exponential moving average (EMA) of a module's weights.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/registry.h"

namespace emgan::train {

// --- optimizers --------------------------------------------------------------------

/// Settings of an optimizer; which fields are used depends on `name`
/// ("adam": lr, beta1, beta2, eps, weight_decay; "adamw": the same, decoupled weight
/// decay; "sgd": lr, momentum, nesterov, weight_decay; "rmsprop": lr, alpha, eps,
/// momentum, weight_decay).
struct OptimizerOptions {
  /// One of optimizer_registry().names(): adam, adamw, rmsprop, sgd.
  std::string name = "adam";
  /// Initial learning rate (> 0); a schedule scales it during training.
  double lr = 2e-4;
  /// Adam/AdamW first-moment decay, in [0, 1) (pix2pix uses 0.5).
  double beta1 = 0.5;
  /// Adam/AdamW second-moment decay, in [0, 1).
  double beta2 = 0.999;
  /// Adam/AdamW/RMSprop denominator term (> 0).
  double eps = 1e-8;
  /// L2 penalty (Adam, SGD, RMSprop) or decoupled decay (AdamW), >= 0.
  double weight_decay = 0.0;
  /// SGD/RMSprop momentum, in [0, 1).
  double momentum = 0.0;
  /// SGD Nesterov momentum (needs momentum > 0).
  bool nesterov = false;
  /// RMSprop smoothing constant of the squared-gradient average, in [0, 1).
  double alpha = 0.99;
  /// Adam: after each update drop the gradients (Python's zero_grad(set_to_none=True)),
  /// so the next backward() writes fresh buffers instead of accumulating into zeroed
  /// ones. Numerically identical; saves the zero-fill of every gradient but pays fresh
  /// allocations: faster only on a memory-contended CPU (BENCHMARKS.md), so off by
  /// default. Code that reads p.grad() after step() then sees an undefined tensor.
  bool release_grads = false;

  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "optimizer") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OptimizerOptions, name, lr, beta1, beta2, eps,
                                                weight_decay, momentum, nesterov, alpha,
                                                release_grads)

using OptimizerPtr = std::shared_ptr<torch::optim::Optimizer>;
using OptimizerRegistry =
    Registry<OptimizerPtr, std::vector<torch::Tensor>, const OptimizerOptions&>;

/// torch::optim::Adam whose update of a CPU float32 contiguous parameter (without
/// weight decay or AMSGrad) is one pass over (param, grad, m, v) instead of ATen's seven
/// element-wise kernels, with the same formula in the same operation order, so results
/// equal torch::optim::Adam's to float rounding (tests/train). Other devices, dtypes
/// and options use Adam's own step. State lives in Adam's state map, so save/load and
/// checkpoints are Adam's. With `release_grads` the gradients are dropped after the step.
class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options, bool release_grads);
  torch::Tensor step(LossClosure closure = nullptr) override;
  bool release_grads() const { return release_grads_; }

 private:
  bool release_grads_;
};

/// The optimizers known by name: adam (FusedAdam), adamw, rmsprop, sgd.
const OptimizerRegistry& optimizer_registry();

/// Builds the optimizer `options.name` over `params` (validated first; ConfigError on
/// an unknown name lists the known ones).
OptimizerPtr make_optimizer(std::vector<torch::Tensor> params, const OptimizerOptions& options);

/// Learning rate of param group `group` of `optimizer`.
double get_lr(const torch::optim::Optimizer& optimizer, size_t group = 0);

/// Sets the learning rate of every param group of `optimizer` to `lr`.
void set_lr(torch::optim::Optimizer& optimizer, double lr);

// --- learning-rate schedules ---------------------------------------------------------

/// Settings of a learning-rate schedule. `t` below is the epoch (unit "epoch") or the
/// optimisation step (unit "step"), counted from 0.
struct ScheduleOptions {
  /// One of schedule_registry().names(): constant, cosine, linear, step.
  std::string name = "constant";
  /// What `t` counts: "epoch" or "step".
  std::string unit = "epoch";
  /// Linear warmup over the first `warmup` units: lr(t) *= (t + 1) / (warmup + 1)
  /// for t < warmup (0 = none).
  int64_t warmup = 0;
  /// "linear" (pix2pix): units at the base lr ...
  int64_t n_constant = 100;
  /// ... then units of linear decay: factor = 1 - max(0, t + 1 - n_constant) / (n_decay + 1),
  /// clamped at 0 (the reference `lambda_rule` with epoch_count = 1).
  int64_t n_decay = 100;
  /// "step": the lr is multiplied by `gamma` every `step_size` units.
  int64_t step_size = 30;
  /// "step": decay factor, in (0, 1].
  double gamma = 0.1;
  /// "cosine": units of the half cosine from the base lr down to `min_lr` (then held).
  int64_t t_max = 100;
  /// "cosine": final learning rate (>= 0).
  double min_lr = 0.0;

  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "schedule") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ScheduleOptions, name, unit, warmup, n_constant,
                                                n_decay, step_size, gamma, t_max, min_lr)

/// lr(base_lr, t) of one schedule, before warmup.
using ScheduleFn = std::function<double(double base_lr, int64_t t)>;
using ScheduleRegistry = Registry<ScheduleFn, const ScheduleOptions&>;

/// The schedules known by name: constant, cosine, linear, step.
const ScheduleRegistry& schedule_registry();

/// The learning rate of schedule `options` at `t` for a base lr, warmup included.
double schedule_lr(const ScheduleOptions& options, double base_lr, int64_t t);

/// Drives the learning rate of one optimizer: remembers the base lr of each param
/// group (the lr the optimizer had when the scheduler was made) and sets
/// lr = schedule_lr(options, base, t) on every `apply`. Its state (base lrs, last t)
/// goes into checkpoints, since a resumed optimizer holds the scheduled, not the base, lr.
class LrScheduler {
 public:
  LrScheduler(OptimizerPtr optimizer, ScheduleOptions options);

  /// Sets the lr of every param group for optimisation step `step` in epoch `epoch`
  /// (both counted from 0); `options().unit` picks which one is `t`.
  void apply(int64_t step, int64_t epoch);

  /// Current lr of param group 0.
  double lr() const;

  const ScheduleOptions& options() const { return options_; }
  const OptimizerPtr& optimizer() const { return optimizer_; }

  /// {"options", "base_lrs", "last_t"}.
  Json state() const;
  /// Restores `state()`; ConfigError naming `source` when it does not fit this optimizer.
  void load_state(const Json& state, const std::string& source);

 private:
  OptimizerPtr optimizer_;
  ScheduleOptions options_;
  std::vector<double> base_lrs_;
  int64_t last_t_ = -1;
};

// --- exponential moving average -------------------------------------------------------

/// Exponential moving average of a module's parameters (Polyak averaging, as used for
/// GAN generators): after each `update()`, shadow = decay * shadow + (1 - decay) * param
/// for every parameter; buffers (e.g. batch-norm statistics) are copied. The shadow
/// lives in a separate copy of the module (same architecture, same device), which is
/// what one evaluates or saves.
class Ema {
 public:
  /// `source` is the trained module; `copy` a module of the same architecture (its
  /// values are overwritten with those of `source`); `decay` in [0, 1).
  Ema(std::shared_ptr<torch::nn::Module> source, std::shared_ptr<torch::nn::Module> copy,
      double decay);

  /// As above with `copy = source->clone()` (the module must be Cloneable; otherwise
  /// ConfigError asks for an explicit copy).
  static std::shared_ptr<Ema> from_clone(std::shared_ptr<torch::nn::Module> source, double decay);

  /// One averaging step (call after each optimizer step of the source).
  void update();

  /// The averaged module (in eval mode, no gradients).
  const std::shared_ptr<torch::nn::Module>& module() const { return copy_; }
  const std::shared_ptr<torch::nn::Module>& source() const { return source_; }

  /// Copies the averaged parameters and buffers into `target` (same architecture).
  void copy_to(torch::nn::Module& target) const;

  double decay() const { return decay_; }
  int64_t num_updates() const { return num_updates_; }

  /// Writes / reads the averaged module and the update count.
  void save(torch::serialize::OutputArchive& archive) const;
  /// `where` names the file/entry in error messages (IoError on a mismatch).
  void load(torch::serialize::InputArchive& archive, const std::string& where = "EMA");

 private:
  std::shared_ptr<torch::nn::Module> source_;
  std::shared_ptr<torch::nn::Module> copy_;
  double decay_;
  int64_t num_updates_ = 0;
};

/// Swaps the averaged weights into the source module for the lifetime of this object
/// (e.g. to evaluate or save the live module with EMA weights) and swaps them back.
class EmaSwap {
 public:
  explicit EmaSwap(const Ema& ema);
  ~EmaSwap();
  EmaSwap(const EmaSwap&) = delete;
  EmaSwap& operator=(const EmaSwap&) = delete;

 private:
  std::shared_ptr<torch::nn::Module> source_;
  std::vector<torch::Tensor> saved_;
};

}  // namespace emgan::train
