// Samples, collation, seeded randomness, crops and the folder/volume data sets.
#include "emgan/data/dataset.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>

#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/data/crop.h"
#include "emgan/io/image.h"

namespace emgan::data {

namespace {

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

/// Orders "2" before "10" when both are numbers, else lexicographically.
bool natural_less(const std::string& a, const std::string& b) {
  if (all_digits(a) && all_digits(b)) {
    const auto strip = [](const std::string& s) {
      const auto p = s.find_first_not_of('0');
      return p == std::string::npos ? std::string("0") : s.substr(p);
    };
    const std::string sa = strip(a), sb = strip(b);
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    if (sa != sb) return sa < sb;
  }
  return a < b;
}

std::regex compile_pattern(const std::string& pattern, bool ignore_case, const std::string& what) {
  std::regex re;
  try {
    auto flags = std::regex::ECMAScript;
    if (ignore_case) flags |= std::regex::icase;
    re = std::regex(pattern, flags);
  } catch (const std::regex_error& e) {
    throw ConfigError(what + " '" + pattern + "' is not a valid regular expression: " + e.what());
  }
  EMGAN_CHECK(ConfigError, re.mark_count() == 1, what, " '", pattern,
              "' must have exactly one capture group (the ID), it has ", re.mark_count());
  return re;
}

std::optional<std::string> match_id(const std::regex& re, const fs::path& path, bool ignore_case) {
  std::smatch m;
  const std::string name = path.filename().string();
  if (!std::regex_match(name, m, re)) return std::nullopt;
  std::string id = m[1].str();
  EMGAN_CHECK(IoError, !id.empty(), path.string(),
              ": the ID capture group matched an empty string");
  return ignore_case ? to_lower(id) : id;
}

/// First component of `file` relative to `root` when the file is in a sub-folder, else "".
std::string group_of(const fs::path& file, const fs::path& root) {
  const fs::path rel = file.lexically_relative(root);
  auto it = rel.begin();
  if (it == rel.end()) return "";
  const fs::path first = *it;
  return (++it == rel.end()) ? std::string() : first.string();
}

struct Found {
  std::string id;
  std::string group;
  fs::path path;
};

std::string group_phrase(const std::string& group) {
  return group.empty() ? "" : " in group '" + group + "'";
}

/// Matches inputs with targets by (group, id); every error names the files.
std::vector<PairEntry> match_pairs(const std::vector<Found>& inputs,
                                   const std::vector<Found>& targets,
                                   const std::string& target_where, const PairedFolderOptions& o,
                                   const std::string& where) {
  using Key = std::pair<std::string, std::string>;
  std::map<Key, fs::path> in_map, tg_map;
  for (const auto& f : inputs) {
    auto [it, fresh] = in_map.emplace(Key{f.group, f.id}, f.path);
    EMGAN_CHECK(ConfigError, fresh, "duplicate input ID '", f.id, "'", group_phrase(f.group), ": '",
                it->second.string(), "' and '", f.path.string(), "' (input_pattern '",
                o.input_pattern(), "')");
  }
  for (const auto& f : targets) {
    auto [it, fresh] = tg_map.emplace(Key{f.group, f.id}, f.path);
    EMGAN_CHECK(ConfigError, fresh, "duplicate target ID '", f.id, "'", group_phrase(f.group),
                ": '", it->second.string(), "' and '", f.path.string(), "' (target_pattern '",
                o.target_pattern(), "')");
  }
  std::vector<PairEntry> pairs;
  for (const auto& [key, in_path] : in_map) {
    auto it = tg_map.find(key);
    EMGAN_CHECK(ConfigError, it != tg_map.end(), "input '", in_path.string(), "' (ID '", key.second,
                "'", group_phrase(key.first), ") has no target in ", target_where,
                " matching target_pattern '", o.target_pattern(), "'");
    pairs.push_back(PairEntry{key.second, key.first, in_path, it->second});
  }
  if (o.require_all_targets_used()) {
    for (const auto& [key, tg_path] : tg_map) {
      EMGAN_CHECK(ConfigError, in_map.count(key), "target '", tg_path.string(), "' (ID '",
                  key.second, "'", group_phrase(key.first),
                  ") has no input matching input_pattern '", o.input_pattern(),
                  "' (set require_all_targets_used=false to ignore extra targets)");
    }
  }
  EMGAN_CHECK(ConfigError, !pairs.empty(), "no image pairs found in ", where, " (", inputs.size(),
              " inputs matching '", o.input_pattern(), "', ", targets.size(), " targets matching '",
              o.target_pattern(), "')");
  std::sort(pairs.begin(), pairs.end(), [](const PairEntry& a, const PairEntry& b) {
    if (a.group != b.group) return a.group < b.group;
    return natural_less(a.id, b.id);
  });
  return pairs;
}

void check_index(size_t index, size_t size, const char* what) {
  EMGAN_CHECK(ConfigError, index < size, what, ": sample index ", index, " out of range (size ",
              size, ")");
}

}  // namespace

// --- Sample / Batch ---------------------------------------------------------------

std::string make_key(const std::string& id, const std::string& group) {
  return group.empty() ? id : group + "/" + id;
}

std::string Sample::key() const { return make_key(id, group); }

Batch collate(const std::vector<Sample>& samples) {
  EMGAN_CHECK(ConfigError, !samples.empty(), "collate: no samples");
  const Sample& first = samples.front();
  std::vector<torch::Tensor> inputs, targets;
  Batch b;
  for (const auto& s : samples) {
    EMGAN_CHECK(ConfigError, s.input.defined(), "collate: sample '", s.key(), "' has no input");
    EMGAN_CHECK(ConfigError, s.input.sizes() == first.input.sizes(), "collate: sample '", s.key(),
                "' has input shape ", shape_str(s.input), " but sample '", first.key(), "' has ",
                shape_str(first.input), " (crop samples to one size before batching)");
    EMGAN_CHECK(ConfigError, s.has_target() == first.has_target(), "collate: sample '", s.key(),
                s.has_target() ? "' has a target" : "' has no target", " but sample '", first.key(),
                first.has_target() ? "' has one" : "' has none");
    if (s.has_target()) {
      EMGAN_CHECK(ConfigError, s.target.sizes() == first.target.sizes(), "collate: sample '",
                  s.key(), "' has target shape ", shape_str(s.target), " but sample '", first.key(),
                  "' has ", shape_str(first.target));
      targets.push_back(s.target);
    }
    inputs.push_back(s.input);
    b.ids.push_back(s.id);
    b.groups.push_back(s.group);
    b.input_paths.push_back(s.input_path);
    b.target_paths.push_back(s.target_path);
  }
  b.input = torch::stack(inputs);
  if (!targets.empty()) b.target = torch::stack(targets);
  return b;
}

// --- randomness ------------------------------------------------------------------

torch::Generator make_generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

double uniform(torch::Generator& gen) {
  return torch::rand({1}, gen, torch::TensorOptions().dtype(torch::kFloat64)).item<double>();
}

int64_t uniform_int(torch::Generator& gen, int64_t n) {
  EMGAN_CHECK(ConfigError, n > 0, "uniform_int: n must be > 0, got ", n);
  return torch::randint(n, {1}, gen, torch::TensorOptions().dtype(torch::kInt64)).item<int64_t>();
}

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(a) ^ (b * 0xD1B54A32D192ED03ULL + 1));
}
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return mix_seed(mix_seed(a, b), c); }

