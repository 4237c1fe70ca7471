// `emgan scanpath ...` and `emgan restore data`: paths, rasterising, synthetic data.
#include <cmath>
#include <sstream>

#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/report/display.h"
#include "emgan/restore/restore.h"

namespace emgan::restore {

std::string ScanPathResult::last_line() const {
  std::ostringstream os;
  os.precision(4);
  os << "probes=" << probes << " nominal_coverage=" << nominal_coverage << " (1/" << 1.0 / nominal_coverage
     << ") achieved_coverage=" << achieved_coverage << " (1/" << 1.0 / achieved_coverage << ")";
  return os.str();
}

ScanPathResult run_scanpath(const ScanPathSettings& s) {
  EMGAN_CHECK(ConfigError, s.blur >= 0.0, "scanpath: blur ", s.blur, " px must be >= 0");
  const auto path = make_path(s.kind, s.height, s.width, s.path);
  const auto mask = path_mask(path);
  const fs::path out = s.out;
  ensure_dir(out);
  write_positions_csv(out / "positions.csv", path);
  io::write_image(out / "mask.tif", mask.unsqueeze(0));
  report::write_png(out / "mask.png", mask.unsqueeze(0));
  if (s.blur > 0.0) {
    const auto blurred = blur_mask(mask, s.blur);
    io::write_image(out / "mask_blurred.tif", blurred.unsqueeze(0));
    report::write_png(out / "mask_blurred.png", blurred.unsqueeze(0));
  }
  Json cfg = s;
  save_json_file(out / "config.json", cfg);
  ScanPathResult r;
  r.probes = path.size();
  r.nominal_coverage = path.nominal_coverage;
  r.achieved_coverage = mask_coverage(mask);
  return r;
}

double run_rasterise(const RasteriseSettings& s) {
  EMGAN_CHECK(ConfigError, !s.csv.empty(), "scanpath rasterise: --csv is required");
  const auto r = rasterise_csv(s.csv, s.height, s.width);
  const fs::path out = s.out;
  ensure_dir(out);
  io::write_image(out / "partial_scan.tif", r.scan.unsqueeze(0));
  io::write_image(out / "mask.tif", r.mask.unsqueeze(0));
  report::write_png(out / "mask.png", r.mask.unsqueeze(0));
  const auto vals = r.scan.masked_select(r.mask > 0.5);
  const auto lo = vals.min().item<double>(), hi = vals.max().item<double>();
  report::write_png(out / "partial_scan.png",
                    report::render_scalar(r.scan, report::Window{lo, hi > lo ? hi : lo + 1.0}));
  return mask_coverage(r.mask);
}

int64_t run_restore_data(const RestoreDataSettings& s) {
  EMGAN_CHECK(ConfigError, s.count >= 1, "restore data: count ", s.count, " must be >= 1");
  const auto files = write_synthetic_micrographs(s.out, s.count, s.seed, s.synthetic);
  Json cfg = s;
  save_json_file(fs::path(s.out) / "config.json", cfg);
  return static_cast<int64_t>(files.size());
}

}  // namespace emgan::restore
