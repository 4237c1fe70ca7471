// convert(): read, slice, rescale, write.
#include "emgan/io/convert.h"

#include <algorithm>

#include "common.h"

namespace emgan::io {

namespace {

std::vector<int64_t> shape_of(const RawImage& im) {
  if (im.is_volume) return {im.channels, im.depth, im.height, im.width};
  return {im.channels, im.height, im.width};
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void check_option(const std::string& what, const std::string& value, const std::vector<std::string>& allowed) {
  EMGAN_CHECK(ConfigError, contains(allowed, value), what, " = '", value, "' is not one of: ",
              detail::join_list(allowed));
}

}  // namespace

RawImage slice_volume(const RawImage& v, const std::string& axis, int64_t index) {
  check_option("slice_axis", axis, {"z", "y", "x"});
  EMGAN_CHECK(ConfigError, v.is_volume, "slice_axis = '", axis, "' needs a volume, but the input is a 2D image");
  const int64_t extent = axis == "z" ? v.depth : axis == "y" ? v.height : v.width;
  const int64_t i = index < 0 ? index + extent : index;
  EMGAN_CHECK(ConfigError, i >= 0 && i < extent, "slice_index = ", index, " is outside the ", extent,
              " slices along ", axis, " (valid: ", -extent, " to ", extent - 1, ")");
  RawImage out;
  out.meta = v.meta;
  out.channels = v.channels;
  out.is_volume = false;
  out.depth = 1;
  const ImageMeta& m = v.meta;
  if (axis == "z") {
    out.height = v.height;
    out.width = v.width;
  } else if (axis == "y") {
    out.height = v.depth;
    out.width = v.width;
    out.meta.pixel_size_y = m.pixel_size_z;
  } else {
    out.height = v.depth;
    out.width = v.height;
    out.meta.pixel_size_x = m.pixel_size_y;
    out.meta.pixel_size_y = m.pixel_size_z;
  }
  out.meta.pixel_size_z = 0.0;
  out.data.resize(static_cast<size_t>(out.channels * out.height * out.width));
  const size_t W = v.width, H = v.height, D = v.depth;
  size_t k = 0;
  for (size_t c = 0; c < static_cast<size_t>(v.channels); ++c) {
    const float* vol = v.data.data() + c * D * H * W;
    for (size_t r = 0; r < static_cast<size_t>(out.height); ++r) {
      for (size_t col = 0; col < static_cast<size_t>(out.width); ++col) {
        size_t z, y, x;
        if (axis == "z") {
          z = static_cast<size_t>(i), y = r, x = col;
        } else if (axis == "y") {
          z = r, y = static_cast<size_t>(i), x = col;
        } else {
          z = r, y = col, x = static_cast<size_t>(i);
        }
        out.data[k++] = vol[(z * H + y) * W + x];
      }
    }
  }
  return out;
}

ConvertResult convert(const fs::path& input, const fs::path& output, const ConvertOptions& options) {
  check_option("slice_axis", options.slice_axis, {"none", "z", "y", "x"});
  check_option("scale", options.scale, {"auto", "none", "minmax"});
  check_option("compression", options.compression, {"none", "deflate", "lzw", "packbits"});
  const std::string out_ext = lower_extension(output);
  const auto writable = supported_write_extensions();
  EMGAN_CHECK(IoError, contains(writable, out_ext), output.string(), ": cannot write files with extension '",
              out_ext, "' (writable: ", detail::join_list(writable), ")");
  const std::string format = format_for_extension(out_ext);
  const auto dtypes = writable_dtypes(format);
  if (options.dtype != "auto")
    EMGAN_CHECK(ConfigError, contains(dtypes, options.dtype), "dtype = '", options.dtype, "' cannot be written as ",
                format, " (", output.string(), "); possible: auto, ", detail::join_list(dtypes));

  RawImage image = read_raw_image(input);
  ConvertResult result;
  result.input_shape = shape_of(image);
  result.input_dtype = image.meta.dtype;
  if (options.slice_axis != "none") image = slice_volume(image, options.slice_axis, options.slice_index);

  std::string dtype = options.dtype;
  if (dtype == "auto") {
    if (contains(dtypes, image.meta.dtype)) dtype = image.meta.dtype;
    else if (contains(dtypes, "float32")) dtype = "float32";
    else if (image.meta.dtype == "uint16" || image.meta.dtype == "int16" || image.meta.dtype == "uint32" ||
             image.meta.dtype == "int32")
      dtype = contains(dtypes, "uint16") ? "uint16" : dtypes.front();
    else dtype = dtypes.front();
  }
  const bool is_float = dtype == "float32" || dtype == "float64";
  DtypeFit fit = check_dtype_fit(image.data, dtype);
  std::string scale = options.scale;
  if (scale == "auto")
    scale = (!is_float && (fit.below || fit.above || fit.non_integer)) ? "minmax" : "none";
  if (scale == "minmax") {
    const auto range = dtype_range(dtype);
    const double span = fit.max - fit.min;
    for (float& v : image.data) {
      if (!std::isfinite(v)) continue;
      const double t = span > 0 ? (static_cast<double>(v) - fit.min) / span : 0.0;
      v = static_cast<float>(range.first + t * (range.second - range.first));
    }
    fit = check_dtype_fit(image.data, dtype);
    fit.non_integer = 0;  // rounding after a linear map is expected, not worth a warning
  }
  if (fit.nan) result.warnings.push_back(std::to_string(fit.nan) + " NaN value(s) written as 0 in " + dtype);
  if (fit.below || fit.above)
    result.warnings.push_back(std::to_string(fit.below + fit.above) + " value(s) outside the " + dtype +
                              " range were clamped (data range " + std::to_string(fit.min) + " to " +
                              std::to_string(fit.max) + "; use scale = minmax to rescale)");
  if (fit.non_integer)
    result.warnings.push_back(std::to_string(fit.non_integer) + " value(s) with a fractional part were rounded to " +
                              dtype);
  EncodeOptions enc;
  enc.dtype = dtype;
  enc.compression = options.compression;
  write_raw_image(output, image, enc);
  result.output_shape = shape_of(image);
  result.output_dtype = dtype;
  result.scale = scale;
  return result;
}

}  // namespace emgan::io