std::vector<size_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

// --- crops -------------------------------------------------------------------------

namespace {
torch::Tensor as_planes(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, x.dim() >= 2, "pad: expected a tensor with >= 2 dims, got shape ",
              shape_str(x));
  return x.reshape({1, -1, x.size(-2), x.size(-1)});
}
torch::Tensor from_planes(const torch::Tensor& y, const torch::Tensor& like) {
  std::vector<int64_t> shape(like.sizes().begin(), like.sizes().end());
  shape[shape.size() - 2] = y.size(-2);
  shape[shape.size() - 1] = y.size(-1);
  return y.reshape(shape);
}
}  // namespace

torch::Tensor pad(const torch::Tensor& x, const Padding& p, const std::string& mode, double value) {
  check_choice("pad mode", mode, {"reflect", "replicate", "constant"});
  EMGAN_CHECK(ConfigError, p.top >= 0 && p.bottom >= 0 && p.left >= 0 && p.right >= 0,
              "pad: padding must be >= 0, got top ", p.top, " bottom ", p.bottom, " left ", p.left,
              " right ", p.right);
  if (p.empty()) return x;
  torch::Tensor y = as_planes(x);
  if (mode == "constant") {
    y = torch::constant_pad_nd(y, {p.left, p.right, p.top, p.bottom}, value);
  } else if (mode == "replicate" || y.size(-1) < 2 || y.size(-2) < 2) {
    y = torch::replication_pad2d(y, {p.left, p.right, p.top, p.bottom});
  } else {
    // Reflection padding must be smaller than the image: pad repeatedly.
    Padding rest = p;
    while (!rest.empty()) {
      const int64_t h = y.size(-2), w = y.size(-1);
      const int64_t l = std::min(rest.left, w - 1), r = std::min(rest.right, w - 1);
      const int64_t t = std::min(rest.top, h - 1), b = std::min(rest.bottom, h - 1);
      y = torch::reflection_pad2d(y, {l, r, t, b});
      rest.left -= l;
      rest.right -= r;
      rest.top -= t;
      rest.bottom -= b;
    }
  }
  return from_planes(y, x);
}

