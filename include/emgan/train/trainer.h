#pragma once
/// \file trainer.h
/// The training loop: a Recipe does one optimisation step on a batch and returns named
/// losses; the Trainer runs epochs over a BatchSource, drives schedules and EMA, stops
/// on a non-finite loss, logs metrics, shows progress, runs end-of-epoch callbacks and
/// writes checkpoints that resume exactly. The trainer is handed its modules,
/// optimizers, losses (inside the recipe), data and seed; it builds none of them.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/train/optim.h"

namespace emgan::train {

/// One mini-batch. For image-to-image training `input` and `target` are [N, C, H, W]
/// float tensors (value range as the data's normalisation leaves it); unpaired or
/// unsupervised recipes may leave `target` undefined and use `extra`.
struct Batch {
  torch::Tensor input;
  torch::Tensor target;
  /// Further named tensors (masks, labels, a second domain ...).
  std::map<std::string, torch::Tensor> extra;

  /// The batch with every defined tensor moved to `device`.
  Batch to(const torch::Device& device) const;
  /// Number of samples N (0 when `input` is undefined).
  int64_t size() const;
};

/// What one step reports: named scalar losses (unitless; checked for NaN/Inf).
struct StepResult {
  std::map<std::string, double> losses;
};

/// Extra state of a recipe component kept between steps (an image pool's history,
/// ALRC's running moments) that must go into checkpoints for an exact resume.
class Stateful {
 public:
  virtual ~Stateful() = default;
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
};

/// A training recipe: how one optimisation step is done on a batch. It owns (shares)
/// its modules and optimizers and names them for checkpoints.
class Recipe {
 public:
  virtual ~Recipe() = default;

  /// One optimisation step on `batch` (already on the training device).
  virtual StepResult step(const Batch& batch) = 0;

  /// The modules to checkpoint, by name ("G", "D").
  virtual std::map<std::string, std::shared_ptr<torch::nn::Module>> modules() const = 0;

  /// The optimizers to checkpoint (and to schedule), by name.
  virtual std::map<std::string, OptimizerPtr> optimizers() const = 0;

  /// Sets train (true) or eval (false) mode on every module.
  virtual void set_training(bool on);

  /// Registers component state saved with the recipe (names must be unique).
  void register_state(const std::string& name, std::shared_ptr<Stateful> state);

  /// Writes / reads every registered state (recipe/<name> in the checkpoint).
  virtual void save_state(torch::serialize::OutputArchive& archive) const;
  virtual void load_state(torch::serialize::InputArchive& archive);

 private:
  std::map<std::string, std::shared_ptr<Stateful>> states_;
};

/// Where batches come from. The trainer calls `seek(epoch, 0)` at the start of each
/// epoch, or `seek(epoch, index)` once when resuming mid-epoch, then `next()`
/// `batches_per_epoch() - index` times. A source that shuffles should derive the order
/// of an epoch from its own seed and `epoch`, so a resumed run sees the same batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  virtual void seek(int64_t epoch, int64_t index) = 0;
  virtual Batch next() = 0;
};

/// A BatchSource from a function `make(epoch, index)` (deterministic data, tests,
/// adapters around a DataLoader).
class FunctionBatchSource : public BatchSource {
 public:
  FunctionBatchSource(int64_t batches_per_epoch,
                      std::function<Batch(int64_t epoch, int64_t index)> make);
  int64_t batches_per_epoch() const override { return batches_; }
  void seek(int64_t epoch, int64_t index) override;
  Batch next() override;

 private:
  int64_t batches_;
  std::function<Batch(int64_t, int64_t)> make_;
  int64_t epoch_ = 0;
  int64_t index_ = 0;
};

/// A metrics log in a run folder: `<dir>/<stem>.csv` and/or `<dir>/<stem>.jsonl`, one
/// row per call. Rows are flat JSON objects (numbers or strings). CSV columns are
/// those of the first row; a later row with new keys rewrites the file with the wider
/// header (missing cells are empty). An existing file is continued, not replaced.
class MetricsLog {
 public:
  /// `format`: "csv", "jsonl" or "both".
  MetricsLog(fs::path dir, std::string stem, std::string format);

  /// Appends one row (flushed at once).
  void append(const Json& row);

  /// Drops rows whose "step" is greater than `step` (used when resuming, so rows
  /// written after the checkpoint are not duplicated).
  void truncate_after(int64_t step);

  /// The files this log writes.
  std::vector<fs::path> files() const;

 private:
  void load_csv_header();
  void rewrite_csv(const std::vector<std::string>& columns);

  fs::path dir_;
  std::string stem_;
  bool csv_;
  bool jsonl_;
  std::vector<std::string> columns_;
};

