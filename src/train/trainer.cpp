#include "emgan/train/trainer.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "emgan/core/fs.h"
#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/core/runtime.h"
#include "emgan/train/checkpoint.h"

namespace emgan::train {

// --- batches, recipes, sources -------------------------------------------------------

Batch Batch::to(const torch::Device& device) const {
  Batch out;
  if (input.defined()) out.input = input.to(device);
  if (target.defined()) out.target = target.to(device);
  for (const auto& kv : extra) out.extra[kv.first] = kv.second.defined() ? kv.second.to(device) : kv.second;
  return out;
}

int64_t Batch::size() const { return input.defined() && input.dim() > 0 ? input.size(0) : 0; }

void Recipe::set_training(bool on) {
  for (const auto& kv : modules()) {
    if (kv.second) kv.second->train(on);
  }
}

void Recipe::register_state(const std::string& name, std::shared_ptr<Stateful> state) {
  EMGAN_CHECK(ConfigError, state != nullptr, "recipe state '", name, "': null state object");
  EMGAN_CHECK(ConfigError, !states_.count(name), "recipe state '", name, "' is registered twice");
  states_[name] = std::move(state);
}

void Recipe::save_state(torch::serialize::OutputArchive& archive) const {
  for (const auto& kv : states_) {
    torch::serialize::OutputArchive sub(archive.compilation_unit());
    kv.second->save(sub);
    archive.write(kv.first, sub);
  }
}

void Recipe::load_state(torch::serialize::InputArchive& archive) {
  for (const auto& kv : states_) {
    torch::serialize::InputArchive sub;
    EMGAN_CHECK(ConfigError, archive.try_read(kv.first, sub), "checkpoint has no recipe state '",
                kv.first, "'");
    kv.second->load(sub);
  }
}

FunctionBatchSource::FunctionBatchSource(int64_t batches_per_epoch,
                                         std::function<Batch(int64_t, int64_t)> make)
    : batches_(batches_per_epoch), make_(std::move(make)) {
  EMGAN_CHECK(ConfigError, batches_ > 0, "batch source: batches_per_epoch = ", batches_,
              " must be > 0");
  EMGAN_CHECK(ConfigError, static_cast<bool>(make_), "batch source: no batch function given");
}

void FunctionBatchSource::seek(int64_t epoch, int64_t index) {
  EMGAN_CHECK(ConfigError, index >= 0 && index < batches_, "batch source: index ", index,
              " outside [0, ", batches_, ")");
  epoch_ = epoch;
  index_ = index;
}

Batch FunctionBatchSource::next() {
  Batch b = make_(epoch_, index_);
  if (++index_ >= batches_) {
    index_ = 0;
    ++epoch_;
  }
  return b;
}

// --- metrics log -----------------------------------------------------------------------

namespace {

std::string csv_cell(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  }
  return v.dump();
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void append_line(const fs::path& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  EMGAN_CHECK(IoError, out.good(), path.string(), ": cannot open the metrics log for appending");
  out << line << "\n";
  out.flush();
  EMGAN_CHECK(IoError, out.good(), path.string(), ": write failed (disk full?)");
}

}  // namespace

MetricsLog::MetricsLog(fs::path dir, std::string stem, std::string format)
    : dir_(std::move(dir)), stem_(std::move(stem)) {
  check_choice("metrics log format", format, {"csv", "jsonl", "both"});
  csv_ = format != "jsonl";
  jsonl_ = format != "csv";
}

std::vector<fs::path> MetricsLog::files() const {
  std::vector<fs::path> out;
  if (csv_) out.push_back(dir_ / (stem_ + ".csv"));
  if (jsonl_) out.push_back(dir_ / (stem_ + ".jsonl"));
  return out;
}

void MetricsLog::load_csv_header() {
  const fs::path path = dir_ / (stem_ + ".csv");
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string header;
  if (std::getline(in, header) && !header.empty()) columns_ = split_csv_line(header);
}

void MetricsLog::rewrite_csv(const std::vector<std::string>& columns) {
  const fs::path path = dir_ / (stem_ + ".csv");
  auto lines = read_lines(path);
  std::vector<std::string> out;
  out.push_back(join(columns, ","));
  if (!lines.empty()) {
    const auto old = split_csv_line(lines[0]);
    for (size_t i = 1; i < lines.size(); ++i) {
      auto cells = split_csv_line(lines[i]);
      std::vector<std::string> row;
      for (const auto& col : columns) {
        std::string v;
        for (size_t k = 0; k < old.size() && k < cells.size(); ++k) {
          if (old[k] == col) v = csv_cell(Json(cells[k]));
        }
        row.push_back(v);
      }
      out.push_back(join(row, ","));
    }
  }
  write_text_atomic(path, join_lines(out));
  columns_ = columns;
}

void MetricsLog::append(const Json& row) {
  EMGAN_CHECK(ConfigError, row.is_object(), "metrics log ", stem_, ": a row must be a JSON object");
  ensure_dir(dir_);
  if (jsonl_) append_line(dir_ / (stem_ + ".jsonl"), row.dump());
  if (!csv_) return;
  const fs::path path = dir_ / (stem_ + ".csv");
  if (columns_.empty()) load_csv_header();
  std::vector<std::string> wanted = columns_;
  auto add = [&](const std::string& key) {
    if (row.contains(key) && std::find(wanted.begin(), wanted.end(), key) == wanted.end()) {
      wanted.push_back(key);
    }
  };
  add("step");
  add("epoch");
  for (const auto& kv : row.items()) add(kv.key());
  if (columns_.empty() || !fs::exists(path)) {
    write_text_atomic(path, join(wanted, ",") + "\n");
    columns_ = wanted;
  } else if (wanted.size() != columns_.size()) {
    rewrite_csv(wanted);
  }
  std::vector<std::string> cells;
  for (const auto& col : columns_) cells.push_back(row.contains(col) ? csv_cell(row[col]) : "");
  append_line(path, join(cells, ","));
}

void MetricsLog::truncate_after(int64_t step) {
  if (jsonl_) {
    const fs::path path = dir_ / (stem_ + ".jsonl");
    if (fs::exists(path)) {
      std::vector<std::string> keep;
      for (const auto& line : read_lines(path)) {
        Json j = Json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        if (j.contains("step") && j["step"].is_number() && j["step"].get<int64_t>() > step) continue;
        keep.push_back(line);
      }
      write_text_atomic(path, join_lines(keep));
    }
  }
  if (csv_) {
    const fs::path path = dir_ / (stem_ + ".csv");
    if (fs::exists(path)) {
      auto lines = read_lines(path);
      if (lines.empty()) return;
      const auto header = split_csv_line(lines[0]);
      const auto it = std::find(header.begin(), header.end(), "step");
      std::vector<std::string> keep{lines[0]};
      for (size_t i = 1; i < lines.size(); ++i) {
        const auto cells = split_csv_line(lines[i]);
        if (it != header.end()) {
          const size_t k = static_cast<size_t>(it - header.begin());
          if (k < cells.size() && !cells[k].empty() && std::stoll(cells[k]) > step) continue;
        }
        keep.push_back(lines[i]);
      }
      write_text_atomic(path, join_lines(keep));
      columns_ = header;
    }
  }
}

// --- checkpoint pieces -------------------------------------------------------------------

RngState get_rng_state() {
  RngState s;
  {
    at::Generator gen = at::globalContext().defaultGenerator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    s.cpu = gen.get_state();
  }
  if (torch::cuda::is_available()) {
    const auto n = static_cast<int>(torch::cuda::device_count());
    for (int i = 0; i < n; ++i) {
      at::Generator gen = at::globalContext().defaultGenerator(
          c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      s.cuda.push_back(gen.get_state());
    }
  }
  return s;
}

void set_rng_state(const RngState& state) {
  if (state.cpu.defined()) {
    at::Generator gen = at::globalContext().defaultGenerator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state.cpu.to(torch::kCPU));
  }
  const size_t have = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  if (state.cuda.size() > have) {
    log_info("checkpoint holds " + std::to_string(state.cuda.size()) +
             " CUDA generator state(s); this machine has " + std::to_string(have) +
             " CUDA device(s): the others are not restored");
  }
  for (size_t i = 0; i < state.cuda.size() && i < have; ++i) {
    at::Generator gen = at::globalContext().defaultGenerator(
        c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state.cuda[i].to(torch::kCPU));
  }
}

namespace {

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

void load_tensors(const torch::OrderedDict<std::string, torch::Tensor>& tensors, bool buffers,
                  torch::serialize::InputArchive& archive, const std::string& where,
                  const std::string& prefix, bool apply) {
  torch::NoGradGuard guard;
  for (const auto& kv : tensors) {
    if (!kv.value().defined()) continue;
    torch::Tensor saved;
    const std::string name = prefix + kv.key();
    EMGAN_CHECK(IoError, archive.try_read(kv.key(), saved, buffers), where, ": ",
                buffers ? "buffer" : "parameter", " '", name, "' is missing from the checkpoint");
    EMGAN_CHECK(IoError, saved.sizes() == kv.value().sizes(), where, ": ", buffers ? "buffer" : "parameter",
                " '", name, "' has shape ", shape_str(saved), " in the checkpoint but ",
                shape_str(kv.value()), " in the module");
    EMGAN_CHECK(IoError, saved.scalar_type() == kv.value().scalar_type(), where, ": '", name,
                "' has dtype ", saved.scalar_type(), " in the checkpoint but ", kv.value().scalar_type(),
                " in the module");
    if (apply) kv.value().copy_(saved);
  }
}

void load_module_rec(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                     const std::string& where, const std::string& prefix, bool apply) {
  load_tensors(module.named_parameters(/*recurse=*/false), false, archive, where, prefix, apply);
  load_tensors(module.named_buffers(/*recurse=*/false), true, archive, where, prefix, apply);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    EMGAN_CHECK(IoError, archive.try_read(child.key(), sub), where, ": submodule '", prefix,
                child.key(), "' is missing from the checkpoint");
    load_module_rec(*child.value(), sub, where, prefix + child.key() + ".", apply);
  }
}

}  // namespace

