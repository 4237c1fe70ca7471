// TIFF decoding and encoding through libtiff, on memory buffers. libtiff's messages
// never reach stderr for our handles: with libtiff >= 4.5 each handle gets its own
// error/warning handlers (thread-safe); the process-wide handlers are replaced once
// by ones that record the message for the thread that is inside one of our calls and
// otherwise print as libtiff's defaults do.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>

#include "common.h"

namespace emgan::io {

namespace {

#if defined(TIFFLIB_VERSION) && TIFFLIB_VERSION >= 20221213
#define EMGAN_TIFF_HANDLE_HANDLERS 1
#else
#define EMGAN_TIFF_HANDLE_HANDLERS 0
#endif

/// One in-memory file plus the messages libtiff raised about it.
struct MemFile {
  const uint8_t* data = nullptr;  // reading
  size_t size = 0;
  std::vector<uint8_t>* out = nullptr;  // writing
  size_t pos = 0;
  std::string errors;

  size_t length() const { return out ? out->size() : size; }
  void record(const char* module, const char* fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    if (errors.size() < 2000) {
      if (!errors.empty()) errors += "; ";
      if (module && *module) errors += std::string(module) + ": ";
      errors += buf;
    }
  }
};

thread_local MemFile* tl_current = nullptr;

/// Marks `file` as the target of libtiff messages of this thread while alive.
class CurrentFile {
 public:
  explicit CurrentFile(MemFile* file) : previous_(tl_current) { tl_current = file; }
  ~CurrentFile() { tl_current = previous_; }
  CurrentFile(const CurrentFile&) = delete;
  CurrentFile& operator=(const CurrentFile&) = delete;

 private:
  MemFile* previous_;
};

void global_error(const char* module, const char* fmt, va_list ap) {
  if (tl_current) {
    tl_current->record(module, fmt, ap);
    return;
  }
  if (module) std::fprintf(stderr, "%s: ", module);
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, ".\n");
}

void global_warning(const char* module, const char* fmt, va_list ap) {
  if (tl_current) return;  // warnings about our files are dropped
  if (module) std::fprintf(stderr, "%s: ", module);
  std::fprintf(stderr, "Warning, ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, ".\n");
}

void install_global_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(global_error);
    TIFFSetWarningHandler(global_warning);
  });
}

#if EMGAN_TIFF_HANDLE_HANDLERS
int handle_error(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  static_cast<MemFile*>(user)->record(module, fmt, ap);
  return 1;
}
int handle_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }
#endif

tmsize_t mem_read(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemFile*>(h);
  if (n <= 0) return 0;
  const size_t len = f->length();
  if (f->pos >= len) return 0;
  const size_t k = std::min(static_cast<size_t>(n), len - f->pos);
  const uint8_t* src = f->out ? f->out->data() : f->data;
  std::memcpy(buf, src + f->pos, k);
  f->pos += k;
  return static_cast<tmsize_t>(k);
}

tmsize_t mem_write(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemFile*>(h);
  if (!f->out || n < 0) return -1;
  const size_t k = static_cast<size_t>(n);
  if (f->pos + k > f->out->size()) f->out->resize(f->pos + k);
  if (k) std::memcpy(f->out->data() + f->pos, buf, k);
  f->pos += k;
  return n;
}

toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemFile*>(h);
  uint64_t base = 0;
  if (whence == SEEK_CUR) base = f->pos;
  if (whence == SEEK_END) base = f->length();
  const uint64_t target = base + off;
  if (target < base) return static_cast<toff_t>(-1);
  // Reading may not seek past the end; writing may (the gap is filled on write).
  if (!f->out && target > f->size) return static_cast<toff_t>(-1);
  if (f->out && target > (uint64_t(1) << 40)) return static_cast<toff_t>(-1);
  f->pos = static_cast<size_t>(target);
  return static_cast<toff_t>(target);
}

int mem_close(thandle_t) { return 0; }
toff_t mem_size(thandle_t h) { return static_cast<toff_t>(static_cast<MemFile*>(h)->length()); }
int mem_map(thandle_t, void**, toff_t*) { return 0; }
void mem_unmap(thandle_t, void*, toff_t) {}

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};
using TiffPtr = std::unique_ptr<TIFF, TiffCloser>;

