#include "emgan/generate/volume_io.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/report/grid.h"

namespace emgan::generate {

void write_vti(const fs::path& path, const torch::Tensor& volume, const std::string& name, bool as_uint8,
               double spacing) {
  auto v = volume;
  if (v.dim() == 4 && v.size(0) == 1) v = v.squeeze(0);
  EMGAN_CHECK(ConfigError, v.dim() == 3, path.string(), ": a .vti volume must be [D, H, W], got ", volume.sizes());
  const int64_t d = v.size(0), h = v.size(1), w = v.size(2);
  const auto data = as_uint8 ? v.round().clamp(0, 255).to(torch::kCPU, torch::kUInt8).contiguous()
                             : v.to(torch::kCPU, torch::kFloat).contiguous();
  const uint64_t bytes = static_cast<uint64_t>(data.numel()) * static_cast<uint64_t>(data.element_size());
  std::ostringstream head;
  head << "<?xml version=\"1.0\"?>\n"
       << "<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
       << "  <ImageData WholeExtent=\"0 " << w - 1 << " 0 " << h - 1 << " 0 " << d - 1
       << "\" Origin=\"0 0 0\" Spacing=\"" << spacing << " " << spacing << " " << spacing << "\">\n"
       << "    <Piece Extent=\"0 " << w - 1 << " 0 " << h - 1 << " 0 " << d - 1 << "\">\n"
       << "      <PointData Scalars=\"" << name << "\">\n"
       << "        <DataArray type=\"" << (as_uint8 ? "UInt8" : "Float32") << "\" Name=\"" << name
       << "\" NumberOfComponents=\"1\" format=\"appended\" offset=\"0\"/>\n"
       << "      </PointData>\n"
       << "    </Piece>\n"
       << "  </ImageData>\n"
       << "  <AppendedData encoding=\"raw\">\n   _";
  const std::string tail = "\n  </AppendedData>\n</VTKFile>\n";
  atomic_write(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    EMGAN_CHECK(IoError, out.good(), tmp.string(), ": cannot open for writing");
    const std::string h_str = head.str();
    out.write(h_str.data(), static_cast<std::streamsize>(h_str.size()));
    unsigned char header[8];
    for (int i = 0; i < 8; ++i) header[i] = static_cast<unsigned char>((bytes >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(header), 8);
    out.write(static_cast<const char*>(data.data_ptr()), static_cast<std::streamsize>(bytes));
    out.write(tail.data(), static_cast<std::streamsize>(tail.size()));
    EMGAN_CHECK(IoError, out.good(), tmp.string(), ": write failed");
  });
}

void write_orthogonal_slices_png(const fs::path& path, const torch::Tensor& volume, bool phases) {
  EMGAN_CHECK(ConfigError, volume.dim() == 3, path.string(), ": slices need a [D, H, W] volume, got ",
              volume.sizes());
  const auto v = volume.to(torch::kFloat);
  std::vector<torch::Tensor> row = {v.select(0, v.size(0) / 2), v.select(1, v.size(1) / 2),
                                    v.select(2, v.size(2) / 2)};
  const int64_t side = std::max({v.size(0), v.size(1), v.size(2)});
  auto options = report::GridOptions()
                     .column_titles({"z = D/2 (x-y)", "y = H/2 (x-z)", "x = W/2 (y-z)"})
                     .window_mode(report::WindowMode::kRow)
                     .low_percentile(0.0)
                     .high_percentile(100.0)
                     .panel_scale(side < 96 ? 3 : (side < 192 ? 2 : 1))
                     .text_scale(1)
                     .colormap(phases ? report::Colormap::kViridis : report::Colormap::kGrey);
  report::write_grid_png(path, {row}, options);
}

VolumeFiles write_volume_files(const fs::path& dir, const std::string& stem, const torch::Tensor& volume,
                               bool phases) {
  ensure_dir(dir);
  const auto v = volume.to(torch::kCPU, torch::kFloat).contiguous();
  const bool integral = (v == v.round()).all().item<bool>() && v.min().item<double>() >= 0.0 &&
                        v.max().item<double>() <= 255.0;
  VolumeFiles files{dir / (stem + ".tif"), dir / (stem + ".npy"), dir / (stem + ".vti"),
                    dir / (stem + "_slices.png")};
  io::WriteOptions tiff;
  tiff.dtype = integral ? "uint8" : "float32";
  tiff.compression = "deflate";
  io::write_image(files.tiff, v.unsqueeze(0), tiff);
  io::write_image(files.npy, v.unsqueeze(0));
  write_vti(files.vti, v, phases ? "phase" : "intensity", integral);
  write_orthogonal_slices_png(files.slices, v, phases);
  return files;
}

}  // namespace emgan::generate
