#pragma once
/// \file runtime.h
/// Device choice, threads, seeds, and a description of the runtime for `emgan info`.
#include <torch/types.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace emgan {

/// Where and how a verb computes; part of every verb's settings.
struct RuntimeSettings {
  std::string device = "auto";  ///< auto | cpu | cuda | cuda:N
  int threads = 0;              ///< intra-op CPU threads; 0 = one per core
  uint64_t seed = 0;            ///< seed of every random choice of the run
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RuntimeSettings, device, threads, seed)

/// Applies `settings` (threads, seed) and returns the chosen device.
torch::Device apply_runtime(const RuntimeSettings& settings);

/// Parses `auto|cpu|cuda|cuda:N`. `auto` is the first CUDA device when one is
/// available, else the CPU. Asking for CUDA without one throws ConfigError.
torch::Device parse_device(const std::string& spec);

/// Sets the intra-op threads of torch; 0 means one per hardware core.
void set_threads(int threads);

/// Seeds torch (CPU and CUDA) with `seed`; emgan never seeds from the clock.
void seed_all(uint64_t seed);

/// Versions (emgan, LibTorch), devices, threads and the BLAS library that is
/// loaded in this process, one "key: value" per line.
std::string describe_runtime();

/// The BLAS shared library mapped into this process (e.g. "libopenblas.so.0"),
/// read from /proc/self/maps; "unknown" where that cannot be read.
std::string loaded_blas();

/// emgan's version string.
std::string version();

}  // namespace emgan