TiffPtr open_mem(MemFile& file, const char* mode, const std::string& name, int64_t max_alloc) {
  install_global_handlers();
#if EMGAN_TIFF_HANDLE_HANDLERS
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(opts, handle_error, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, handle_warning, &file);
  TIFFOpenOptionsSetMaxSingleMemAlloc(opts, static_cast<tmsize_t>(max_alloc));
  TIFF* t = TIFFClientOpenExt(name.c_str(), mode, &file, mem_read, mem_write, mem_seek, mem_close,
                              mem_size, mem_map, mem_unmap, opts);
  TIFFOpenOptionsFree(opts);
#else
  (void)max_alloc;
  TIFF* t = TIFFClientOpen(name.c_str(), mode, &file, mem_read, mem_write, mem_seek, mem_close,
                           mem_size, mem_map, mem_unmap);
#endif
  return TiffPtr(t);
}

std::string errors_or(const MemFile& f, const char* fallback) {
  return f.errors.empty() ? std::string(fallback) : f.errors;
}

/// What a page holds and how it is laid out.
struct Page {
  uint32_t width = 0, height = 0;
  uint16_t bps = 0, spp = 1, format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  bool tiled = false;
  uint32_t tile_w = 0, tile_h = 0, rows_per_strip = 0;
  std::string dtype;
  size_t sample_bytes = 0;
};

Page read_page_info(TIFF* t, MemFile& file, const std::string& name, int64_t page_index) {
  Page p;
  const std::string where = name + ": page " + std::to_string(page_index) + ": ";
  EMGAN_CHECK(IoError, TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &p.width) == 1, where,
              "missing ImageWidth (", errors_or(file, "corrupt directory"), ")");
  EMGAN_CHECK(IoError, TIFFGetField(t, TIFFTAG_IMAGELENGTH, &p.height) == 1, where,
              "missing ImageLength (", errors_or(file, "corrupt directory"), ")");
  uint32_t depth = 1;
  if (TIFFGetField(t, TIFFTAG_IMAGEDEPTH, &depth) == 1)
    EMGAN_CHECK(IoError, depth <= 1, where, "SGI ImageDepth ", depth, " is not supported");
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &p.bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &p.spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &p.format);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &p.planar);
  if (TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &p.photometric) != 1)
    p.photometric = p.spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  EMGAN_CHECK(IoError, p.spp >= 1 && p.spp <= 4, where, p.spp,
              " samples per pixel is not supported (expected 1 to 4)");
  EMGAN_CHECK(IoError, p.photometric != PHOTOMETRIC_PALETTE, where,
              "palette (indexed colour) images are not supported; save as grey or RGB");
  EMGAN_CHECK(IoError,
              p.photometric == PHOTOMETRIC_MINISBLACK || p.photometric == PHOTOMETRIC_MINISWHITE ||
                  p.photometric == PHOTOMETRIC_RGB,
              where, "photometric interpretation ", p.photometric,
              " is not supported (expected grey or RGB)");
  if (p.format == SAMPLEFORMAT_UINT || p.format == SAMPLEFORMAT_VOID) {
    if (p.bps == 8 || p.bps == 16 || p.bps == 32) p.dtype = "uint" + std::to_string(p.bps);
  } else if (p.format == SAMPLEFORMAT_INT) {
    if (p.bps == 8 || p.bps == 16 || p.bps == 32) p.dtype = "int" + std::to_string(p.bps);
  } else if (p.format == SAMPLEFORMAT_IEEEFP) {
    if (p.bps == 32 || p.bps == 64) p.dtype = "float" + std::to_string(p.bps);
  }
  EMGAN_CHECK(IoError, !p.dtype.empty(), where, p.bps, "-bit samples of sample format ", p.format,
              " are not supported (expected 8/16/32-bit integers or 32/64-bit floats)");
  p.sample_bytes = p.bps / 8;
  p.tiled = TIFFIsTiled(t) != 0;
  if (p.tiled) {
    EMGAN_CHECK(IoError,
                TIFFGetField(t, TIFFTAG_TILEWIDTH, &p.tile_w) == 1 &&
                    TIFFGetField(t, TIFFTAG_TILELENGTH, &p.tile_h) == 1 && p.tile_w > 0 &&
                    p.tile_h > 0,
                where, "tiled image without a valid tile size");
  } else {
    TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &p.rows_per_strip);
    if (p.rows_per_strip == 0 || p.rows_per_strip > p.height) p.rows_per_strip = p.height;
  }
  return p;
}