torch::Tensor crop(const torch::Tensor& x, int64_t y0, int64_t x0, int64_t height, int64_t width) {
  EMGAN_CHECK(ConfigError,
              x.dim() >= 2 && y0 >= 0 && x0 >= 0 && height > 0 && width > 0 &&
                  y0 + height <= x.size(-2) && x0 + width <= x.size(-1),
              "crop: window (y ", y0, ", x ", x0, ", ", height, " x ", width,
              ") does not fit in shape ", shape_str(x));
  return x.narrow(-2, y0, height).narrow(-1, x0, width);
}

torch::Tensor unpad(const torch::Tensor& x, const Padding& p) {
  return crop(x, p.top, p.left, x.size(-2) - p.top - p.bottom, x.size(-1) - p.left - p.right);
}

Padding padding_to_multiple(int64_t height, int64_t width, int64_t multiple) {
  EMGAN_CHECK(ConfigError, multiple > 0, "pad_to_multiple: multiple must be > 0, got ", multiple);
  const int64_t ph = (multiple - height % multiple) % multiple;
  const int64_t pw = (multiple - width % multiple) % multiple;
  return Padding{ph / 2, ph - ph / 2, pw / 2, pw - pw / 2};
}

torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple, Padding* applied,
                              const std::string& mode, double value) {
  const Padding p = padding_to_multiple(x.size(-2), x.size(-1), multiple);
  if (applied) *applied = p;
  return pad(x, p, mode, value);
}

namespace {
void check_crop(const CropOptions& o) {
  EMGAN_CHECK(ConfigError, o.height() > 0 && o.width() > 0, "crop size must be > 0, got ",
              o.height(), " x ", o.width());
  check_choice("crop pad_mode", o.pad_mode(), {"reflect", "replicate", "constant"});
}

/// Pads input and target (centred) up to at least the crop size.
Sample pad_for_crop(Sample s, const CropOptions& o) {
  EMGAN_CHECK(ConfigError, s.input.defined() && s.input.dim() >= 2, "crop: sample '", s.key(),
              "' has no 2D input");
  if (s.has_target()) {
    EMGAN_CHECK(ConfigError,
                s.target.size(-1) == s.input.size(-1) && s.target.size(-2) == s.input.size(-2),
                "crop: sample '", s.key(), "' input shape ", shape_str(s.input),
                " and target shape ", shape_str(s.target), " differ in height/width");
  }
  const int64_t ph = std::max<int64_t>(0, o.height() - s.input.size(-2));
  const int64_t pw = std::max<int64_t>(0, o.width() - s.input.size(-1));
  const Padding p{ph / 2, ph - ph / 2, pw / 2, pw - pw / 2};
  if (!p.empty()) {
    s.input = pad(s.input, p, o.pad_mode(), o.pad_value());
    if (s.has_target()) s.target = pad(s.target, p, o.pad_mode(), o.pad_value());
  }
  return s;
}
}  // namespace

