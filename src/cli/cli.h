#pragma once
/// \file cli.h
/// The thin command line over the library: each verb binds CLI flags to the
/// fields of its settings struct (so --help prints the struct's defaults), loads
/// `--config FILE` into that struct first, and lets the flags given override it.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/runtime.h"

namespace emgan::cli {

/// What was found on the command line before parsing: the verb path
/// ("translate cv") and the config file given with --config, if any.
struct Context {
  std::string verb;         ///< space-joined leading words, e.g. "translate cv"
  std::string config_path;  ///< value of --config, or empty
};

/// Scans argv for the verb words and --config (before CLI11 parses it).
Context prescan(int argc, char** argv);

/// Fills `settings` from the config file of `ctx` when `ctx.verb` is `verb`;
/// throws ConfigError naming the file for unknown keys or wrong types.
/// `run_info_keys` are keys a run writes into its config.json for information
/// (e.g. the detected data encoding): dropped, so the file of a run loads back.
template <typename S>
void load_config(const Context& ctx, const std::string& verb, S& settings,
                 const std::vector<std::string>& run_info_keys = {}) {
  const bool same = ctx.verb == verb || ctx.verb.rfind(verb + " ", 0) == 0;
  if (!same || ctx.config_path.empty()) return;
  Json j = load_json_file(ctx.config_path);
  if (j.is_object())
    for (const auto& key : run_info_keys) j.erase(key);
  settings = settings_from_json<S>(j, ctx.config_path);
}

/// Adds --config (documentation only: it is read by prescan) to `sub`.
void add_config_option(CLI::App* sub);

/// Adds --device, --threads, --seed bound to `runtime`.
void add_runtime_options(CLI::App* sub, RuntimeSettings& runtime);

/// A verb registers its subcommand(s) on the root app.
using Registrar = std::function<void(CLI::App& root, const Context& ctx)>;

void register_info(CLI::App& root, const Context& ctx);
void register_convert(CLI::App& root, const Context& ctx);
void register_metrics(CLI::App& root, const Context& ctx);
void register_demo(CLI::App& root, const Context& ctx);
void register_translate(CLI::App& root, const Context& ctx);
void register_micro(CLI::App& root, const Context& ctx);     ///< `emgan micro stats` (verb_micro.cpp)
void register_generate(CLI::App& root, const Context& ctx);  ///< `emgan generate ...` (verb_generate.cpp)
void register_scanpath(CLI::App& root, const Context& ctx);  ///< `emgan scanpath ...` (verb_restore.cpp)
void register_restore(CLI::App& root, const Context& ctx);   ///< `emgan restore ...` (verb_restore.cpp)
void register_phantom(CLI::App& root, const Context& ctx);   ///< `emgan phantom ...` (verb_segment.cpp)
void register_segment(CLI::App& root, const Context& ctx);   ///< `emgan segment ...` (verb_segment.cpp)
void register_orient(CLI::App& root, const Context& ctx);    ///< `emgan orient ...` (verb_orient.cpp)

}  // namespace emgan::cli
