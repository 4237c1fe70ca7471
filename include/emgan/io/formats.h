#pragma once
/// \file formats.h
/// The torch-free decoders and encoders of every image format emgan reads and
/// writes. Decoders take the whole file in memory plus a name for messages (the
/// file's path) and return a RawImage whose samples are the file's values as
/// float32 (no scaling). Every failure is an emgan::IoError whose message starts
/// with `name` and says what was wrong; decoders never read outside the buffer,
/// never allocate from an unchecked count, and never print to stderr.
///
/// Layout of RawImage::data: C order `[channels, depth, height, width]`, x fastest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "emgan/io/raw.h"

namespace emgan::io {

/// Limits a decoder applies to what a file claims, so that a corrupt header cannot
/// make it allocate without bound.
struct DecodeOptions {
  /// Largest number of samples (channels * depth * height * width) accepted; a file
  /// claiming more is an IoError. The default, 2^31 samples, is 8 GiB of float32.
  int64_t max_samples = int64_t(1) << 31;
};

/// TIFF through libtiff: 8/16/32-bit unsigned, 8/16/32-bit signed, 32/64-bit float;
/// 1..4 samples per pixel (channels = samples per pixel, e.g. RGB -> 3), chunky or
/// planar; strips or tiles; any compression libtiff was built with (none, Deflate,
/// LZW, PackBits, ...). Several pages make a volume `[C, D, H, W]` (reduced-resolution
/// pages such as thumbnails are skipped); pages must share size and sample type.
/// Pixel size from an ImageJ description (its unit and z spacing) or else from
/// X/YResolution with ResolutionUnit cm or inch, in nm (screen defaults such as
/// 72 dpi are ignored). Min-is-white samples are returned as stored (the photometric
/// interpretation is in meta.extra["photometric"]).
RawImage decode_tiff(const uint8_t* data, size_t size, const std::string& name,
                     const DecodeOptions& options = {});

/// PNG through libpng: 1..16-bit grey, grey+alpha, RGB, RGBA and palette images
/// (palettes expanded to RGB or RGBA). Channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
/// Values 0..255 (8-bit and less) or 0..65535 (16-bit). Pixel size from pHYs (metre
/// units), in nm.
RawImage decode_png(const uint8_t* data, size_t size, const std::string& name,
                    const DecodeOptions& options = {});

/// Text array: one image row per line, values separated by whitespace and/or commas;
/// empty lines and lines starting with '#' are skipped. Rows of different lengths,
/// non-numbers and values beyond the float32 range are errors naming line and column.
RawImage decode_text(const uint8_t* data, size_t size, const std::string& name,
                     const DecodeOptions& options = {});

/// NumPy .npy versions 1, 2 and 3: dtypes f4, f8, u1, u2, i1, i2, i4 (either byte
/// order), C order only. Shape `(H, W)` is an image, `(D, H, W)` a volume.
RawImage decode_npy(const uint8_t* data, size_t size, const std::string& name,
                    const DecodeOptions& options = {});

/// MRC/CCP4 (MRC2014): modes 0 (int8; uint8 for IMOD files without the signed flag),
/// 1 (int16), 2 (float32), 6 (uint16); either byte order; extended header skipped;
/// nz > 1 gives a volume. Pixel size in Å from cella / mx. The file size must be
/// exactly header + extended header + data.
RawImage decode_mrc(const uint8_t* data, size_t size, const std::string& name,
                    const DecodeOptions& options = {});

/// Gatan DigitalMicrograph .dm3 (version 3) and .dm4 (version 4), told apart by the
/// version field. The image read is the largest one of ImageList (not the
/// thumbnail); 2D and 3D; data types int8/16/32, uint8/16/32, float32/64, binary.
/// Pixel size and unit from ImageData/Calibrations/Dimension (Scale, Units).
RawImage decode_dm(const uint8_t* data, size_t size, const std::string& name,
                   const DecodeOptions& options = {});

/// The format read or written for a file extension (lower case, no dot): "tiff",
/// "png", "text", "npy", "mrc", "dm"; empty for an unknown extension.
std::string format_for_extension(const std::string& extension);

/// Extensions that read_raw_image accepts (lower case, no dot).
std::vector<std::string> supported_read_extensions();

/// Extensions that write_raw_image accepts (lower case, no dot).
std::vector<std::string> supported_write_extensions();

/// Decodes with the decoder of `format` (see format_for_extension).
RawImage decode_image(const uint8_t* data, size_t size, const std::string& format,
                      const std::string& name, const DecodeOptions& options = {});

/// Reads and decodes `path`, the format chosen by its extension. An unknown
/// extension is an IoError that lists the supported ones.
RawImage read_raw_image(const fs::path& path, const DecodeOptions& options = {});

/// How to encode an image.
struct EncodeOptions {
  /// Sample type written; which ones a format takes: see writable_dtypes. Values
  /// are written as they are: for integer types rounded to nearest, clamped to the
  /// type's range, NaN -> 0 (check_dtype_fit counts what that changes).
  std::string dtype = "float32";
  /// TIFF only: "none", "deflate", "lzw" or "packbits" (PNG is always deflated).
  std::string compression = "none";
};

/// Sample types an encoder of `format` accepts, e.g. {"uint8", "uint16"} for "png".
std::vector<std::string> writable_dtypes(const std::string& format);

/// TIFF: uint8, uint16, int16, float32; a volume is written as one page per slice;
/// 1, 3 (RGB) or 4 (RGBA) channels; pixel size (if known, any unit of nm/Å/µm/mm/m)
/// as resolution in pixels per cm, plus an ImageJ-style description.
std::vector<uint8_t> encode_tiff(const RawImage& image, const EncodeOptions& options,
                                 const std::string& name);
/// PNG: uint8 or uint16, 2D, 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels.
std::vector<uint8_t> encode_png(const RawImage& image, const EncodeOptions& options,
                                const std::string& name);
/// NPY version 1, C order: uint8, uint16, int16, float32, float64; one channel;
/// `(H, W)` for an image, `(D, H, W)` for a volume.
std::vector<uint8_t> encode_npy(const RawImage& image, const EncodeOptions& options,
                                const std::string& name);
/// MRC2014, little-endian: int8 (mode 0), int16 (mode 1), float32 (mode 2), uint16
/// (mode 6); one channel; pixel size written as cella in Å when known.
std::vector<uint8_t> encode_mrc(const RawImage& image, const EncodeOptions& options,
                                const std::string& name);
/// Text: float32, one channel, 2D; each value in the shortest form that reads back
/// to the same float32 (std::to_chars), separated by spaces, one row per line.
std::vector<uint8_t> encode_text(const RawImage& image, const EncodeOptions& options,
                                 const std::string& name);

/// Encodes with the encoder of `format`. An unsupported dtype, channel count or a
/// volume where the format holds only images is a ConfigError naming `name`.
std::vector<uint8_t> encode_image(const RawImage& image, const std::string& format,
                                  const EncodeOptions& options, const std::string& name);

/// Encodes `image` for the extension of `path` and writes it atomically
/// (emgan::atomic_write); a .csv text array is written comma-separated. IoError for
/// an unknown extension (listing the known ones).
void write_raw_image(const fs::path& path, const RawImage& image, const EncodeOptions& options = {});

/// What writing `values` as `dtype` would change.
struct DtypeFit {
  int64_t nan = 0;          ///< NaN values (written as 0)
  int64_t below = 0;        ///< values below the type's range (clamped)
  int64_t above = 0;        ///< values above the type's range (clamped)
  int64_t non_integer = 0;  ///< in-range values with a fractional part (rounded)
  double min = 0.0;         ///< smallest finite value (0 when none)
  double max = 0.0;         ///< largest finite value (0 when none)
};

/// Counts what writing `values` as `dtype` would clamp or round (all zero for float types).
DtypeFit check_dtype_fit(const std::vector<float>& values, const std::string& dtype);

/// Lowest and highest value of an integer `dtype` ("uint8" -> 0, 255); {0, 1} for
/// float types. ConfigError for an unknown dtype.
std::pair<double, double> dtype_range(const std::string& dtype);

/// Nanometres per `unit` ("nm" 1, "Å"/"A" 0.1, "µm"/"um"/"micron" 1000, "mm", "m",
/// "pm"); 0 for an unknown or empty unit.
double nanometres_per_unit(const std::string& unit);

}  // namespace emgan::io
