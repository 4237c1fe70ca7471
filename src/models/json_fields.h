#pragma once
// Private helper of src/models: JSON form of TORCH_ARG options structs, field by field
// through their accessors (the members themselves are private `name_`).
#include <nlohmann/json.hpp>

#include <type_traits>

#define EMGAN_JSON_PUT_ONE(field) emgan_json_[#field] = emgan_opts_.field();
#define EMGAN_JSON_GET_ONE(field)                                                             \
  if (emgan_json_.contains(#field))                                                           \
    emgan_opts_.field(emgan_json_.at(#field).get<std::decay_t<decltype(emgan_opts_.field())>>());

/// Writes the listed fields of options `o` into JSON object `j`.
#define EMGAN_JSON_PUT(j, o, ...)                                                 \
  do {                                                                            \
    auto& emgan_json_ = (j);                                                      \
    const auto& emgan_opts_ = (o);                                                \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(EMGAN_JSON_PUT_ONE, __VA_ARGS__))    \
  } while (0)

/// Reads the listed fields present in `j` into options `o` (absent ones keep their value).
#define EMGAN_JSON_GET(j, o, ...)                                                 \
  do {                                                                            \
    const auto& emgan_json_ = (j);                                                \
    auto& emgan_opts_ = (o);                                                      \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(EMGAN_JSON_GET_ONE, __VA_ARGS__))    \
  } while (0)
