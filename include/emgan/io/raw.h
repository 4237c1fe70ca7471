#pragma once
/// \file raw.h
/// The file decoders and encoders of emgan, free of torch so that they can be
/// fuzzed and reused alone. Every decoder takes the whole file in memory and
/// throws emgan::IoError naming `name` (the file) and what was wrong; none may
/// crash or return a silently wrong image on corrupt input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emgan/core/error.h"
#include "emgan/core/fs.h"

namespace emgan::io {

/// What a file says about its image.
struct ImageMeta {
  std::string format;        ///< "tiff", "png", "text", "npy", "mrc", "dm3", "dm4"
  std::string dtype;         ///< sample type in the file: "uint8", "uint16", "int8", "int16", "float32", "float64", ...
  /// Physical size of a pixel along x (width), y (height), z (depth); 0 = unknown.
  double pixel_size_x = 0.0;
  double pixel_size_y = 0.0;
  double pixel_size_z = 0.0;
  std::string unit;          ///< unit of the pixel sizes ("nm", "Å", "µm", ""), as the file names it
  nlohmann::json extra = nlohmann::json::object();  ///< other format-specific fields
};

/// A decoded image: float32 samples in C order, shape [channels, depth, height, width]
/// (depth 1 for a 2D image).
struct RawImage {
  std::vector<float> data;
  int64_t channels = 1;
  int64_t depth = 1;
  int64_t height = 0;
  int64_t width = 0;
  bool is_volume = false;  ///< true when the file holds a stack/volume (even of one slice)
  ImageMeta meta;
};

/// Reads a whole file into memory; throws IoError naming the file.
std::vector<uint8_t> read_file_bytes(const fs::path& path);

}  // namespace emgan::io