void load_module_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                         const std::string& where) {
  load_module_rec(module, archive, where, "", /*apply=*/false);  // nothing changes on a mismatch
  load_module_rec(module, archive, where, "", /*apply=*/true);
}

void write_archive_atomic(const fs::path& path, torch::serialize::OutputArchive& archive) {
  atomic_write(path, [&](const fs::path& tmp) {
    try {
      archive.save_to(tmp.string());
    } catch (const c10::Error& e) {
      throw IoError(path.string() + ": cannot write the checkpoint (" + e.what_without_backtrace() + ")");
    }
  });
}

void read_archive(const fs::path& path, torch::serialize::InputArchive& archive,
                  const torch::Device& device) {
  EMGAN_CHECK(IoError, fs::is_regular_file(path), path.string(),
              ": checkpoint not found (expected a file written by emgan's trainer)");
  try {
    archive.load_from(path.string(), device);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) what = ce->what_without_backtrace();
    throw IoError(path.string() + ": not a readable torch checkpoint archive (" +
                  what.substr(0, what.find('\n')) + ")");
  }
}

namespace {

constexpr const char* kFormat = "emgan-checkpoint";

Json read_meta(torch::serialize::InputArchive& archive, const fs::path& path) {
  c10::IValue v;
  EMGAN_CHECK(IoError, archive.try_read("meta", v) && v.isString(), path.string(),
              ": not an emgan checkpoint (no 'meta' entry)");
  Json meta = Json::parse(v.toStringRef(), nullptr, false);
  EMGAN_CHECK(IoError, !meta.is_discarded() && meta.value("format", "") == kFormat, path.string(),
              ": not an emgan checkpoint (bad 'meta' entry)");
  return meta;
}

/// Reads nested archive `group`/`name`; IoError naming the file when absent.
void read_entry(torch::serialize::InputArchive& root, const std::string& group,
                const std::string& name, torch::serialize::InputArchive& out, const fs::path& path) {
  torch::serialize::InputArchive g;
  EMGAN_CHECK(IoError, root.try_read(group, g), path.string(), ": checkpoint has no '", group,
              "' section");
  if (!g.try_read(name, out)) {
    throw IoError(detail::concat(path.string(), ": checkpoint has no ", group, " entry '", name,
                                 "' (has: ", join(g.keys()), ")"));
  }
}

template <typename F>
void wrap_load(const fs::path& path, const std::string& what, F&& f) {
  try {
    f();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw IoError(path.string() + ": " + what + " does not fit the checkpoint (" +
                  msg.substr(0, msg.find('\n')) + ")");
  }
}

}  // namespace

