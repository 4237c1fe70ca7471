#include "cli.h"

namespace emgan::cli {

Context prescan(int argc, char** argv) {
  Context ctx;
  bool in_verb = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--config=", 0) == 0) {
      ctx.config_path = arg.substr(9);
    } else if (arg == "--config" && i + 1 < argc) {
      ctx.config_path = argv[++i];
    }
    if (!arg.empty() && arg[0] == '-') in_verb = false;
    if (in_verb) ctx.verb += (ctx.verb.empty() ? "" : " ") + arg;
  }
  return ctx;
}

void add_config_option(CLI::App* sub) {
  static std::string ignored;
  sub->add_option("--config", ignored,
                  "JSON file of settings (any subset of the keys of the run's config.json); "
                  "flags given on the command line override it");
}

void add_runtime_options(CLI::App* sub, RuntimeSettings& runtime) {
  sub->add_option("--device", runtime.device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--threads", runtime.threads, "CPU threads for torch (0 = one per core)")
      ->capture_default_str();
  sub->add_option("--seed", runtime.seed, "seed of every random choice")->capture_default_str();
}

}  // namespace emgan::cli
