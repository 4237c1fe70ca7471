#include "emgan/train/optim.h"

#include <cmath>

#include "emgan/core/error.h"
#include "emgan/train/checkpoint.h"

namespace emgan::train {

// --- optimizers --------------------------------------------------------------------

void OptimizerOptions::validate(const std::string& source) const {
  check_choice(source + ".name", name, optimizer_registry().names());
  EMGAN_CHECK(ConfigError, lr > 0 && std::isfinite(lr), source, ".lr = ", lr, " must be > 0");
  EMGAN_CHECK(ConfigError, beta1 >= 0 && beta1 < 1, source, ".beta1 = ", beta1, " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, beta2 >= 0 && beta2 < 1, source, ".beta2 = ", beta2, " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, eps > 0, source, ".eps = ", eps, " must be > 0");
  EMGAN_CHECK(ConfigError, weight_decay >= 0, source, ".weight_decay = ", weight_decay,
              " must be >= 0");
  EMGAN_CHECK(ConfigError, momentum >= 0 && momentum < 1, source, ".momentum = ", momentum,
              " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, !nesterov || momentum > 0, source,
              ".nesterov = true needs momentum > 0 (momentum = ", momentum, ")");
  EMGAN_CHECK(ConfigError, alpha >= 0 && alpha < 1, source, ".alpha = ", alpha, " must be in [0, 1)");
}

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options,
                     bool release_grads)
    : torch::optim::Adam(std::move(params), options), release_grads_(release_grads) {}

torch::Tensor FusedAdam::step(LossClosure closure) {
  bool all_fused = true;
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    if (o.weight_decay() != 0 || o.amsgrad()) all_fused = false;
  }
  if (!all_fused) {
    auto loss = torch::optim::Adam::step(std::move(closure));
    if (release_grads_)
      for (auto& group : param_groups())
        for (auto& p : group.params()) p.mutable_grad() = torch::Tensor();
    return loss;
  }
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double lr = o.lr(), beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const torch::Tensor g = p.grad();
      const auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto st = std::make_unique<torch::optim::AdamParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(st)).first;
      }
      auto& st = static_cast<torch::optim::AdamParamState&>(*it->second);
      st.step(st.step() + 1);
      const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(st.step()));
      const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(st.step()));
      torch::Tensor m = st.exp_avg(), v = st.exp_avg_sq();
      const bool fused = p.device().is_cpu() && p.scalar_type() == torch::kFloat && p.is_contiguous() &&
                         g.is_contiguous() && g.scalar_type() == torch::kFloat && m.is_contiguous() &&
                         v.is_contiguous();
      if (fused) {
        float* pp = p.data_ptr<float>();
        const float* gp = g.data_ptr<float>();
        float* mp = m.data_ptr<float>();
        float* vp = v.data_ptr<float>();
        const float b1 = static_cast<float>(beta1), a1 = static_cast<float>(1.0 - beta1);
        const float b2 = static_cast<float>(beta2), a2 = static_cast<float>(1.0 - beta2);
        const float sbc2 = static_cast<float>(std::sqrt(bc2)), eps = static_cast<float>(o.eps());
        const float step = static_cast<float>(-lr / bc1);
        at::parallel_for(0, p.numel(), 16384, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            const float gi = gp[i];
            // ATen's operation order: add_ = fma(g, alpha, self), addcmul_ = self +
            // (value * t1) * t2, addcdiv_ = self + (value * t1) / t2.
            const float mi = std::fma(gi, a1, mp[i] * b1);
            const float vi = vp[i] * b2 + (a2 * gi) * gi;
            mp[i] = mi;
            vp[i] = vi;
            pp[i] = pp[i] + (step * mi) / (std::sqrt(vi) / sbc2 + eps);
          }
        });
      } else {
        m.mul_(beta1).add_(g, 1 - beta1);
        v.mul_(beta2).addcmul_(g, g, 1 - beta2);
        p.addcdiv_(m, (v.sqrt() / std::sqrt(bc2)).add_(o.eps()), -lr / bc1);
      }
      if (release_grads_) p.mutable_grad() = torch::Tensor();
    }
  }
  return loss;
}

