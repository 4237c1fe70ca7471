#pragma once
/// \file image.h
/// Reading and writing images and volumes as float32 tensors.
///
/// Images are `[C, H, W]`, volumes `[C, D, H, W]`, always float32 on the CPU, with
/// the sample values of the file unchanged (a uint8 file gives 0..255, a float32
/// TIFF in fractions of the beam stays so). What the file said about itself (its
/// sample type, pixel size and unit) is kept in ImageMeta.
///
/// Formats, chosen by extension: .tif/.tiff (8/16/32-bit integers, 32/64-bit float,
/// one or many pages, none/Deflate/LZW/PackBits), .png (8/16-bit grey/RGB/alpha),
/// .txt/.csv/.dat (whitespace- or comma-separated rows), .npy (float32/float64/
/// uint8/uint16/int8/int16/int32, C order), .mrc/.map/.st/.ccp4 (modes 0, 1, 2, 6),
/// .dm3/.dm4 (read only). The decoders themselves, free of torch, are in formats.h.
#include <torch/types.h>

#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/io/raw.h"

namespace emgan::io {

/// An image or volume and what its file said about it.
struct Image {
  torch::Tensor data;  ///< float32, CPU, `[C, H, W]` or `[C, D, H, W]`
  ImageMeta meta;
};

/// Reads `path`; the format is chosen by extension. Throws IoError naming the file
/// and what was wrong for a missing, corrupt, truncated or unsupported file.
Image read_image(const fs::path& path);

/// Options for write_image.
struct WriteOptions {
  /// Sample type written: "float32" (TIFF, NPY, MRC, text), "uint8" (TIFF, PNG, NPY),
  /// "uint16" (TIFF, PNG, NPY, MRC), "int16" (TIFF, NPY, MRC), "int8" (MRC), "float64"
  /// (NPY); see writable_dtypes in formats.h. Values are written as they are (rounded
  /// to nearest and clamped for integer types, NaN -> 0, silently); scale beforehand
  /// to use the full range, or use convert() which warns.
  std::string dtype = "float32";
  /// TIFF compression: "none", "deflate", "lzw" or "packbits" (ignored by other formats).
  std::string compression = "none";
  /// Pixel size and unit written where the format can hold them.
  ImageMeta meta;
};

/// Writes a `[C, H, W]` or `[C, D, H, W]` (or `[H, W]`) tensor, atomically. The
/// format is chosen by the extension of `path`. Throws IoError/ConfigError for an
/// unsupported combination (e.g. float32 PNG), naming the file.
void write_image(const fs::path& path, const torch::Tensor& data, const WriteOptions& options = {});

/// Converts a decoded RawImage to an Image (no copy of semantics, one of memory).
Image to_image(RawImage raw);

/// File extensions read_image accepts (lower case, no dot).
std::vector<std::string> readable_extensions();

/// File extensions write_image accepts.
std::vector<std::string> writable_extensions();

}  // namespace emgan::io