Json read_checkpoint_meta(const fs::path& path) {
  torch::serialize::InputArchive root;
  read_archive(path, root, torch::Device(torch::kCPU));
  return read_meta(root, path);
}

void load_checkpoint_module(const fs::path& path, const std::string& name, torch::nn::Module& module,
                            const torch::Device& device, bool prefer_ema) {
  torch::serialize::InputArchive root;
  read_archive(path, root, device);
  read_meta(root, path);
  torch::serialize::InputArchive entry;
  if (prefer_ema) {
    torch::serialize::InputArchive emas;
    torch::serialize::InputArchive ema;
    if (root.try_read("ema", emas) && emas.try_read(name, ema)) {
      EMGAN_CHECK(IoError, ema.try_read("module", entry), path.string(), ": EMA entry '", name,
                  "' holds no module");
      load_module_checked(module, entry, path.string() + ": module '" + name + "' (EMA)");
      return;
    }
  }
  read_entry(root, "models", name, entry, path);
  load_module_checked(module, entry, path.string() + ": module '" + name + "'");
}

// --- trainer ---------------------------------------------------------------------------

void TrainerOptions::validate(const std::string& source) const {
  EMGAN_CHECK(ConfigError, epochs >= 1, source, ".epochs = ", epochs, " must be >= 1");
  EMGAN_CHECK(ConfigError, max_steps >= 0, source, ".max_steps = ", max_steps, " must be >= 0");
  EMGAN_CHECK(ConfigError, log_every >= 1, source, ".log_every = ", log_every, " must be >= 1");
  EMGAN_CHECK(ConfigError, checkpoint_every >= 0, source, ".checkpoint_every = ", checkpoint_every,
              " must be >= 0");
  EMGAN_CHECK(ConfigError, keep_every >= 0, source, ".keep_every = ", keep_every, " must be >= 0");
  check_choice(source + ".metrics_format", metrics_format, {"csv", "jsonl", "both"});
}

