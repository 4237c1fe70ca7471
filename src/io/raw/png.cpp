// PNG decoding and encoding through libpng, from and to memory. libpng reports
// errors by longjmp: the functions that call setjmp own no C++ objects with
// destructors (every buffer lives in a context struct owned by the caller), so a
// jump skips no destructor; the caller then turns the recorded message into IoError.
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>

#include "common.h"

namespace emgan::io {

namespace {

struct PngContext {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  std::vector<uint8_t>* out = nullptr;
  char error[256] = {0};
  // Decoded result.
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, channels = 0;
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  int64_t max_samples = 0;
  bool too_large = false;
  double pixel_size_nm_x = 0, pixel_size_nm_y = 0;
};

void on_error(png_structp png, png_const_charp message) {
  auto* ctx = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->error, sizeof(ctx->error), "%s", message ? message : "libpng error");
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep dst, png_size_t n) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->pos) png_error(png, "unexpected end of file");
  std::memcpy(dst, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

void on_write(png_structp png, png_bytep src, png_size_t n) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  ctx->out->insert(ctx->out->end(), src, src + n);
}

void on_flush(png_structp) {}

/// Runs the whole decode; returns false (message in ctx->error) on a libpng error.
bool run_decode(png_structp png, png_infop info, PngContext* ctx) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, ctx, on_read);
  const auto limit = static_cast<png_uint_32>(std::min<int64_t>(ctx->max_samples, 0x7fffffff));
  png_set_user_limits(png, limit, limit);
  png_set_chunk_malloc_max(png, 64u << 20);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, nullptr, nullptr);
  png_uint_32 res_x = 0, res_y = 0;
  int unit = 0;
  if (png_get_pHYs(png, info, &res_x, &res_y, &unit) && unit == PNG_RESOLUTION_METER && res_x > 0) {
    ctx->pixel_size_nm_x = 1e9 / res_x;
    ctx->pixel_size_nm_y = res_y > 0 ? 1e9 / res_y : ctx->pixel_size_nm_x;
  }
  ctx->bit_depth = depth;
  ctx->color_type = color;
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  ctx->width = png_get_image_width(png, info);
  ctx->height = png_get_image_height(png, info);
  ctx->channels = png_get_channels(png, info);
  const int out_depth = png_get_bit_depth(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  const int64_t samples = detail::checked_product(
      {static_cast<int64_t>(ctx->width), static_cast<int64_t>(ctx->height), ctx->channels}, ctx->max_samples);
  if (samples <= 0 || (out_depth != 8 && out_depth != 16) ||
      rowbytes != static_cast<size_t>(ctx->width) * ctx->channels * (out_depth / 8)) {
    ctx->too_large = samples < 0;
    std::snprintf(ctx->error, sizeof(ctx->error), "unsupported or oversized image (%u x %u, %d channels)",
                  static_cast<unsigned>(ctx->width), static_cast<unsigned>(ctx->height), ctx->channels);
    return false;
  }
  ctx->bit_depth = out_depth;
  ctx->pixels.resize(rowbytes * ctx->height);
  ctx->rows.resize(ctx->height);
  for (png_uint_32 y = 0; y < ctx->height; ++y) ctx->rows[y] = ctx->pixels.data() + y * rowbytes;
  png_read_image(png, ctx->rows.data());
  png_read_end(png, nullptr);
  return true;
}