namespace {

OptimizerRegistry build_optimizer_registry() {
  OptimizerRegistry reg("optimizer");
  reg.add(
      "adam",
      [](std::vector<torch::Tensor> params, const OptimizerOptions& o) -> OptimizerPtr {
        auto opts = torch::optim::AdamOptions(o.lr)
                        .betas(std::make_tuple(o.beta1, o.beta2))
                        .eps(o.eps)
                        .weight_decay(o.weight_decay);
        return std::make_shared<FusedAdam>(std::move(params), opts, o.release_grads);
      },
      "Adam (lr, beta1, beta2, eps, weight_decay as L2)");
  reg.add(
      "adamw",
      [](std::vector<torch::Tensor> params, const OptimizerOptions& o) -> OptimizerPtr {
        auto opts = torch::optim::AdamWOptions(o.lr)
                        .betas(std::make_tuple(o.beta1, o.beta2))
                        .eps(o.eps)
                        .weight_decay(o.weight_decay);
        return std::make_shared<torch::optim::AdamW>(std::move(params), opts);
      },
      "AdamW (lr, beta1, beta2, eps, decoupled weight_decay)");
  reg.add(
      "sgd",
      [](std::vector<torch::Tensor> params, const OptimizerOptions& o) -> OptimizerPtr {
        auto opts = torch::optim::SGDOptions(o.lr)
                        .momentum(o.momentum)
                        .nesterov(o.nesterov)
                        .weight_decay(o.weight_decay);
        return std::make_shared<torch::optim::SGD>(std::move(params), opts);
      },
      "SGD (lr, momentum, nesterov, weight_decay)");
  reg.add(
      "rmsprop",
      [](std::vector<torch::Tensor> params, const OptimizerOptions& o) -> OptimizerPtr {
        auto opts = torch::optim::RMSpropOptions(o.lr)
                        .alpha(o.alpha)
                        .eps(o.eps)
                        .momentum(o.momentum)
                        .weight_decay(o.weight_decay);
        return std::make_shared<torch::optim::RMSprop>(std::move(params), opts);
      },
      "RMSprop (lr, alpha, eps, momentum, weight_decay)");
  return reg;
}

}  // namespace

const OptimizerRegistry& optimizer_registry() {
  static const OptimizerRegistry reg = build_optimizer_registry();
  return reg;
}

OptimizerPtr make_optimizer(std::vector<torch::Tensor> params, const OptimizerOptions& options) {
  if (!optimizer_registry().contains(options.name)) {
    // The registry's message lists the known names.
    return optimizer_registry().create(options.name, std::move(params), options);
  }
  options.validate("optimizer '" + options.name + "'");
  EMGAN_CHECK(ConfigError, !params.empty(), "optimizer '", options.name,
              "': no parameters to optimise (empty parameter list)");
  return optimizer_registry().create(options.name, std::move(params), options);
}