Sample random_crop(const Sample& sample, const CropOptions& o, torch::Generator& gen) {
  check_crop(o);
  Sample s = pad_for_crop(sample, o);
  const int64_t y0 = uniform_int(gen, s.input.size(-2) - o.height() + 1);
  const int64_t x0 = uniform_int(gen, s.input.size(-1) - o.width() + 1);
  s.input = crop(s.input, y0, x0, o.height(), o.width()).contiguous();
  if (s.has_target()) s.target = crop(s.target, y0, x0, o.height(), o.width()).contiguous();
  return s;
}

Sample center_crop(const Sample& sample, const CropOptions& o) {
  check_crop(o);
  Sample s = pad_for_crop(sample, o);
  const int64_t y0 = (s.input.size(-2) - o.height()) / 2;
  const int64_t x0 = (s.input.size(-1) - o.width()) / 2;
  s.input = crop(s.input, y0, x0, o.height(), o.width()).contiguous();
  if (s.has_target()) s.target = crop(s.target, y0, x0, o.height(), o.width()).contiguous();
  return s;
}

// --- files ---------------------------------------------------------------------------

std::vector<fs::path> list_image_files(const fs::path& dir, bool recursive) {
  EMGAN_CHECK(IoError, fs::is_directory(dir), "'", dir.string(), "' is not a folder");
  const auto exts = io::readable_extensions();
  const std::set<std::string> ok(exts.begin(), exts.end());
  std::vector<fs::path> out;
  const auto consider = [&](const fs::directory_entry& e) {
    if (!e.is_regular_file()) return;
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') return;
    if (ok.count(lower_extension(e.path()))) out.push_back(e.path());
  };
  try {
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(dir);
           it != fs::recursive_directory_iterator(); ++it) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.' && it->is_directory()) {
          it.disable_recursion_pending();
          continue;
        }
        consider(*it);
      }
    } else {
      for (const auto& e : fs::directory_iterator(dir)) consider(e);
    }
  } catch (const fs::filesystem_error& e) {
    throw IoError("cannot list folder '" + dir.string() + "': " + e.what());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> extract_id(const fs::path& path, const std::string& pattern,
                                      bool ignore_case) {
  return match_id(compile_pattern(pattern, ignore_case, "ID pattern"), path, ignore_case);
}

torch::Tensor load_checked_image(const fs::path& path, bool check_finite) {
  torch::Tensor t = io::read_image(path).data;
  if (check_finite) {
    const torch::Tensor bad = ~torch::isfinite(t);
    const int64_t n = bad.sum().item<int64_t>();
    if (n > 0) {
      const int64_t first = bad.reshape({-1}).nonzero().index({0, 0}).item<int64_t>();
      throw IoError(detail::concat("'", path.string(), "' contains ", n,
                                   " NaN/Inf value(s) (first at flat index ", first, ", shape ",
                                   shape_str(t), ")"));
    }
  }
  return t;
}

// --- Dataset -------------------------------------------------------------------------

std::vector<std::string> Dataset::groups() const {
  std::set<std::string> g;
  for (size_t i = 0; i < size(); ++i) g.insert(group(i));
  return {g.begin(), g.end()};
}

// --- PairedFolderDataset ----------------------------------------------------------------

PairedFolderDataset::PairedFolderDataset(const fs::path& input_dir, const fs::path& target_dir,
                                         PairedFolderOptions options)
    : options_(std::move(options)) {
  const auto& o = options_;
  const std::regex in_re = compile_pattern(o.input_pattern(), o.ignore_case(), "input_pattern");
  const std::regex tg_re = compile_pattern(o.target_pattern(), o.ignore_case(), "target_pattern");
  std::vector<Found> inputs, targets;
  for (const auto& p : list_image_files(input_dir)) {
    auto id = match_id(in_re, p, o.ignore_case());
    EMGAN_CHECK(ConfigError, id || !o.strict(), "input file '", p.string(),
                "' does not match input_pattern '", o.input_pattern(),
                "' (set strict=false to ignore such files)");
    if (id) inputs.push_back(Found{*id, "", p});
  }
  for (const auto& p : list_image_files(target_dir)) {
    auto id = match_id(tg_re, p, o.ignore_case());
    EMGAN_CHECK(ConfigError, id || !o.strict(), "target file '", p.string(),
                "' does not match target_pattern '", o.target_pattern(),
                "' (set strict=false to ignore such files)");
    if (id) targets.push_back(Found{*id, "", p});
  }
  pairs_ = match_pairs(inputs, targets, "'" + target_dir.string() + "'", o,
                       "'" + input_dir.string() + "' and '" + target_dir.string() + "'");
  finish_construction();
}

PairedFolderDataset::PairedFolderDataset(std::vector<PairEntry> pairs, PairedFolderOptions options)
    : pairs_(std::move(pairs)), options_(std::move(options)) {
  finish_construction();
}

std::shared_ptr<PairedFolderDataset> PairedFolderDataset::from_tree(const fs::path& root,
                                                                    PairedFolderOptions options) {
  const auto& o = options;
  const std::regex in_re = compile_pattern(o.input_pattern(), o.ignore_case(), "input_pattern");
  const std::regex tg_re = compile_pattern(o.target_pattern(), o.ignore_case(), "target_pattern");
  std::vector<Found> inputs, targets;
  for (const auto& p : list_image_files(root, true)) {
    auto in_id = match_id(in_re, p, o.ignore_case());
    auto tg_id = match_id(tg_re, p, o.ignore_case());
    EMGAN_CHECK(ConfigError, !(in_id && tg_id), "file '", p.string(),
                "' matches both input_pattern '", o.input_pattern(), "' and target_pattern '",
                o.target_pattern(), "'");
    EMGAN_CHECK(ConfigError, in_id || tg_id || !o.strict(), "file '", p.string(),
                "' matches neither input_pattern '", o.input_pattern(), "' nor target_pattern '",
                o.target_pattern(), "' (set strict=false to ignore such files)");
    if (in_id) inputs.push_back(Found{*in_id, group_of(p, root), p});
    if (tg_id) targets.push_back(Found{*tg_id, group_of(p, root), p});
  }
  auto pairs = match_pairs(inputs, targets, "its group folder under '" + root.string() + "'", o,
                           "the tree '" + root.string() + "'");
  return std::shared_ptr<PairedFolderDataset>(
      new PairedFolderDataset(std::move(pairs), std::move(options)));
}

void PairedFolderDataset::finish_construction() {
  if (options_.preload()) {
    for (size_t i = 0; i < pairs_.size(); ++i) get(i);
  }
}

std::string PairedFolderDataset::id(size_t index) const {
  check_index(index, pairs_.size(), "PairedFolderDataset");
  return pairs_[index].id;
}

std::string PairedFolderDataset::group(size_t index) const {
  check_index(index, pairs_.size(), "PairedFolderDataset");
  return pairs_[index].group;
}

Sample PairedFolderDataset::get(size_t index) const {
  check_index(index, pairs_.size(), "PairedFolderDataset");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(index);
    if (it != cache_.end()) {
      Sample s = it->second;
      s.input = s.input.clone();
      s.target = s.target.clone();
      return s;
    }
  }
  const PairEntry& e = pairs_[index];
  Sample s;
  s.id = e.id;
  s.group = e.group;
  s.input_path = e.input_path.string();
  s.target_path = e.target_path.string();
  s.input = load_checked_image(e.input_path, options_.check_finite());
  s.target = load_checked_image(e.target_path, options_.check_finite());
  const bool same =
      s.input.dim() == s.target.dim() && s.input.sizes().slice(1).equals(s.target.sizes().slice(1));
  EMGAN_CHECK(IoError, same, "paired images differ in shape: input '", s.input_path, "' is ",
              shape_str(s.input), ", target '", s.target_path, "' is ", shape_str(s.target),
              " (expected the same height/width)");
  if (options_.cache()) {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.emplace(index, Sample{s.input.clone(), s.target.clone(), s.id, s.group, s.input_path,
                                 s.target_path});
  }
  return s;
}

