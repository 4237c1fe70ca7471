#include <iostream>

#include "cli.h"

namespace emgan::cli {

void register_info(CLI::App& root, const Context&) {
  auto* sub = root.add_subcommand("info", "Versions, devices, threads and the BLAS library in use");
  auto* runtime = new RuntimeSettings();  // lives as long as the process
  add_runtime_options(sub, *runtime);
  sub->callback([runtime] {
    apply_runtime(*runtime);
    std::cout << describe_runtime();
  });
}

}  // namespace emgan::cli