/// Decodes the current page into `out` (planar floats, the page's slot of depth `z`).
void read_page(TIFF* t, MemFile& file, const Page& p, const std::string& name, int64_t z,
               int64_t depth_total, float* out) {
  const std::string where = name + ": page " + std::to_string(z) + ": ";
  const size_t w = p.width, h = p.height, spp = p.spp;
  const size_t plane_stride = static_cast<size_t>(depth_total) * h * w;  // between channels
  float* page_out = out + static_cast<size_t>(z) * h * w;
  const bool contig = p.planar == PLANARCONFIG_CONTIG || spp == 1;
  const size_t per_pixel = contig ? spp : 1;
  const size_t planes = contig ? 1 : spp;
  std::vector<float> row_floats;

  // Converts `rows` x `cols` samples of one chunk (row stride `chunk_w` pixels) to out.
  auto scatter = [&](const uint8_t* chunk, size_t chunk_w, size_t x0, size_t y0, size_t cols,
                     size_t rows, size_t plane) {
    row_floats.resize(cols * per_pixel);
    for (size_t r = 0; r < rows; ++r) {
      const uint8_t* src = chunk + r * chunk_w * per_pixel * p.sample_bytes;
      detail::convert_named(p.dtype, src, cols * per_pixel, detail::host_is_little_endian(),
                            row_floats.data());
      for (size_t x = 0; x < cols; ++x) {
        for (size_t c = 0; c < per_pixel; ++c) {
          const size_t channel = contig ? c : plane;
          page_out[channel * plane_stride + (y0 + r) * w + x0 + x] = row_floats[x * per_pixel + c];
        }
      }
    }
  };

  if (p.tiled) {
    const size_t tile_bytes = static_cast<size_t>(p.tile_w) * p.tile_h * per_pixel * p.sample_bytes;
    EMGAN_CHECK(IoError, tile_bytes <= (size_t(1) << 30), where, "tile of ", p.tile_w, " x ",
                p.tile_h, " pixels is too large");
    std::vector<uint8_t> buf(tile_bytes);
    for (size_t plane = 0; plane < planes; ++plane) {
      for (size_t y0 = 0; y0 < h; y0 += p.tile_h) {
        for (size_t x0 = 0; x0 < w; x0 += p.tile_w) {
          const uint32_t tile = TIFFComputeTile(t, static_cast<uint32_t>(x0), static_cast<uint32_t>(y0), 0,
                                                static_cast<uint16_t>(plane));
          const tmsize_t got = TIFFReadEncodedTile(t, tile, buf.data(), static_cast<tmsize_t>(tile_bytes));
          EMGAN_CHECK(IoError, got == static_cast<tmsize_t>(tile_bytes), where, "cannot decode tile ",
                      tile, " (", errors_or(file, "truncated or corrupt data"), ")");
          scatter(buf.data(), p.tile_w, x0, y0, std::min<size_t>(p.tile_w, w - x0),
                  std::min<size_t>(p.tile_h, h - y0), plane);
        }
      }
    }
    return;
  }
  const size_t rps = p.rows_per_strip;
  const size_t strips_per_plane = (h + rps - 1) / rps;
  EMGAN_CHECK(IoError, TIFFNumberOfStrips(t) >= strips_per_plane * planes, where, "has ",
              TIFFNumberOfStrips(t), " strips but needs ", strips_per_plane * planes);
  std::vector<uint8_t> buf(rps * w * per_pixel * p.sample_bytes);
  for (size_t plane = 0; plane < planes; ++plane) {
    for (size_t s = 0; s < strips_per_plane; ++s) {
      const size_t y0 = s * rps;
      const size_t rows = std::min(rps, h - y0);
      const size_t bytes = rows * w * per_pixel * p.sample_bytes;
      const uint32_t strip = static_cast<uint32_t>(plane * strips_per_plane + s);
      const tmsize_t got = TIFFReadEncodedStrip(t, strip, buf.data(), static_cast<tmsize_t>(bytes));
      EMGAN_CHECK(IoError, got == static_cast<tmsize_t>(bytes), where, "cannot decode strip ", strip,
                  " (", errors_or(file, "truncated or corrupt data"), ")");
      scatter(buf.data(), w, 0, y0, w, rows, plane);
    }
  }
}

/// Value of `key=` in an ImageJ description; empty when absent.
std::string imagej_value(const std::string& description, const std::string& key) {
  std::istringstream in(description);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + "=") == 0) return line.substr(key.size() + 1);
  }
  return "";
}