double get_lr(const torch::optim::Optimizer& optimizer, size_t group) {
  const auto& groups = optimizer.param_groups();
  EMGAN_CHECK(ConfigError, group < groups.size(), "optimizer has ", groups.size(),
              " param group(s); group ", group, " does not exist");
  return groups[group].options().get_lr();
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// --- schedules ---------------------------------------------------------------------

void ScheduleOptions::validate(const std::string& source) const {
  check_choice(source + ".name", name, schedule_registry().names());
  check_choice(source + ".unit", unit, {"epoch", "step"});
  EMGAN_CHECK(ConfigError, warmup >= 0, source, ".warmup = ", warmup, " must be >= 0");
  EMGAN_CHECK(ConfigError, n_constant >= 0, source, ".n_constant = ", n_constant, " must be >= 0");
  EMGAN_CHECK(ConfigError, n_decay >= 0, source, ".n_decay = ", n_decay, " must be >= 0");
  EMGAN_CHECK(ConfigError, step_size >= 1, source, ".step_size = ", step_size, " must be >= 1");
  EMGAN_CHECK(ConfigError, gamma > 0 && gamma <= 1, source, ".gamma = ", gamma, " must be in (0, 1]");
  EMGAN_CHECK(ConfigError, t_max >= 1, source, ".t_max = ", t_max, " must be >= 1");
  EMGAN_CHECK(ConfigError, min_lr >= 0, source, ".min_lr = ", min_lr, " must be >= 0");
}

namespace {

ScheduleRegistry build_schedule_registry() {
  ScheduleRegistry reg("schedule");
  reg.add(
      "constant", [](const ScheduleOptions&) -> ScheduleFn { return [](double base, int64_t) { return base; }; },
      "the base lr throughout");
  reg.add(
      "linear",
      [](const ScheduleOptions& o) -> ScheduleFn {
        const double n = static_cast<double>(o.n_constant);
        const double m = static_cast<double>(o.n_decay);
        return [n, m](double base, int64_t t) {
          const double f = 1.0 - std::max(0.0, static_cast<double>(t) + 1.0 - n) / (m + 1.0);
          return base * std::max(0.0, f);
        };
      },
      "pix2pix: base lr for n_constant units, then linear decay to 0 over n_decay");
  reg.add(
      "step",
      [](const ScheduleOptions& o) -> ScheduleFn {
        const int64_t k = o.step_size;
        const double gamma = o.gamma;
        return [k, gamma](double base, int64_t t) {
          return base * std::pow(gamma, static_cast<double>(std::max<int64_t>(t, 0) / k));
        };
      },
      "lr *= gamma every step_size units");
  reg.add(
      "cosine",
      [](const ScheduleOptions& o) -> ScheduleFn {
        const double tmax = static_cast<double>(o.t_max);
        const double min_lr = o.min_lr;
        return [tmax, min_lr](double base, int64_t t) {
          const double tt = std::min(std::max(static_cast<double>(t), 0.0), tmax);
          return min_lr + (base - min_lr) * 0.5 * (1.0 + std::cos(M_PI * tt / tmax));
        };
      },
      "half cosine from the base lr to min_lr over t_max units");
  return reg;
}

}  // namespace

const ScheduleRegistry& schedule_registry() {
  static const ScheduleRegistry reg = build_schedule_registry();
  return reg;
}

double schedule_lr(const ScheduleOptions& options, double base_lr, int64_t t) {
  double lr = schedule_registry().create(options.name, options)(base_lr, t);
  if (options.warmup > 0 && t < options.warmup) {
    lr *= static_cast<double>(std::max<int64_t>(t, 0) + 1) / static_cast<double>(options.warmup + 1);
  }
  return lr;
}

LrScheduler::LrScheduler(OptimizerPtr optimizer, ScheduleOptions options)
    : optimizer_(std::move(optimizer)), options_(std::move(options)) {
  EMGAN_CHECK(ConfigError, optimizer_ != nullptr, "schedule '", options_.name,
              "': no optimizer given");
  options_.validate("schedule '" + options_.name + "'");
  for (const auto& group : optimizer_->param_groups()) base_lrs_.push_back(group.options().get_lr());
}

void LrScheduler::apply(int64_t step, int64_t epoch) {
  const int64_t t = options_.unit == "step" ? step : epoch;
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size() && i < base_lrs_.size(); ++i) {
    groups[i].options().set_lr(schedule_lr(options_, base_lrs_[i], t));
  }
  last_t_ = t;
}

double LrScheduler::lr() const { return get_lr(*optimizer_, 0); }

Json LrScheduler::state() const {
  return Json{{"options", Json(options_)}, {"base_lrs", base_lrs_}, {"last_t", last_t_}};
}

void LrScheduler::load_state(const Json& state, const std::string& source) {
  try {
    auto base = state.at("base_lrs").get<std::vector<double>>();
    EMGAN_CHECK(ConfigError, base.size() == optimizer_->param_groups().size(), source,
                ": schedule state has ", base.size(), " base lr(s) but the optimizer has ",
                optimizer_->param_groups().size(), " param group(s)");
    base_lrs_ = std::move(base);
    last_t_ = state.at("last_t").get<int64_t>();
  } catch (const Json::exception& e) {
    throw ConfigError(source + ": malformed schedule state (" + e.what() + ")");
  }
}

// --- EMA ---------------------------------------------------------------------------

namespace {

void check_same_layout(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.named_parameters(true);
  auto pb = b.named_parameters(true);
  auto ba = a.named_buffers(true);
  auto bb = b.named_buffers(true);
  EMGAN_CHECK(ConfigError, pa.size() == pb.size() && ba.size() == bb.size(),
              "EMA: the copy has ", pb.size(), " parameters and ", bb.size(),
              " buffers but the source has ", pa.size(), " and ", ba.size(),
              " (expected the same architecture)");
  for (const auto& item : pa) {
    const auto* other = pb.find(item.key());
    EMGAN_CHECK(ConfigError, other != nullptr && other->sizes() == item.value().sizes(),
                "EMA: parameter '", item.key(), "' of shape ", item.value().sizes(),
                " has no counterpart of that shape in the copy");
  }
}

}  // namespace

