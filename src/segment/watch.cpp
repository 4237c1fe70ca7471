#include "emgan/segment/watch.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/report/charts.h"
#include "emgan/segment/analysis.h"
#include "emgan/segment/segmenter.h"

namespace emgan::segment {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void append_line(const fs::path& path, const std::string& header, const std::string& line) {
  const bool fresh = !fs::exists(path);
  std::ofstream os(path, std::ios::app);
  EMGAN_CHECK(IoError, os.good(), path.string(), ": cannot append");
  if (fresh) os << header << '\n';
  os << line << '\n';
}
}  // namespace

WatchSummary run_watch(const WatchSettings& s) {
  EMGAN_CHECK(ConfigError, !s.dir.empty(), "segment watch: the folder to watch is required");
  EMGAN_CHECK(IoError, fs::is_directory(s.dir), s.dir, ": not a folder");
  EMGAN_CHECK(ConfigError, s.poll_s > 0 && s.settle_s >= 0, "poll_s ", s.poll_s, " must be > 0 and settle_s ",
              s.settle_s, " >= 0");
  validate(s.rough, "rough");
  const MaskFitSettings fit =
      s.size_filter ? MaskFitSettings{s.min_area_ratio, s.max_area_ratio, s.min_area_px} : MaskFitSettings{0, 0, 0};
  fit.validate("segment watch: size filter");
  const auto device = apply_runtime(s.runtime);
  const fs::path out(s.out);
  ensure_dir(out);
  save_json_file(out / "config.json", Json(s));
  std::unique_ptr<Segmenter> seg;
  if (!s.model.empty()) {
    EMGAN_CHECK(ConfigError, s.threshold >= 0 && s.threshold < 1, "segment watch: threshold ", s.threshold,
                " must be in (0, 1), or 0 for the model's own");
    seg = std::make_unique<Segmenter>(s.model, device);
    seg->set_views(s.tta_views);
  }
  const auto readable = io::readable_extensions();

  struct Pending {
    uintmax_t size = 0;
    Clock::time_point since;
  };
  std::map<fs::path, Pending> pending;
  std::set<fs::path> done;
  std::vector<std::vector<Particle>> history;  // particles of the images in the running PSD's unit
  std::vector<double> scales;                  // their pixel sizes (1 in px)
  std::string unit;
  WatchSummary sum;
  double latency_total = 0.0;
  auto last_activity = Clock::now();
  log_info("watching " + s.dir + " (Ctrl-C to stop)");
  for (;;) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(s.dir, ec)) {
      if (!e.is_regular_file(ec)) continue;
      const auto ext = lower_extension(e.path());
      if (std::find(readable.begin(), readable.end(), ext) == readable.end()) continue;
      if (!done.count(e.path())) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const auto size = fs::file_size(f, ec);
      if (ec) continue;
      auto it = pending.find(f);
      if (it == pending.end() || it->second.size != size) {
        pending[f] = Pending{size, Clock::now()};
        last_activity = Clock::now();
        continue;
      }
      if (seconds_since(it->second.since) < s.settle_s) continue;
      const auto complete = Clock::now();
      pending.erase(it);
      done.insert(f);
      last_activity = Clock::now();
      try {
        const auto img = io::read_image(f);
        const auto mask = seg ? seg->predict(img.data, s.threshold).cpu() : rough_mask(img.data.to(device), s.rough).cpu();
        const double px_nm = s.pixel_size_nm > 0 ? s.pixel_size_nm : pixel_size_nm_of(img.meta.pixel_size_x, img.meta.unit);
        const std::string u = px_nm > 0 ? "nm" : "px";
        if (unit.empty()) unit = u;
        if (u != unit) log_info(f.string() + ": sizes in " + u + " while the running PSD is in " + unit);
        const double scale = px_nm > 0 ? px_nm : 1.0;
        int64_t measured = 0;
        std::ostringstream rows;
        torch::Tensor labels;
        auto particles = analyze_mask(mask.to(device), s.split, &labels);
        if (s.min_significance > 0) measure_significance(normalize_image(img.data).to(device), labels, particles);
        if (u == unit) {
          history.push_back(particles);
          scales.push_back(scale);
        }
        for (const auto& p : particles) {
          if (s.exclude_border && p.touches_border) continue;
          const double d = p.eq_diameter_px * scale;
          rows << f.filename().string() << ',' << p.label << ',' << p.area_px * scale * scale << ',' << d << ','
               << p.aspect << ',' << u << '\n';
          ++measured;
        }
        std::string text = rows.str();
        if (!text.empty()) text.pop_back();
        if (!text.empty()) append_line(out / "particles.csv", "image,label,area,diameter,aspect,unit", text);
        // The running PSD: size limits refitted on all images so far.
        const auto sel = select_psd_particles(history, s.exclude_border, fit, s.min_significance);
        std::vector<double> diam;
        for (size_t j = 0; j < history.size(); ++j) {
          for (size_t k = 0; k < history[j].size(); ++k) {
            if (sel.use[j][k] == ParticleUse::kMeasured) diam.push_back(history[j][k].eq_diameter_px * scales[j]);
          }
        }
        sum.excluded_small = sel.below_min;
        const auto summary = summarize_sizes(diam);
        save_json_file(out / "summary.json", Json{{"images", sum.images + 1},
                                                  {"psd", Json(summary)},
                                                  {"unit", unit},
                                                  {"excluded_small", sel.below_min},
                                                  {"excluded_large", sel.above_max},
                                                  {"min_area_px", sel.limits.min_px},
                                                  {"max_area_px", sel.limits.max_px}});
        if (diam.size() >= 2) {
          report::HistogramOptions ho;
          ho.chart(report::ChartOptions()
                       .title("Running PSD (n = " + std::to_string(diam.size()) + ")")
                       .x_label("equivalent diameter (" + unit + ")")
                       .y_label("count"));
          report::write_histogram(out / "psd.png", {{"running", torch::tensor(diam, torch::kFloat64), std::nullopt}}, ho);
        }
        const double latency = seconds_since(complete);
        latency_total += latency;
        ++sum.images;
        sum.particles += measured;
        std::ostringstream lat;
        lat << f.filename().string() << ',' << measured << ',' << latency;
        append_line(out / "latency.csv", "image,particles,latency_s", lat.str());
        std::ostringstream msg;
        msg << f.filename().string() << ": " << measured << " particles, latency " << latency
            << " s; running mean " << summary.mean << ' ' << unit << " (n = " << summary.count << ")";
        log_info(msg.str());
      } catch (const std::exception& e) {
        ++sum.failed;
        append_line(out / "errors.log", "file: error", f.string() + ": " + e.what());
        log_info("skipped " + f.string() + ": " + e.what());
      }
      if (s.max_images > 0 && sum.images + sum.failed >= s.max_images) break;
    }
    if (s.max_images > 0 && sum.images + sum.failed >= s.max_images) break;
    if (s.idle_timeout_s > 0 && pending.empty() && seconds_since(last_activity) > s.idle_timeout_s) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(s.poll_s));
  }
  sum.mean_latency_s = sum.images > 0 ? latency_total / static_cast<double>(sum.images) : 0.0;
  return sum;
}

}  // namespace emgan::segment