std::string normalise_unit(const std::string& unit) {
  if (unit == "micron" || unit == "microns" || unit == "um" || unit == "\\u00B5m" ||
      unit == "\xC2\xB5m" || unit == "\xCE\xBCm")
    return "\xC2\xB5m";
  if (unit == "A" || unit == "\\u00C5" || unit == "angstrom" || unit == "\xC3\x85") return "\xC3\x85";
  return unit;
}

void read_pixel_size(TIFF* t, ImageMeta& meta) {
  float xres = 0.f, yres = 0.f;
  uint16_t unit = RESUNIT_NONE;
  const bool has_x = TIFFGetField(t, TIFFTAG_XRESOLUTION, &xres) == 1;
  const bool has_y = TIFFGetField(t, TIFFTAG_YRESOLUTION, &yres) == 1;
  TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
  if (has_x) meta.extra["x_resolution"] = xres;
  if (has_y) meta.extra["y_resolution"] = yres;
  meta.extra["resolution_unit"] = unit;
  char* desc = nullptr;
  std::string description;
  if (TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc) == 1 && desc)
    description.assign(desc, strnlen(desc, 1 << 16));
  const bool valid_x = has_x && std::isfinite(xres) && xres > 0.f;
  const bool valid_y = has_y && std::isfinite(yres) && yres > 0.f;
  if (description.compare(0, 7, "ImageJ=") == 0) {
    const std::string ij_unit = normalise_unit(imagej_value(description, "unit"));
    if (!ij_unit.empty() && ij_unit != "pixel" && ij_unit != "pixels" && valid_x) {
      meta.unit = ij_unit;
      meta.pixel_size_x = 1.0 / xres;
      meta.pixel_size_y = valid_y ? 1.0 / yres : meta.pixel_size_x;
      const std::string spacing = imagej_value(description, "spacing");
      if (!spacing.empty()) {
        char* end = nullptr;
        const double z = std::strtod(spacing.c_str(), &end);
        if (end != spacing.c_str() && std::isfinite(z) && z > 0) meta.pixel_size_z = z;
      }
      return;
    }
  }
  if (!valid_x) return;
  double nm_per_unit = 0.0;
  if (unit == RESUNIT_CENTIMETER) nm_per_unit = 1e7;
  if (unit == RESUNIT_INCH) {
    // Screen and print defaults say nothing about the sample.
    const float defaults[] = {1.f, 72.f, 96.f, 150.f, 300.f, 600.f, 1200.f};
    if (std::find(std::begin(defaults), std::end(defaults), xres) == std::end(defaults))
      nm_per_unit = 2.54e7;
  }
  if (nm_per_unit == 0.0) return;
  meta.unit = "nm";
  meta.pixel_size_x = nm_per_unit / xres;
  meta.pixel_size_y = valid_y ? nm_per_unit / yres : meta.pixel_size_x;
}

}  // namespace

