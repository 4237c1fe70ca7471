#pragma once
/// \file config.h
/// Settings structs and their JSON form. Every verb of emgan is configured by a
/// settings struct with `to_json`/`from_json` (see NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT);
/// a config file may set any subset of its fields, unknown keys and wrong types are
/// errors that name the file and the key, and the effective settings are written
/// into each run directory so a run's configuration round-trips.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emgan/core/error.h"
#include "emgan/core/fs.h"

namespace emgan {

using Json = nlohmann::json;

/// Reads a JSON file; throws ConfigError naming the file and the parse position.
Json load_json_file(const fs::path& path);

/// Writes `j` as indented JSON, atomically.
void save_json_file(const fs::path& path, const Json& j);

/// A number as JSON, or null where it is NaN or infinite ("not measured", "no target"):
/// JSON has no NaN, and a null says so explicitly.
Json finite_or_null(double v);
/// The same for each element: a JSON array of numbers and nulls.
Json finite_or_null(const std::vector<double>& v);

/// Checks that every key of `given` exists in `defaults` with a compatible JSON type
/// (recursively for objects). `source` names the file or option for the message.
void check_settings_keys(const Json& given, const Json& defaults, const std::string& source,
                         const std::string& prefix = "");

/// Builds settings of type T: T's defaults, overridden by the keys of `j`.
/// Unknown keys and mistyped values throw ConfigError naming `source` and the key.
template <typename T>
T settings_from_json(const Json& j, const std::string& source) {
  const Json defaults = T{};
  if (!j.is_object()) throw ConfigError(source + ": expected a JSON object of settings, got " + j.dump());
  check_settings_keys(j, defaults, source);
  Json merged = defaults;
  merged.merge_patch(j);
  try {
    return merged.get<T>();
  } catch (const Json::exception& e) {
    throw ConfigError(source + ": " + e.what());
  }
}

/// Throws ConfigError unless `value` is one of `allowed`; `what` names the setting.
void check_choice(const std::string& what, const std::string& value,
                  const std::vector<std::string>& allowed);

/// Comma-joined list, for messages and help texts.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

}  // namespace emgan
