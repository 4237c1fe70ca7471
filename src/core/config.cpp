#include "emgan/core/config.h"

#include <cmath>

#include <algorithm>

namespace emgan {

Json load_json_file(const fs::path& path) {
  const std::string text = read_text(path);
  try {
    return Json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::parse_error& e) {
    throw ConfigError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

void save_json_file(const fs::path& path, const Json& j) { write_text_atomic(path, j.dump(2) + "\n"); }

Json finite_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

Json finite_or_null(const std::vector<double>& v) {
  Json out = Json::array();
  for (const double x : v) out.push_back(finite_or_null(x));
  return out;
}

namespace {
std::string type_name(const Json& j) {
  if (j.is_number()) return "number";
  return j.type_name();
}
bool compatible(const Json& given, const Json& def) {
  if (def.is_null()) return true;
  if (def.is_number_integer() || def.is_number_unsigned()) {
    if (given.is_number_integer() || given.is_number_unsigned()) return true;
    return given.is_number_float() && given.get<double>() == static_cast<double>(static_cast<long long>(given.get<double>()));
  }
  if (def.is_number_float()) return given.is_number();
  return given.type() == def.type();
}
}  // namespace

void check_settings_keys(const Json& given, const Json& defaults, const std::string& source,
                         const std::string& prefix) {
  for (auto it = given.begin(); it != given.end(); ++it) {
    const std::string key = prefix + it.key();
    if (!defaults.contains(it.key())) {
      std::vector<std::string> known;
      for (auto d = defaults.begin(); d != defaults.end(); ++d) known.push_back(prefix + d.key());
      throw ConfigError(source + ": unknown setting '" + key + "' (known: " + join(known) + ")");
    }
    const Json& def = defaults.at(it.key());
    if (!compatible(it.value(), def)) {
      throw ConfigError(source + ": setting '" + key + "' = " + it.value().dump() + " must be of type " +
                        type_name(def) + " (default " + def.dump() + ")");
    }
    // An object whose default is empty is free-form (e.g. a model's options, checked
    // where they are used); a non-empty default object is a nested settings struct.
    if (def.is_object() && !def.empty() && it.value().is_object()) {
      check_settings_keys(it.value(), def, source, key + ".");
    }
  }
}

void check_choice(const std::string& what, const std::string& value,
                  const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    throw ConfigError(what + " = '" + value + "' is not one of: " + join(allowed));
  }
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

}  // namespace emgan
