#pragma once
/// \file checkpoint.h
/// Low-level pieces of checkpoints: torch's random-number-generator states, atomic
/// writing of a torch archive, and reading one back with errors that name the file.
/// A checkpoint is one `torch::serialize` archive (the format of `torch::save`):
///   meta            JSON text (format, step, epoch, data position, config, schedulers ...)
///   models/<name>   each module's parameters and buffers (Module::save)
///   optimizers/<name>, ema/<name>, rng/cpu, rng/cuda<i>, recipe/<name>
/// The Trainer (trainer.h) writes and reads them; the functions below also let
/// inference code load one module's weights without building a trainer.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::train {

/// The state of torch's default generators: the CPU one and one per CUDA device
/// (empty when CUDA is absent). Byte tensors on the CPU.
struct RngState {
  torch::Tensor cpu;
  std::vector<torch::Tensor> cuda;
};

/// Reads the current states of torch's default generators.
RngState get_rng_state();

/// Restores `state`; CUDA states for devices not present here are skipped (with a
/// log line), so a GPU run can resume on another machine.
void set_rng_state(const RngState& state);

/// Loads parameters and buffers written by `Module::save` into `module`, checking that
/// every name exists and every shape matches (torch's own `Module::load` silently
/// replaces a tensor of another shape); values are copied in place, so optimizers keep
/// referring to the same tensors. IoError names `where` and the first bad tensor.
void load_module_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                         const std::string& where);

/// Writes `archive` to `path` atomically (temp file + rename; IoError names the path).
void write_archive_atomic(const fs::path& path, torch::serialize::OutputArchive& archive);

/// Opens a torch archive with tensors mapped to `device`; IoError naming the file
/// when it is missing or not a torch archive.
void read_archive(const fs::path& path, torch::serialize::InputArchive& archive,
                  const torch::Device& device);

/// The "meta" JSON of the checkpoint at `path` (IoError naming the file otherwise).
Json read_checkpoint_meta(const fs::path& path);

/// Loads the weights of module `name` (e.g. "G") from the checkpoint at `path` into
/// `module` on `device`; with `prefer_ema`, the EMA copy of that module when the
/// checkpoint has one. IoError naming the file and the module when it is absent or
/// does not fit.
void load_checkpoint_module(const fs::path& path, const std::string& name,
                            torch::nn::Module& module, const torch::Device& device,
                            bool prefer_ema = false);

}  // namespace emgan::train
