#pragma once
/// \file convert.h
/// Converting an image or volume file into another format (`emgan convert IN OUT`):
/// read any readable format, optionally take one slice of a volume, optionally
/// rescale, write any writable format. Free of torch.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emgan/core/fs.h"
#include "emgan/io/formats.h"
#include "emgan/io/raw.h"

namespace emgan::io {

/// Settings of convert (and of the `emgan convert` verb).
struct ConvertOptions {
  /// "none" keeps a volume whole; "z", "y" or "x" takes the slice `slice_index` of a
  /// volume `[C, D, H, W]` across that axis: z -> `[C, H, W]`, y -> `[C, D, W]`,
  /// x -> `[C, D, H]`. Slicing a 2D image is a ConfigError.
  std::string slice_axis = "none";
  /// Index of the slice (0-based; negative counts from the end, -1 = last).
  int64_t slice_index = 0;
  /// Sample type written: "auto" (the input's type when the output format can hold
  /// it, else float32 when it can, else uint8 for PNG), or one of writable_dtypes.
  std::string dtype = "auto";
  /// "auto": "minmax" when the output is an integer type that cannot hold every
  /// value exactly (out of range or fractional), else "none". "none": values kept;
  /// for integer types rounded and clamped, each change counted in a warning.
  /// "minmax": [min, max] of the data mapped linearly onto the integer type's full
  /// range ([0, 1] for float types); a constant image maps to the lowest value.
  std::string scale = "auto";
  /// TIFF compression: "none", "deflate", "lzw", "packbits".
  std::string compression = "none";
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ConvertOptions, slice_axis, slice_index, dtype, scale,
                                                compression)

/// What convert did.
struct ConvertResult {
  std::vector<int64_t> input_shape;   ///< `[C, H, W]` or `[C, D, H, W]` as read
  std::vector<int64_t> output_shape;  ///< as written
  std::string input_dtype;            ///< sample type of the input file
  std::string output_dtype;           ///< sample type written
  std::string scale;                  ///< "none" or "minmax", as applied
  /// Values that writing changed (clamped, rounded, NaN -> 0), one sentence each;
  /// the library does not print them, the CLI does.
  std::vector<std::string> warnings;
};

/// Reads `input`, applies `options` and writes `output` atomically; formats are
/// chosen by extension. Throws IoError for an unreadable input or an unwritable
/// output, ConfigError for invalid options (naming the option and its value).
ConvertResult convert(const fs::path& input, const fs::path& output, const ConvertOptions& options = {});

/// The slice `index` of a volume across `axis` ("z", "y", "x"); pixel sizes follow.
RawImage slice_volume(const RawImage& volume, const std::string& axis, int64_t index);

}  // namespace emgan::io