namespace {

void check_name(const std::string& what, const std::string& name) {
  bool ok = !name.empty();
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  EMGAN_CHECK(ConfigError, ok, what, " name '", name,
              "' must be non-empty letters, digits, '_' or '-' (it is a checkpoint key)");
}

}  // namespace

Trainer::Trainer(TrainerOptions options, std::shared_ptr<Recipe> recipe,
                 std::shared_ptr<BatchSource> data, torch::Device device, fs::path run_dir)
    : options_(std::move(options)),
      recipe_(std::move(recipe)),
      data_(std::move(data)),
      device_(device),
      run_dir_(std::move(run_dir)),
      metrics_(run_dir_, "metrics", options_.metrics_format),
      eval_(run_dir_, "eval", options_.metrics_format) {
  options_.validate();
  EMGAN_CHECK(ConfigError, recipe_ != nullptr, "trainer: no recipe given");
  EMGAN_CHECK(ConfigError, data_ != nullptr, "trainer: no batch source given");
  EMGAN_CHECK(ConfigError, !run_dir_.empty(), "trainer: no run folder given");
  for (const auto& kv : recipe_->modules()) {
    check_name("module", kv.first);
    EMGAN_CHECK(ConfigError, kv.second != nullptr, "trainer: module '", kv.first, "' is null");
  }
  for (const auto& kv : recipe_->optimizers()) check_name("optimizer", kv.first);
}