Ema::Ema(std::shared_ptr<torch::nn::Module> source, std::shared_ptr<torch::nn::Module> copy,
         double decay)
    : source_(std::move(source)), copy_(std::move(copy)), decay_(decay) {
  EMGAN_CHECK(ConfigError, source_ && copy_, "EMA: source and copy modules must be given");
  EMGAN_CHECK(ConfigError, decay_ >= 0 && decay_ < 1, "EMA decay = ", decay_, " must be in [0, 1)");
  check_same_layout(*source_, *copy_);
  // The average starts at the source's current values.
  torch::NoGradGuard guard;
  auto src = source_->named_parameters(true);
  auto dst = copy_->named_parameters(true);
  for (const auto& item : src) {
    auto& d = dst[item.key()];
    if (d.device() != item.value().device()) d.set_data(item.value().detach().clone());
    d.copy_(item.value());
    d.set_requires_grad(false);
  }
  auto sb = source_->named_buffers(true);
  auto db = copy_->named_buffers(true);
  for (const auto& item : sb) {
    auto& d = db[item.key()];
    if (d.device() != item.value().device()) d.set_data(item.value().detach().clone());
    d.copy_(item.value());
  }
  copy_->eval();
}

std::shared_ptr<Ema> Ema::from_clone(std::shared_ptr<torch::nn::Module> source, double decay) {
  EMGAN_CHECK(ConfigError, source != nullptr, "EMA: no source module given");
  std::shared_ptr<torch::nn::Module> copy;
  try {
    copy = source->clone();
  } catch (const c10::Error& e) {
    throw ConfigError("EMA: module '" + source->name() +
                      "' cannot be cloned (not a torch::nn::Cloneable); pass an explicit copy");
  }
  return std::make_shared<Ema>(std::move(source), std::move(copy), decay);
}

void Ema::update() {
  torch::NoGradGuard guard;
  auto src = source_->named_parameters(true);
  auto dst = copy_->named_parameters(true);
  for (const auto& item : src) {
    dst[item.key()].mul_(decay_).add_(item.value().detach(), 1.0 - decay_);
  }
  auto sb = source_->named_buffers(true);
  auto db = copy_->named_buffers(true);
  for (const auto& item : sb) db[item.key()].copy_(item.value());
  ++num_updates_;
}

void Ema::copy_to(torch::nn::Module& target) const {
  if (&target == copy_.get()) return;
  torch::NoGradGuard guard;
  auto src = copy_->named_parameters(true);
  auto dst = target.named_parameters(true);
  for (const auto& item : src) {
    auto* d = dst.find(item.key());
    EMGAN_CHECK(ConfigError, d != nullptr, "EMA: target module has no parameter '", item.key(), "'");
    d->copy_(item.value());
  }
  auto sb = copy_->named_buffers(true);
  auto db = target.named_buffers(true);
  for (const auto& item : sb) {
    auto* d = db.find(item.key());
    EMGAN_CHECK(ConfigError, d != nullptr, "EMA: target module has no buffer '", item.key(), "'");
    d->copy_(item.value());
  }
}

void Ema::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive weights(archive.compilation_unit());
  copy_->save(weights);
  archive.write("module", weights);
  archive.write("num_updates", torch::tensor(num_updates_, torch::kInt64));
  archive.write("decay", torch::tensor(decay_, torch::kFloat64));
}

void Ema::load(torch::serialize::InputArchive& archive, const std::string& where) {
  torch::serialize::InputArchive weights;
  EMGAN_CHECK(IoError, archive.try_read("module", weights), where, ": no averaged module stored");
  load_module_checked(*copy_, weights, where);
  torch::Tensor n;
  EMGAN_CHECK(IoError, archive.try_read("num_updates", n), where, ": no update count stored");
  num_updates_ = n.item<int64_t>();
  for (auto& p : copy_->parameters(true)) p.set_requires_grad(false);
}

EmaSwap::EmaSwap(const Ema& ema) : source_(ema.source()) {
  torch::NoGradGuard guard;
  for (const auto& p : source_->parameters(true)) saved_.push_back(p.detach().clone());
  for (const auto& b : source_->buffers(true)) saved_.push_back(b.detach().clone());
  ema.copy_to(*source_);
}

EmaSwap::~EmaSwap() {
  torch::NoGradGuard guard;
  size_t i = 0;
  for (auto& p : source_->parameters(true)) p.copy_(saved_[i++]);
  for (auto& b : source_->buffers(true)) b.copy_(saved_[i++]);
}

}  // namespace emgan::train