// --- SingleFolderDataset ------------------------------------------------------------------

SingleFolderDataset::SingleFolderDataset(const fs::path& dir, SingleFolderOptions options)
    : options_(std::move(options)) {
  const auto& o = options_;
  std::optional<std::regex> re;
  if (!o.pattern().empty()) re = compile_pattern(o.pattern(), o.ignore_case(), "pattern");
  std::map<std::pair<std::string, std::string>, fs::path> seen;
  for (const auto& p : list_image_files(dir, o.recursive())) {
    std::string id;
    if (re) {
      auto m = match_id(*re, p, o.ignore_case());
      EMGAN_CHECK(ConfigError, m || !o.strict(), "file '", p.string(), "' does not match pattern '",
                  o.pattern(), "' (set strict=false to ignore such files)");
      if (!m) continue;
      id = *m;
    } else {
      id = p.stem().string();
    }
    const std::string g = o.recursive() ? group_of(p, dir) : std::string();
    auto [it, fresh] = seen.emplace(std::make_pair(g, id), p);
    EMGAN_CHECK(ConfigError, fresh, "duplicate ID '", id, "'", group_phrase(g), ": '",
                it->second.string(), "' and '", p.string(), "'");
    files_.push_back(p);
    ids_.push_back(id);
    groups_.push_back(g);
  }
  EMGAN_CHECK(ConfigError, !files_.empty(), "no images found in '", dir.string(), "'",
              o.pattern().empty() ? "" : " matching pattern '" + o.pattern() + "'");
}