RawImage decode_tiff(const uint8_t* data, size_t size, const std::string& name,
                     const DecodeOptions& options) {
  EMGAN_CHECK(IoError, size >= 8, name, ": truncated file: ", size, " bytes is too short for a TIFF");
  EMGAN_CHECK(IoError,
              (data[0] == 'I' && data[1] == 'I') || (data[0] == 'M' && data[1] == 'M'), name,
              ": not a TIFF file (no II/MM byte-order mark)");
  MemFile file;
  file.data = data;
  file.size = size;
  CurrentFile current(&file);
  const int64_t max_alloc =
      std::max<int64_t>(int64_t(64) << 20, std::min<int64_t>(options.max_samples, int64_t(1) << 31) * 8);
  TiffPtr t = open_mem(file, "rm", name, max_alloc);
  EMGAN_CHECK(IoError, t != nullptr, name, ": cannot open as TIFF (",
              errors_or(file, "corrupt header"), ")");

  RawImage image;
  image.meta.format = "tiff";
  std::vector<std::vector<float>> pages;
  Page first;
  int64_t page_samples = 0;
  int64_t index = 0;
  do {
    uint32_t subfile = 0;
    if (TIFFGetField(t.get(), TIFFTAG_SUBFILETYPE, &subfile) == 1 && (subfile & FILETYPE_REDUCEDIMAGE) &&
        index > 0)
      continue;  // a thumbnail or pyramid level, not a slice
    const Page p = read_page_info(t.get(), file, name, index);
    if (pages.empty()) {
      first = p;
      page_samples = detail::check_shape(name, p.spp, 1, p.height, p.width, options);
      read_pixel_size(t.get(), image.meta);
      image.meta.dtype = p.dtype;
      image.meta.extra["photometric"] = p.photometric;
    } else {
      EMGAN_CHECK(IoError, p.width == first.width && p.height == first.height && p.spp == first.spp,
                  name, ": page ", index, " is ", p.width, " x ", p.height, " with ", p.spp,
                  " sample(s) per pixel but page 0 is ", first.width, " x ", first.height, " with ",
                  first.spp, "; pages of a volume must have the same size");
      EMGAN_CHECK(IoError, p.dtype == first.dtype, name, ": page ", index, " holds ", p.dtype,
                  " samples but page 0 holds ", first.dtype);
      detail::check_shape(name, p.spp, static_cast<int64_t>(pages.size()) + 1, p.height, p.width, options);
    }
    std::vector<float> buf(static_cast<size_t>(page_samples));
    read_page(t.get(), file, p, name, 0, 1, buf.data());
    pages.push_back(std::move(buf));
    ++index;
  } while (TIFFReadDirectory(t.get()));
  EMGAN_CHECK(IoError, !pages.empty(), name, ": TIFF holds no image page");
  // A directory that cannot be read after the last good page would otherwise
  // silently shorten a volume.
  EMGAN_CHECK(IoError, file.errors.empty(), name, ": cannot read page ", index, " (", file.errors, ")");

  const int64_t depth = static_cast<int64_t>(pages.size());
  image.channels = first.spp;
  image.depth = depth;
  image.height = first.height;
  image.width = first.width;
  image.is_volume = depth > 1;
  const size_t plane = static_cast<size_t>(first.height) * first.width;
  if (depth == 1) {
    image.data = std::move(pages[0]);
  } else {
    image.data.resize(static_cast<size_t>(first.spp) * depth * plane);
    for (int64_t z = 0; z < depth; ++z)
      for (size_t c = 0; c < first.spp; ++c)
        std::memcpy(image.data.data() + (c * depth + z) * plane, pages[z].data() + c * plane,
                    plane * sizeof(float));
  }
  image.meta.extra["pages"] = depth;
  return image;
}