void Trainer::add_scheduler(const std::string& optimizer_name, std::shared_ptr<LrScheduler> scheduler) {
  const auto opts = recipe_->optimizers();
  auto it = opts.find(optimizer_name);
  EMGAN_CHECK(ConfigError, it != opts.end() && it->second, "trainer: no optimizer '", optimizer_name,
              "' in the recipe to schedule");
  EMGAN_CHECK(ConfigError, scheduler && scheduler->optimizer() == it->second, "trainer: the scheduler for '",
              optimizer_name, "' does not drive that optimizer");
  EMGAN_CHECK(ConfigError, !schedulers_.count(optimizer_name), "trainer: optimizer '", optimizer_name,
              "' already has a scheduler");
  schedulers_[optimizer_name] = std::move(scheduler);
}

void Trainer::add_ema(const std::string& name, std::shared_ptr<Ema> ema) {
  check_name("EMA", name);
  EMGAN_CHECK(ConfigError, ema != nullptr, "trainer: EMA '", name, "' is null");
  EMGAN_CHECK(ConfigError, !emas_.count(name), "trainer: EMA '", name, "' is added twice");
  emas_[name] = std::move(ema);
}

void Trainer::add_epoch_callback(EpochCallback callback) {
  EMGAN_CHECK(ConfigError, static_cast<bool>(callback), "trainer: empty epoch callback");
  callbacks_.push_back(std::move(callback));
}

void Trainer::set_progress_stream(std::ostream* os, bool is_terminal) {
  progress_os_ = os;
  progress_terminal_ = is_terminal;
}

int64_t Trainer::total_steps() const {
  const int64_t all = options_.epochs * data_->batches_per_epoch();
  return options_.max_steps > 0 ? std::min(options_.max_steps, all) : all;
}

Json Trainer::make_meta() const {
  Json meta;
  meta["format"] = kFormat;
  meta["version"] = 1;
  meta["step"] = step_;
  meta["epoch"] = epoch_;
  meta["index"] = index_;
  meta["batches_per_epoch"] = data_->batches_per_epoch();
  meta["config"] = config_;
  meta["trainer"] = Json(options_);
  meta["torch"] = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                  "." + std::to_string(TORCH_VERSION_PATCH);
  Json sched = Json::object();
  for (const auto& kv : schedulers_) sched[kv.first] = kv.second->state();
  meta["schedulers"] = sched;
  std::vector<std::string> names;
  for (const auto& kv : recipe_->modules()) names.push_back(kv.first);
  meta["modules"] = names;
  names.clear();
  for (const auto& kv : recipe_->optimizers()) names.push_back(kv.first);
  meta["optimizers"] = names;
  names.clear();
  for (const auto& kv : emas_) names.push_back(kv.first);
  meta["emas"] = names;
  return meta;
}

void Trainer::save_checkpoint(const fs::path& path) const {
  torch::serialize::OutputArchive root;
  auto cu = root.compilation_unit();
  root.write("meta", c10::IValue(make_meta().dump()));

  torch::serialize::OutputArchive models(cu);
  for (const auto& kv : recipe_->modules()) {
    torch::serialize::OutputArchive a(cu);
    kv.second->save(a);
    models.write(kv.first, a);
  }
  root.write("models", models);

  torch::serialize::OutputArchive optims(cu);
  for (const auto& kv : recipe_->optimizers()) {
    if (!kv.second) continue;
    torch::serialize::OutputArchive a(cu);
    kv.second->save(a);
    optims.write(kv.first, a);
  }
  root.write("optimizers", optims);

  torch::serialize::OutputArchive emas(cu);
  for (const auto& kv : emas_) {
    torch::serialize::OutputArchive a(cu);
    kv.second->save(a);
    emas.write(kv.first, a);
  }
  root.write("ema", emas);

  torch::serialize::OutputArchive recipe(cu);
  recipe_->save_state(recipe);
  root.write("recipe", recipe);

  const RngState rng = get_rng_state();
  torch::serialize::OutputArchive rng_archive(cu);
  rng_archive.write("cpu", rng.cpu);
  for (size_t i = 0; i < rng.cuda.size(); ++i) rng_archive.write("cuda" + std::to_string(i), rng.cuda[i]);
  rng_archive.write("cuda_count", torch::tensor(static_cast<int64_t>(rng.cuda.size()), torch::kInt64));
  root.write("rng", rng_archive);

  write_archive_atomic(path, root);
}

