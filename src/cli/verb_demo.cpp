#include <iostream>

#include "cli.h"
#include "emgan/workflows/demo.h"

namespace emgan::cli {

void register_demo(CLI::App& root, const Context& ctx) {
  static workflows::DemoSettings s;
  load_config(ctx, "demo", s);
  auto* sub = root.add_subcommand("demo", "Make a small synthetic data set, train and cross-validate on it, write a report");
  sub->add_option("--out", s.out, "run directory");
  sub->add_option("--pairs", s.pairs, "synthetic pairs to generate");
  sub->add_option("--folds", s.folds, "cross-validation folds");
  sub->add_option("--epochs", s.epochs, "pix2pix epochs per fold");
  sub->add_option("--real-data", s.real_data, "real pairs for the poly baseline when present (\"\" = skip)");
  add_config_option(sub);
  add_runtime_options(sub, s.runtime);
  sub->callback([] {
    const auto index = workflows::run_demo(s);
    std::cout << "report: " << index << std::endl;
  });
}

}  // namespace emgan::cli