std::vector<uint8_t> encode_tiff(const RawImage& image, const EncodeOptions& options,
                                 const std::string& name) {
  detail::check_encodable(image, "tiff", options, name);
  const int64_t C = image.channels;
  EMGAN_CHECK(ConfigError, C == 1 || C == 3 || C == 4, name, ": TIFF is written with 1, 3 (RGB) or 4 (RGBA) channels, got ",
              C);
  uint16_t compression = COMPRESSION_NONE;
  if (options.compression == "deflate") compression = COMPRESSION_ADOBE_DEFLATE;
  else if (options.compression == "lzw") compression = COMPRESSION_LZW;
  else if (options.compression == "packbits") compression = COMPRESSION_PACKBITS;
  else
    EMGAN_CHECK(ConfigError, options.compression == "none", name, ": compression '",
                options.compression, "' is not one of: none, deflate, lzw, packbits");
  EMGAN_CHECK(ConfigError, image.width <= 0x7fffffff && image.height <= 0x7fffffff && image.depth <= 65535,
              name, ": image too large for TIFF");

  std::vector<uint8_t> out;
  MemFile file;
  file.out = &out;
  CurrentFile current(&file);
  const bool big = static_cast<uint64_t>(image.data.size()) * detail::dtype_size(options.dtype) > 0xF0000000ull;
  TiffPtr t = open_mem(file, big ? "w8" : "w", name, int64_t(1) << 34);
  EMGAN_CHECK(IoError, t != nullptr, name, ": cannot create TIFF (", errors_or(file, "libtiff failed"), ")");

  const auto W = static_cast<uint32_t>(image.width), H = static_cast<uint32_t>(image.height);
  const size_t sample_bytes = detail::dtype_size(options.dtype);
  const uint16_t format = options.dtype == "float32" ? SAMPLEFORMAT_IEEEFP
                          : options.dtype == "int16" ? SAMPLEFORMAT_INT
                                                     : SAMPLEFORMAT_UINT;
  const size_t row_bytes = static_cast<size_t>(W) * C * sample_bytes;
  const uint32_t rps = static_cast<uint32_t>(std::clamp<size_t>((size_t(64) << 10) / row_bytes, 1, H));
  const size_t plane = static_cast<size_t>(W) * H;

  // An ImageJ description carries the unit (and the stack) for ImageJ/Fiji and tifffile.
  const ImageMeta& m = image.meta;
  const bool has_size = m.pixel_size_x > 0 && !m.unit.empty();
  std::string description;
  if (has_size || image.depth > 1) {
    description = "ImageJ=1.11a\n";
    if (image.depth > 1)
      description += "images=" + std::to_string(image.depth) + "\nslices=" + std::to_string(image.depth) + "\n";
    if (has_size) {
      std::string unit = m.unit;
      if (unit == "\xC2\xB5m" || unit == "\xCE\xBCm" || unit == "um") unit = "micron";
      if (unit == "\xC3\x85") unit = "A";
      description += "unit=" + unit + "\n";
      if (m.pixel_size_z > 0) {
        std::ostringstream z;
        z.precision(17);
        z << m.pixel_size_z;
        description += "spacing=" + z.str() + "\n";
      }
    }
  }

  std::vector<uint8_t> strip;
  std::vector<float> interleaved;
  for (int64_t z = 0; z < image.depth; ++z) {
    TIFF* tp = t.get();
    TIFFSetField(tp, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(tp, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(tp, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(sample_bytes * 8));
    TIFFSetField(tp, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(C));
    TIFFSetField(tp, TIFFTAG_SAMPLEFORMAT, format);
    TIFFSetField(tp, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tp, TIFFTAG_PHOTOMETRIC, C >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    if (C == 4) {
      const uint16_t extra[] = {EXTRASAMPLE_UNASSALPHA};
      TIFFSetField(tp, TIFFTAG_EXTRASAMPLES, 1, extra);
    }
    TIFFSetField(tp, TIFFTAG_ROWSPERSTRIP, rps);
    TIFFSetField(tp, TIFFTAG_COMPRESSION, compression);
    if (compression == COMPRESSION_ADOBE_DEFLATE || compression == COMPRESSION_LZW)
      TIFFSetField(tp, TIFFTAG_PREDICTOR,
                   format == SAMPLEFORMAT_IEEEFP ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
    if (image.depth > 1) {
      TIFFSetField(tp, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
      TIFFSetField(tp, TIFFTAG_PAGENUMBER, static_cast<uint16_t>(z), static_cast<uint16_t>(image.depth));
    }
    if (!description.empty()) TIFFSetField(tp, TIFFTAG_IMAGEDESCRIPTION, description.c_str());
    if (has_size) {
      TIFFSetField(tp, TIFFTAG_XRESOLUTION, static_cast<float>(1.0 / m.pixel_size_x));
      TIFFSetField(tp, TIFFTAG_YRESOLUTION,
                   static_cast<float>(1.0 / (m.pixel_size_y > 0 ? m.pixel_size_y : m.pixel_size_x)));
      TIFFSetField(tp, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    TIFFSetField(tp, TIFFTAG_SOFTWARE, "emgan");
    for (uint32_t y0 = 0, s = 0; y0 < H; y0 += rps, ++s) {
      const uint32_t rows = std::min(rps, H - y0);
      const size_t n = static_cast<size_t>(rows) * W * C;
      interleaved.resize(n);
      for (uint32_t r = 0; r < rows; ++r)
        for (uint32_t x = 0; x < W; ++x)
          for (int64_t c = 0; c < C; ++c)
            interleaved[(static_cast<size_t>(r) * W + x) * C + c] =
                image.data[(static_cast<size_t>(c) * image.depth + z) * plane + (static_cast<size_t>(y0) + r) * W + x];
      strip.resize(n * sample_bytes);
      detail::encode_named(options.dtype, interleaved.data(), n, detail::host_is_little_endian(), strip.data());
      EMGAN_CHECK(IoError, TIFFWriteEncodedStrip(tp, s, strip.data(), static_cast<tmsize_t>(strip.size())) >= 0,
                  name, ": cannot write strip ", s, " of page ", z, " (", errors_or(file, "libtiff failed"), ")");
    }
    EMGAN_CHECK(IoError, TIFFWriteDirectory(tp) == 1, name, ": cannot write page ", z, " (",
                errors_or(file, "libtiff failed"), ")");
  }
  TIFF* raw = t.release();
  TIFFClose(raw);
  EMGAN_CHECK(IoError, file.errors.empty(), name, ": writing the TIFF failed (", file.errors, ")");
  return out;
}

}  // namespace emgan::io