std::string SingleFolderDataset::id(size_t index) const {
  check_index(index, files_.size(), "SingleFolderDataset");
  return ids_[index];
}

std::string SingleFolderDataset::group(size_t index) const {
  check_index(index, files_.size(), "SingleFolderDataset");
  return groups_[index];
}

Sample SingleFolderDataset::get(size_t index) const {
  check_index(index, files_.size(), "SingleFolderDataset");
  Sample s;
  s.id = ids_[index];
  s.group = groups_[index];
  s.input_path = files_[index].string();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(index);
    if (it != cache_.end()) {
      s.input = it->second.clone();
      return s;
    }
  }
  s.input = load_checked_image(files_[index], options_.check_finite());
  if (options_.cache()) {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.emplace(index, s.input.clone());
  }
  return s;
}

// --- UnpairedDataset ----------------------------------------------------------------------

UnpairedDataset::UnpairedDataset(const fs::path& dir_a, const fs::path& dir_b,
                                 SingleFolderOptions options)
    : a_(dir_a, options), b_(dir_b, options) {}

size_t UnpairedDataset::size() const { return std::max(a_.size(), b_.size()); }

Sample UnpairedDataset::combine(size_t ia, size_t ib) const {
  Sample s = a_.get(ia);
  Sample t = b_.get(ib);
  s.target = t.input;
  s.target_path = t.input_path;
  return s;
}

Sample UnpairedDataset::get(size_t index) const {
  check_index(index, size(), "UnpairedDataset");
  return combine(index % a_.size(), index % b_.size());
}

Sample UnpairedDataset::get(size_t index, uint64_t seed) const {
  check_index(index, size(), "UnpairedDataset");
  return combine(index % a_.size(), static_cast<size_t>(mix_seed(seed, 0xB) % b_.size()));
}

std::string UnpairedDataset::id(size_t index) const {
  check_index(index, size(), "UnpairedDataset");
  return a_.id(index % a_.size());
}

std::string UnpairedDataset::group(size_t index) const {
  check_index(index, size(), "UnpairedDataset");
  return a_.group(index % a_.size());
}

// --- VolumeDataset ---------------------------------------------------------------------------

VolumeDataset::VolumeDataset(torch::Tensor volume, VolumeOptions options, std::string name)
    : volume_(std::move(volume)), options_(std::move(options)), name_(std::move(name)) {
  EMGAN_CHECK(ConfigError, volume_.defined() && (volume_.dim() == 3 || volume_.dim() == 4), name_,
              ": expected a volume [D, H, W] or [C, D, H, W], got ",
              volume_.defined() ? shape_str(volume_) : std::string("an undefined tensor"));
  if (volume_.dim() == 3) volume_ = volume_.unsqueeze(0);
  const auto& o = options_;
  check_choice("volume mode", o.mode(), {"slice", "cube"});
  EMGAN_CHECK(ConfigError, o.axis() >= -1 && o.axis() <= 2, name_,
              ": volume axis must be -1, 0, 1 or 2, got ", o.axis());
  EMGAN_CHECK(ConfigError, o.samples_per_epoch() > 0, name_,
              ": samples_per_epoch must be > 0, got ", o.samples_per_epoch());
  const int64_t smallest = std::min({volume_.size(1), volume_.size(2), volume_.size(3)});
  if (o.mode() == "cube") {
    EMGAN_CHECK(ConfigError, o.size() > 0 && o.size() <= smallest, name_, ": cube size ", o.size(),
                " must be in [1, ", smallest, "] for volume shape ", shape_str(volume_));
  } else {
    EMGAN_CHECK(ConfigError, o.size() >= 0, name_, ": slice size must be >= 0, got ", o.size());
    for (int64_t a = 0; a < 3; ++a) {
      if (o.axis() != -1 && o.axis() != a) continue;
      for (int64_t d = 1; d <= 3; ++d) {
        if (d == a + 1) continue;
        EMGAN_CHECK(ConfigError, o.size() <= volume_.size(d), name_, ": slice size ", o.size(),
                    " is larger than dimension ", d, " of volume shape ", shape_str(volume_),
                    " (axis ", a, ")");
      }
    }
  }
}

