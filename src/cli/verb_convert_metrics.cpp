// `emgan convert` and `emgan metrics`.
#include <iomanip>
#include <iostream>

#include "cli.h"
#include "emgan/io/convert.h"
#include "emgan/io/image.h"
#include "emgan/metrics/metrics.h"

namespace emgan::cli {

namespace {
struct ConvertArgs {
  std::string input;
  std::string output;
  io::ConvertOptions options;
};

struct MetricsSettings {
  std::string pred;          ///< predicted image file
  std::string target;        ///< true image file
  double data_range = 0.0;   ///< PSNR/SSIM data range; 0 = max - min of the target
  bool json = false;         ///< print one JSON object instead of lines
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MetricsSettings, pred, target, data_range, json)
}  // namespace

void register_convert(CLI::App& root, const Context& ctx) {
  auto* sub = root.add_subcommand(
      "convert", "Convert an image or volume between formats (TIFF, PNG, TXT, NPY, MRC; DM3/DM4 read), or slice a volume");
  static ConvertArgs args;
  load_config(ctx, "convert", args.options);
  sub->add_option("input", args.input, "input file (" + join(io::readable_extensions()) + ")")->required();
  sub->add_option("output", args.output, "output file (" + join(io::writable_extensions()) + ")")->required();
  sub->add_option("--slice-axis", args.options.slice_axis, "none | z | y | x: take one slice of a volume");
  sub->add_option("--slice-index", args.options.slice_index, "index of that slice (negative counts from the end)");
  sub->add_option("--dtype", args.options.dtype, "auto | float32 | uint8 | uint16 (what the format can hold)");
  sub->add_option("--scale", args.options.scale, "auto | none | minmax: map values onto an integer type's range");
  sub->add_option("--compression", args.options.compression, "TIFF: none | deflate | lzw | packbits");
  add_config_option(sub);
  sub->callback([] {
    const auto r = io::convert(args.input, args.output, args.options);
    for (const auto& w : r.warnings) std::cerr << "emgan: warning: " << w << "\n";
    auto shape = [](const std::vector<int64_t>& s) {
      std::string out;
      for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
      return out;
    };
    std::cout << args.input << " (" << shape(r.input_shape) << " " << r.input_dtype << ") -> " << args.output << " ("
              << shape(r.output_shape) << " " << r.output_dtype << ", scale " << r.scale << ")\n";
  });
}

void register_metrics(CLI::App& root, const Context& ctx) {
  auto* sub = root.add_subcommand("metrics", "Image metrics of a prediction against a target: MSE, RMSE, fractional RMSE, PSNR, SSIM");
  static MetricsSettings s;
  load_config(ctx, "metrics", s);
  sub->add_option("--pred", s.pred, "predicted image file")->required();
  sub->add_option("--target", s.target, "true image file")->required();
  sub->add_option("--data-range", s.data_range, "data range of PSNR and SSIM (0 = max - min of the target)");
  sub->add_flag("--json", s.json, "print one JSON object");
  add_config_option(sub);
  sub->callback([] {
    auto pred = io::read_image(s.pred).data;
    auto target = io::read_image(s.target).data;
    EMGAN_CHECK(ConfigError, pred.sizes() == target.sizes(), "--pred ", s.pred, " has shape ", pred.sizes(),
                " but --target ", s.target, " has shape ", target.sizes(), "; expected the same shape");
    std::optional<double> range;
    if (s.data_range > 0) range = s.data_range;
    EMGAN_CHECK(ConfigError, s.data_range >= 0, "--data-range ", s.data_range, " must be >= 0");
    const auto m = metrics::image_metrics(pred, target, range);
    if (s.json) {
      std::cout << Json(m).dump() << "\n";
      return;
    }
    std::cout << std::setprecision(6);
    for (const auto& kv : m.items()) std::cout << kv.first << " " << kv.second << "\n";
  });
}

}  // namespace emgan::cli