void Trainer::resume(const fs::path& path) {
  torch::serialize::InputArchive root;
  read_archive(path, root, device_);
  const Json meta = read_meta(root, path);
  const std::string src = path.string();

  const int64_t bpe = data_->batches_per_epoch();
  const int64_t saved_bpe = meta.value("batches_per_epoch", int64_t{-1});
  EMGAN_CHECK(ConfigError, saved_bpe == bpe, src, ": the checkpoint was written with ", saved_bpe,
              " batches per epoch but the data gives ", bpe, "; an exact resume needs the same data");

  // Every module is checked before any is changed.
  for (const bool apply : {false, true}) {
    for (const auto& kv : recipe_->modules()) {
      torch::serialize::InputArchive a;
      read_entry(root, "models", kv.first, a, path);
      load_module_rec(*kv.second, a, src + ": module '" + kv.first + "'", "", apply);
    }
  }
  for (const auto& kv : recipe_->optimizers()) {
    if (!kv.second) continue;
    torch::serialize::InputArchive a;
    read_entry(root, "optimizers", kv.first, a, path);
    wrap_load(path, "optimizer '" + kv.first + "'", [&] { kv.second->load(a); });
  }
  for (const auto& kv : emas_) {
    torch::serialize::InputArchive a;
    read_entry(root, "ema", kv.first, a, path);
    wrap_load(path, "EMA '" + kv.first + "'", [&] { kv.second->load(a, src + ": EMA '" + kv.first + "'"); });
  }
  const Json sched = meta.value("schedulers", Json::object());
  for (const auto& kv : schedulers_) {
    EMGAN_CHECK(ConfigError, sched.contains(kv.first), src, ": checkpoint has no schedule state for optimizer '",
                kv.first, "'");
    kv.second->load_state(sched[kv.first], src);
  }
  {
    torch::serialize::InputArchive a;
    EMGAN_CHECK(IoError, root.try_read("recipe", a), src, ": checkpoint has no 'recipe' section");
    wrap_load(path, "recipe state", [&] { recipe_->load_state(a); });
  }
  {
    torch::serialize::InputArchive a;
    EMGAN_CHECK(IoError, root.try_read("rng", a), src, ": checkpoint has no 'rng' section");
    RngState rng;
    a.read("cpu", rng.cpu);
    torch::Tensor count;
    a.read("cuda_count", count);
    for (int64_t i = 0; i < count.item<int64_t>(); ++i) {
      torch::Tensor t;
      a.read("cuda" + std::to_string(i), t);
      rng.cuda.push_back(t);
    }
    set_rng_state(rng);
  }
  step_ = meta.at("step").get<int64_t>();
  epoch_ = meta.at("epoch").get<int64_t>();
  index_ = meta.at("index").get<int64_t>();
  if (config_.empty() || config_ == Json::object()) config_ = meta.value("config", Json::object());
  metrics_.truncate_after(step_);
  eval_.truncate_after(step_);
  resumed_ = true;
  last_saved_step_ = step_;
}

void Trainer::checkpoint_now() {
  save_checkpoint(last_checkpoint());
  if (options_.keep_every > 0 && step_ % options_.keep_every == 0) {
    std::ostringstream name;
    name << "step_" << std::setw(6) << std::setfill('0') << step_ << ".pt";
    save_checkpoint(checkpoint_dir() / name.str());
  }
  last_saved_step_ = step_;
}