/// Settings of the training loop.
struct TrainerOptions {
  /// Passes over the data (>= 1).
  int64_t epochs = 1;
  /// Stop after this many optimisation steps in all (0 = epochs * batches_per_epoch).
  int64_t max_steps = 0;
  /// Steps per metrics-log row (losses are averaged over the interval; >= 1).
  int64_t log_every = 10;
  /// Write checkpoints/last.pt every this many steps (0 = only at the end).
  int64_t checkpoint_every = 0;
  /// Also keep checkpoints/step_<N>.pt every this many steps (0 = keep only last.pt).
  int64_t keep_every = 0;
  /// Seed of torch's generators at the start of a fresh run (a resumed run restores
  /// the saved generator states instead).
  uint64_t seed = 0;
  /// Metrics log format: "csv", "jsonl" or "both".
  std::string metrics_format = "csv";
  /// Show a progress line (stderr).
  bool progress = true;

  /// Throws ConfigError naming `source`, the field and its value when out of range.
  void validate(const std::string& source = "trainer") const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainerOptions, epochs, max_steps, log_every,
                                                checkpoint_every, keep_every, seed,
                                                metrics_format, progress)

class Trainer;

/// Called at the end of every epoch (epoch counted from 0); returns metrics to log
/// (e.g. validation PSNR), written to the "eval" log with step and epoch. Modules are
/// set back to training mode afterwards.
using EpochCallback = std::function<std::map<std::string, double>(Trainer& trainer, int64_t epoch)>;

/// Runs a Recipe over a BatchSource on one device. Files in `run_dir`:
/// metrics.csv|jsonl (one row per log interval: step, epoch, mean losses, lr_<optimizer>,
/// images_per_s, time_s), eval.csv|jsonl (callback metrics), checkpoints/last.pt and
/// checkpoints/step_<N>.pt.
class Trainer {
 public:
  Trainer(TrainerOptions options, std::shared_ptr<Recipe> recipe,
          std::shared_ptr<BatchSource> data, torch::Device device, fs::path run_dir);

  /// Schedules the learning rate of the recipe's optimizer `optimizer_name` (its
  /// scheduler must drive that same optimizer object).
  void add_scheduler(const std::string& optimizer_name, std::shared_ptr<LrScheduler> scheduler);

  /// Keeps an EMA (updated after every step) saved in checkpoints as ema/<name>;
  /// `name` should be that of the averaged module ("G").
  void add_ema(const std::string& name, std::shared_ptr<Ema> ema);

  void add_epoch_callback(EpochCallback callback);

  /// The effective configuration of the run, stored in every checkpoint.
  void set_config(Json config) { config_ = std::move(config); }
  const Json& config() const { return config_; }

  /// Redirects the progress line (tests); `is_terminal` picks redraw vs plain lines.
  void set_progress_stream(std::ostream* os, bool is_terminal);

  /// Restores everything from a checkpoint written by `save_checkpoint`: modules,
  /// optimizers, schedulers, EMAs, recipe state, RNG states, step, epoch and data
  /// position; the metrics logs lose rows after the checkpoint's step. The next `fit`
  /// continues exactly where the checkpointed run was. IoError names the file when it
  /// is missing or unreadable; ConfigError when it does not match this trainer.
  void resume(const fs::path& checkpoint);

  /// Trains until `epochs` (or `max_steps`) are done, then writes checkpoints/last.pt.
  /// A NaN/Inf loss throws TrainingError naming the loss, step and value; no checkpoint
  /// is written after it, so the last good one stays intact.
  void fit();

  /// Writes a checkpoint of the current state to `path` atomically.
  void save_checkpoint(const fs::path& path) const;

  /// Optimisation steps done so far.
  int64_t step() const { return step_; }
  /// Current epoch (counted from 0; == epochs when done).
  int64_t epoch() const { return epoch_; }
  /// Total steps this run aims for.
  int64_t total_steps() const;

  const fs::path& run_dir() const { return run_dir_; }
  fs::path checkpoint_dir() const { return run_dir_ / "checkpoints"; }
  fs::path last_checkpoint() const { return checkpoint_dir() / "last.pt"; }
  torch::Device device() const { return device_; }
  Recipe& recipe() { return *recipe_; }
  const TrainerOptions& options() const { return options_; }
  const std::map<std::string, std::shared_ptr<Ema>>& emas() const { return emas_; }

 private:
  Json make_meta() const;
  void checkpoint_now();

  TrainerOptions options_;
  std::shared_ptr<Recipe> recipe_;
  std::shared_ptr<BatchSource> data_;
  torch::Device device_;
  fs::path run_dir_;
  Json config_ = Json::object();
  std::map<std::string, std::shared_ptr<LrScheduler>> schedulers_;
  std::map<std::string, std::shared_ptr<Ema>> emas_;
  std::vector<EpochCallback> callbacks_;
  std::ostream* progress_os_ = nullptr;
  bool progress_terminal_ = false;
  MetricsLog metrics_;
  MetricsLog eval_;

  int64_t step_ = 0;
  int64_t epoch_ = 0;
  int64_t index_ = 0;  // next batch within epoch_
  bool resumed_ = false;
  int64_t last_saved_step_ = -1;
};

}  // namespace emgan::train