std::shared_ptr<VolumeDataset> VolumeDataset::from_file(const fs::path& path,
                                                        VolumeOptions options) {
  torch::Tensor v = load_checked_image(path);
  EMGAN_CHECK(IoError, v.dim() == 4, "'", path.string(), "' is not a volume: shape ", shape_str(v),
              " (expected [C, D, H, W])");
  return std::make_shared<VolumeDataset>(v, std::move(options), path.stem().string());
}

std::string VolumeDataset::id(size_t index) const {
  check_index(index, size(), "VolumeDataset");
  return get(index).id;
}

Sample VolumeDataset::get(size_t index) const { return get(index, mix_seed(0x5EED, index)); }

Sample VolumeDataset::get(size_t index, uint64_t seed) const {
  check_index(index, size(), "VolumeDataset");
  torch::Generator gen = make_generator(seed);
  Sample s;
  s.group = name_;
  std::ostringstream id;
  if (options_.mode() == "cube") {
    const int64_t n = options_.size();
    const int64_t z = uniform_int(gen, volume_.size(1) - n + 1);
    const int64_t y = uniform_int(gen, volume_.size(2) - n + 1);
    const int64_t x = uniform_int(gen, volume_.size(3) - n + 1);
    s.input = volume_.narrow(1, z, n).narrow(2, y, n).narrow(3, x, n).contiguous();
    id << z << "_" << y << "_" << x;
  } else {
    const int64_t axis = options_.axis() >= 0 ? options_.axis() : uniform_int(gen, 3);
    const int64_t k = uniform_int(gen, volume_.size(axis + 1));
    torch::Tensor slice = volume_.select(axis + 1, k);  // [C, a, b]
    int64_t y = 0, x = 0;
    if (options_.size() > 0) {
      y = uniform_int(gen, slice.size(1) - options_.size() + 1);
      x = uniform_int(gen, slice.size(2) - options_.size() + 1);
      slice = slice.narrow(1, y, options_.size()).narrow(2, x, options_.size());
    }
    s.input = slice.contiguous();
    id << "a" << axis << "_" << k << "_" << y << "_" << x;
  }
  s.id = id.str();
  return s;
}

// --- TensorDataset --------------------------------------------------------------------------

TensorDataset::TensorDataset(std::vector<Sample> samples) : samples_(std::move(samples)) {
  std::set<std::string> keys;
  for (const auto& s : samples_) {
    EMGAN_CHECK(ConfigError, s.input.defined(), "TensorDataset: sample '", s.key(),
                "' has no input");
    EMGAN_CHECK(ConfigError, keys.insert(s.key()).second, "TensorDataset: duplicate sample key '",
                s.key(), "'");
  }
}

Sample TensorDataset::get(size_t index) const {
  check_index(index, samples_.size(), "TensorDataset");
  Sample s = samples_[index];
  s.input = s.input.clone();
  if (s.has_target()) s.target = s.target.clone();
  return s;
}

std::string TensorDataset::id(size_t index) const {
  check_index(index, samples_.size(), "TensorDataset");
  return samples_[index].id;
}

std::string TensorDataset::group(size_t index) const {
  check_index(index, samples_.size(), "TensorDataset");
  return samples_[index].group;
}

}  // namespace emgan::data