void Trainer::fit() {
  options_.validate();
  const int64_t bpe = data_->batches_per_epoch();
  EMGAN_CHECK(ConfigError, bpe > 0, "trainer: the data gives ", bpe, " batches per epoch (expected > 0)");
  const int64_t total = total_steps();
  if (!resumed_) seed_all(options_.seed);
  recipe_->set_training(true);

  const int64_t start_step = step_;
  std::unique_ptr<Progress> progress;
  if (options_.progress) {
    progress = std::make_unique<Progress>("train", std::max<int64_t>(total - start_step, 0), "img");
    if (progress_os_) progress->set_stream(progress_os_, progress_terminal_);
  }

  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  auto t_row = t_start;
  std::map<std::string, double> sums;
  int64_t row_steps = 0;
  int64_t row_images = 0;
  int64_t row_epoch = epoch_;

  auto write_row = [&]() {
    if (row_steps == 0) return;
    const auto now = Clock::now();
    const double dt = std::chrono::duration<double>(now - t_row).count();
    Json row;
    row["step"] = step_;
    row["epoch"] = row_epoch;
    for (const auto& kv : sums) row[kv.first] = kv.second / static_cast<double>(row_steps);
    for (const auto& kv : recipe_->optimizers()) {
      if (kv.second) row["lr_" + kv.first] = get_lr(*kv.second);
    }
    row["images_per_s"] = dt > 0 ? static_cast<double>(row_images) / dt : 0.0;
    row["time_s"] = std::chrono::duration<double>(now - t_start).count();
    metrics_.append(row);
    sums.clear();
    row_steps = 0;
    row_images = 0;
    t_row = now;
  };

  bool need_seek = true;
  while (step_ < total && epoch_ < options_.epochs) {
    if (need_seek) {
      data_->seek(epoch_, index_);
      need_seek = false;
    }
    const Batch batch = data_->next().to(device_);
    for (const auto& kv : schedulers_) kv.second->apply(step_, epoch_);
    const StepResult result = recipe_->step(batch);
    for (const auto& kv : result.losses) {
      if (!std::isfinite(kv.second)) {
        write_row();
        if (progress) progress->finish("stopped: non-finite loss");
        std::ostringstream msg;
        msg << "non-finite loss '" << kv.first << "' = " << kv.second << " at step " << step_ + 1
            << " (epoch " << epoch_ << ", batch " << index_ << "); training stopped. ";
        if (last_saved_step_ >= 0) {
          msg << "The last good checkpoint is " << last_checkpoint().string() << " (step "
              << last_saved_step_ << ").";
        } else {
          msg << "No checkpoint was written yet.";
        }
        msg << " Lower the learning rate, check the data normalisation, or resume from it.";
        throw TrainingError(msg.str());
      }
    }
    ++step_;
    ++index_;
    for (const auto& kv : emas_) kv.second->update();

    for (const auto& kv : result.losses) sums[kv.first] += kv.second;
    ++row_steps;
    row_images += batch.size();
    row_epoch = epoch_;
    if (step_ % options_.log_every == 0) write_row();

    if (progress) {
      std::ostringstream fields;
      fields << "step " << step_ << " epoch " << epoch_ + 1 << "/" << options_.epochs;
      for (const auto& kv : result.losses) {
        fields << " " << kv.first << "=" << std::setprecision(4) << kv.second;
      }
      progress->update(step_ - start_step, fields.str(), batch.size());
    }

    if (index_ >= bpe) {
      const int64_t finished = epoch_;
      index_ = 0;
      epoch_ = finished + 1;  // a checkpoint written by a callback resumes at the next epoch
      need_seek = true;
      for (auto& cb : callbacks_) {
        const auto metrics = cb(*this, finished);
        if (!metrics.empty()) {
          Json row;
          row["step"] = step_;
          row["epoch"] = finished;
          std::ostringstream line;
          line << "epoch " << finished + 1 << ":";
          for (const auto& kv : metrics) {
            row[kv.first] = kv.second;
            line << " " << kv.first << "=" << kv.second;
          }
          eval_.append(row);
          log_info(line.str());
        }
      }
      recipe_->set_training(true);
    }
    const bool due_last = options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0;
    const bool due_keep = options_.keep_every > 0 && step_ % options_.keep_every == 0;
    if (due_last || due_keep) checkpoint_now();
  }
  write_row();
  if (last_saved_step_ != step_) checkpoint_now();
  if (progress) progress->finish();
}

}  // namespace emgan::train
