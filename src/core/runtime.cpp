#include "emgan/core/runtime.h"

#include <torch/torch.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "emgan/core/error.h"

#ifndef EMGAN_VERSION
#define EMGAN_VERSION "0.0.0"
#endif

namespace emgan {

torch::Device parse_device(const std::string& spec) {
  if (spec == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  if (spec == "cpu") return torch::Device(torch::kCPU);
  static const std::regex cuda_re("cuda(:([0-9]+))?");
  std::smatch m;
  if (std::regex_match(spec, m, cuda_re)) {
    const int index = m[2].matched ? std::stoi(m[2].str()) : 0;
    EMGAN_CHECK(ConfigError, torch::cuda::is_available(), "--device ", spec,
                ": no CUDA device is available in this build/machine (use cpu or auto)");
    const int count = static_cast<int>(torch::cuda::device_count());
    EMGAN_CHECK(ConfigError, index < count, "--device ", spec, ": only ", count,
                " CUDA device(s) present");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ConfigError("--device '" + spec + "' is not one of: auto, cpu, cuda, cuda:N");
}

void set_threads(int threads) {
  EMGAN_CHECK(ConfigError, threads >= 0, "--threads ", threads, " must be >= 0 (0 = all cores)");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

void seed_all(uint64_t seed) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
}

torch::Device apply_runtime(const RuntimeSettings& settings) {
  const torch::Device device = parse_device(settings.device);
  set_threads(settings.threads);
  seed_all(settings.seed);
  return device;
}

std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  if (!maps) return "unknown";
  std::set<std::string> libs;
  std::string line;
  static const std::regex blas_re("(lib(open)?blas[^/ ]*\\.so[^/ ]*|libmkl[^/ ]*\\.so[^/ ]*|libblis[^/ ]*\\.so[^/ ]*)$");
  while (std::getline(maps, line)) {
    std::smatch m;
    if (std::regex_search(line, m, blas_re)) {
      const auto slash = line.rfind(' ');
      libs.insert(line.substr(slash + 1));
    }
  }
  if (libs.empty()) return "none found";
  std::string out;
  for (const auto& l : libs) out += (out.empty() ? "" : ", ") + l;
  return out;
}

std::string version() { return EMGAN_VERSION; }

std::string describe_runtime() {
  std::ostringstream os;
  os << "emgan: " << version() << "\n";
  os << "libtorch: " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH << "\n";
  os << "cuda available: " << (torch::cuda::is_available() ? "yes" : "no") << "\n";
  os << "cuda devices: " << torch::cuda::device_count() << "\n";
  os << "threads: " << at::get_num_threads() << " (hardware cores: " << std::thread::hardware_concurrency() << ")\n";
  os << "blas: " << loaded_blas() << "\n";
  return os.str();
}

}  // namespace emgan