struct ReadStructs {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~ReadStructs() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

struct WriteStructs {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~WriteStructs() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

bool run_encode(png_structp png, png_infop info, PngContext* ctx) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, ctx, on_write, on_flush);
  png_set_IHDR(png, info, ctx->width, ctx->height, ctx->bit_depth, ctx->color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (ctx->pixel_size_nm_x > 0) {
    const double ppm_x = 1e9 / ctx->pixel_size_nm_x, ppm_y = 1e9 / ctx->pixel_size_nm_y;
    if (ppm_x >= 1 && ppm_x < 4e9 && ppm_y >= 1 && ppm_y < 4e9)
      png_set_pHYs(png, info, static_cast<png_uint_32>(ppm_x + 0.5), static_cast<png_uint_32>(ppm_y + 0.5),
                   PNG_RESOLUTION_METER);
  }
  png_write_info(png, info);
  png_write_image(png, ctx->rows.data());
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

RawImage decode_png(const uint8_t* data, size_t size, const std::string& name,
                    const DecodeOptions& options) {
  EMGAN_CHECK(IoError, size >= 8 && png_sig_cmp(data, 0, 8) == 0, name,
              ": not a PNG file (missing PNG signature)");
  PngContext ctx;
  ctx.data = data;
  ctx.size = size;
  ctx.max_samples = options.max_samples;
  ReadStructs s;
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
  EMGAN_CHECK(IoError, s.png != nullptr, name, ": libpng could not start");
  s.info = png_create_info_struct(s.png);
  EMGAN_CHECK(IoError, s.info != nullptr, name, ": libpng could not start");
  const bool ok = run_decode(s.png, s.info, &ctx);
  EMGAN_CHECK(IoError, ok, name, ": cannot decode PNG: ", ctx.error);

  RawImage image;
  image.channels = ctx.channels;
  image.height = ctx.height;
  image.width = ctx.width;
  detail::check_shape(name, image.channels, 1, image.height, image.width, options);
  const size_t plane = static_cast<size_t>(ctx.width) * ctx.height;
  image.data.resize(plane * ctx.channels);
  const size_t C = ctx.channels;
  for (size_t i = 0; i < plane; ++i) {
    for (size_t c = 0; c < C; ++c) {
      float v;
      if (ctx.bit_depth == 16) {
        v = static_cast<float>(detail::load<uint16_t>(ctx.pixels.data() + (i * C + c) * 2, false));
      } else {
        v = static_cast<float>(ctx.pixels[i * C + c]);
      }
      image.data[c * plane + i] = v;
    }
  }
  image.meta.format = "png";
  image.meta.dtype = ctx.bit_depth == 16 ? "uint16" : "uint8";
  image.meta.extra["color_type"] = ctx.color_type;
  if (ctx.pixel_size_nm_x > 0) {
    image.meta.unit = "nm";
    image.meta.pixel_size_x = ctx.pixel_size_nm_x;
    image.meta.pixel_size_y = ctx.pixel_size_nm_y;
  }
  return image;
}

std::vector<uint8_t> encode_png(const RawImage& image, const EncodeOptions& options,
                                const std::string& name) {
  detail::check_encodable(image, "png", options, name);
  EMGAN_CHECK(ConfigError, !image.is_volume, name, ": PNG holds 2D images only; take a slice of the ",
              image.depth, "-slice volume first");
  EMGAN_CHECK(ConfigError, image.channels >= 1 && image.channels <= 4, name,
              ": PNG holds 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels, got ", image.channels);
  EMGAN_CHECK(ConfigError, image.width <= 0x7fffffff && image.height <= 0x7fffffff, name,
              ": image too large for PNG");
  std::vector<uint8_t> out;
  PngContext ctx;
  ctx.out = &out;
  ctx.width = static_cast<png_uint_32>(image.width);
  ctx.height = static_cast<png_uint_32>(image.height);
  ctx.channels = static_cast<int>(image.channels);
  ctx.bit_depth = options.dtype == "uint16" ? 16 : 8;
  const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                       PNG_COLOR_TYPE_RGB_ALPHA};
  ctx.color_type = types[image.channels - 1];
  const double nm = nanometres_per_unit(image.meta.unit);
  if (nm > 0 && image.meta.pixel_size_x > 0) {
    ctx.pixel_size_nm_x = image.meta.pixel_size_x * nm;
    ctx.pixel_size_nm_y = (image.meta.pixel_size_y > 0 ? image.meta.pixel_size_y : image.meta.pixel_size_x) * nm;
  }
  const size_t C = image.channels, plane = static_cast<size_t>(image.width) * image.height;
  std::vector<float> interleaved(plane * C);
  for (size_t i = 0; i < plane; ++i)
    for (size_t c = 0; c < C; ++c) interleaved[i * C + c] = image.data[c * plane + i];
  ctx.pixels.resize(interleaved.size() * (ctx.bit_depth / 8));
  detail::encode_named(options.dtype, interleaved.data(), interleaved.size(), false, ctx.pixels.data());
  const size_t rowbytes = static_cast<size_t>(image.width) * C * (ctx.bit_depth / 8);
  ctx.rows.resize(ctx.height);
  for (size_t y = 0; y < ctx.height; ++y) ctx.rows[y] = ctx.pixels.data() + y * rowbytes;

  WriteStructs s;
  s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
  EMGAN_CHECK(IoError, s.png != nullptr, name, ": libpng could not start");
  s.info = png_create_info_struct(s.png);
  EMGAN_CHECK(IoError, s.info != nullptr, name, ": libpng could not start");
  EMGAN_CHECK(IoError, run_encode(s.png, s.info, &ctx), name, ": cannot encode PNG: ", ctx.error);
  return out;
}

}  // namespace emgan::io
