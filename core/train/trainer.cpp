#include "core/train/trainer.h"

#include <chrono>
#include <cmath>
#include <future>
#include <numeric>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "core/train/diagnostics.h"

namespace avqa::train {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

double step_lr(const TrainerOptions& o, int epoch) {  // epoch 1-based, as scheduler.step(epoch)
  return o.learning_rate * std::pow(o.lr_gamma, (epoch - 1) / o.lr_step);
}

// Fisher-Yates from the back with mt19937_64: the order ST-AVQA's trainer has always used, so
// runs made before the training core existed repeat exactly.
void shuffle(std::vector<PlannedSample>& plan, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = plan.size(); i > 1; --i)
    std::swap(plan[i - 1], plan[rng() % i]);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainerOptions& o,
                                                        std::vector<at::Tensor> parameters) {
  switch (o.optimizer) {
    case OptimizerKind::Adam:
      return std::make_unique<torch::optim::Adam>(
          std::move(parameters),
          torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
    case OptimizerKind::AdamW:
      return std::make_unique<torch::optim::AdamW>(
          std::move(parameters),
          torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
    case OptimizerKind::Sgd:
      return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                                 torch::optim::SGDOptions(o.learning_rate)
                                                     .momentum(o.momentum)
                                                     .weight_decay(o.weight_decay));
  }
  throw std::logic_error("unknown optimiser");
}

}  // namespace

void apply_zeroed(const Batch& batch, Encoded& encoded) {
  if (batch.zeroed.empty()) return;
  for (std::size_t m = 0; m < encoded.features.size(); ++m) {
    std::vector<float> keep(batch.zeroed.size(), 1.f);
    bool any = false;
    for (std::size_t i = 0; i < keep.size(); ++i) {
      if (batch.zeroed[i] == static_cast<int>(m)) keep[i] = 0.f, any = true;
    }
    if (!any) continue;
    auto& f = encoded.features[m];
    auto mask = torch::tensor(keep).to(f.dtype());
    std::vector<std::int64_t> shape(static_cast<std::size_t>(f.dim()), 1);
    shape[0] = f.size(0);
    f = f * mask.view(shape);
  }
}

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "adam") return OptimizerKind::Adam;
  if (name == "adamw") return OptimizerKind::AdamW;
  if (name == "sgd") return OptimizerKind::Sgd;
  throw std::invalid_argument("unknown optimiser '" + name + "' (adam, adamw, sgd)");
}

const char* to_string(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::Adam:
      return "adam";
    case OptimizerKind::AdamW:
      return "adamw";
    case OptimizerKind::Sgd:
      return "sgd";
  }
  return "?";
}

json Hook::state() const {
  return json::object();
}

void Hook::restore(const json&) {}

const at::Tensor& StepContext::unimodal(std::size_t m, bool with_graph) {
  auto& cache = with_graph ? unimodal_graph_ : unimodal_;
  if (cache.size() != encoded.features.size()) cache.assign(encoded.features.size(), {});
  if (!cache[m].defined()) {
    if (with_graph) {
      cache[m] = fit.model.unimodal_logits(encoded, m);
    } else {
      const torch::NoGradGuard no_grad;
      Encoded detached = encoded;
      for (auto& f : detached.features)
        f = f.detach();
      cache[m] = fit.model.unimodal_logits(detached, m);
    }
    if (keep.defined()) cache[m] = cache[m].index_select(0, keep);
  }
  return cache[m];
}

void StepContext::forget_unimodal() {
  unimodal_.clear();
  unimodal_graph_.clear();
}

double StepContext::score(std::size_t m) {
  const auto& logits_m = unimodal(m);
  return torch::softmax(logits_m, 1).gather(1, labels.unsqueeze(1)).sum().item<double>();
}

FitReport fit(ModalityModel& model,
              const TrainingData& train_data,
              const TrainingData& val_data,
              const TrainerOptions& o,
              const std::vector<std::shared_ptr<Hook>>& hooks) {
  if (o.epochs <= 0 || o.batch <= 0 || o.learning_rate <= 0 || o.lr_step <= 0)
    throw std::invalid_argument("epochs, batch, learning rate and lr step must be positive");
  if (train_data.size() == 0) throw std::invalid_argument("the training split is empty");
  fs::create_directories(o.out);
  const fs::path state_file = o.out / "state.json";
  if (o.resume && !fs::exists(state_file))
    throw core::InputError({state_file.string(), std::nullopt, ""}, "no run to resume here");

  const auto modalities = model.modalities();
  std::vector<std::vector<at::Tensor>> groups;
  for (std::size_t m = 0; m < modalities.size(); ++m)
    groups.push_back(model.encoder_parameters(m));
  auto optimizer = make_optimizer(o, model.parameters());
  FitContext context{model, *optimizer, o, train_data, val_data, groups};

  FitReport report;
  int start_epoch = 1;
  if (o.resume) {
    const json state = json::parse(core::read_text_file(state_file));
    const int done = state.at("epoch").get<int>();
    model.load(o.out / ("epoch-" + std::to_string(done) + ".pt"));
    const fs::path optim = o.out / ("epoch-" + std::to_string(done) + ".optim");
    checkpoint::require_sound_archive(optim);  // before LibTorch's own archive reader sees it
    torch::load(*optimizer, optim.string());
    report.best_val_accuracy = state.at("best_val_accuracy").get<double>();
    report.best_epoch = state.at("best_epoch").get<int>();
    const json& metrics = state.at("metrics");
    for (std::size_t i = 0; i < metrics.size(); ++i)
      report.epochs.push_back(epoch_metrics_from_json(metrics[i], state_file, i));
    if (state.contains("hooks")) {
      for (const auto& hook : hooks) {
        if (state["hooks"].contains(hook->name())) hook->restore(state["hooks"][hook->name()]);
      }
    }
    start_epoch = done + 1;
    context.resumed = true;
  }
  for (const auto& hook : hooks)
    hook->on_fit_start(context);

  for (int epoch = start_epoch; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    context.epoch = epoch;
    torch::manual_seed(
        static_cast<std::int64_t>(o.seed * 1000003 + static_cast<std::uint64_t>(epoch)));
    const double lr = step_lr(o, epoch);
    for (auto& group : optimizer->param_groups())
      group.options().set_lr(lr);
    std::vector<PlannedSample> plan(train_data.size());
    for (std::size_t i = 0; i < plan.size(); ++i)
      plan[i].index = i;
    for (const auto& hook : hooks)
      hook->on_epoch_start(context, plan);
    shuffle(plan, o.seed * 7919 + static_cast<std::uint64_t>(epoch));
    const std::size_t batch = static_cast<std::size_t>(o.batch);
    const std::size_t steps = (plan.size() + batch - 1) / batch;
    auto batch_at = [&](std::size_t step) {
      std::vector<std::size_t> indices;
      std::vector<int> zeroed;
      bool any_zeroed = false;
      for (std::size_t i = step * batch; i < std::min(plan.size(), (step + 1) * batch); ++i) {
        indices.push_back(plan[i].index);
        zeroed.push_back(plan[i].zeroed);
        any_zeroed = any_zeroed || plan[i].zeroed >= 0;
      }
      Batch b = train_data.load(indices, true,
                                o.seed * 31 + static_cast<std::uint64_t>(epoch) * 100003 + step);
      b.indices = indices;
      if (any_zeroed) b.zeroed = std::move(zeroed);
      return b;
    };
    model.set_training(true);
    core::ProgressLine progress("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs),
                                steps, "batches");
    double loss_sum = 0, ratio_sum = 0;
    std::size_t correct = 0, seen = 0, ratio_steps = 0;
    FeatureBank train_features(modalities.size());
    std::future<Batch> next = std::async(std::launch::async, batch_at, 0);  // prefetch
    for (std::size_t step = 0; step < steps; ++step) {
      StepContext s{context, step, next.get()};
      if (step + 1 < steps) next = std::async(std::launch::async, batch_at, step + 1);
      for (const auto& hook : hooks)
        hook->on_batch(s);
      s.encoded = model.encode(s.batch);
      // The probes learn from what the encoders make, before any method zeroes or drops.
      if (o.diagnostics && modalities.size() >= 2) train_features.add(s.encoded, s.batch.labels);
      apply_zeroed(s.batch, s.encoded);
      s.labels = s.batch.labels;
      for (const auto& hook : hooks)
        hook->on_features(s);
      s.forget_unimodal();
      s.logits = model.fuse(s.encoded);
      if (s.keep.defined()) {
        s.logits = s.logits.index_select(0, s.keep);
        s.labels = s.labels.index_select(0, s.keep);
      }
      if (s.labels.size(0) == 0) continue;  // a method dropped every sample: no step
      s.losses.emplace_back("task", model.loss(s.logits, s.labels, s.encoded, s.batch));
      for (const auto& hook : hooks)
        hook->on_loss(s);
      at::Tensor total = s.losses.front().second;
      for (std::size_t i = 1; i < s.losses.size(); ++i)
        total = total + s.losses[i].second;
      const double value = total.item<double>();
      if (!std::isfinite(value)) {
        throw std::runtime_error("the loss became " + std::to_string(value) + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(step + 1) +
                                 "; stopped, the last checkpoint in " + o.out.string() +
                                 " is intact");
      }
      optimizer->zero_grad();
      bool backward_done = false;
      for (const auto& hook : hooks)
        backward_done = hook->on_backward(s) || backward_done;
      if (!backward_done) total.backward();
      for (const auto& hook : hooks)
        hook->on_after_backward(s);
      optimizer->step();

      const auto rows = static_cast<std::size_t>(s.labels.size(0));
      loss_sum += s.losses.front().second.item<double>() * static_cast<double>(rows);
      correct +=
          static_cast<std::size_t>((s.logits.argmax(1) == s.labels).sum().item<std::int64_t>());
      seen += rows;
      if (o.diagnostics && modalities.size() >= 2) {
        const double s0 = s.score(0), s1 = s.score(1);
        if (s1 > 0) ratio_sum += s0 / s1, ++ratio_steps;
      }
      if (o.progress)
        progress.update(
            step + 1, "loss " + std::to_string(loss_sum / static_cast<double>(seen)).substr(0, 6));
    }
    if (o.progress) progress.finish();
    for (const auto& hook : hooks)
      hook->on_epoch_end(context);

    EpochMetrics m;
    m.epoch = epoch;
    m.learning_rate = lr;
    m.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0;
    m.train_accuracy = seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0;
    const Validation val = validate(model, val_data, o.batch, o.diagnostics);
    m.val_accuracy = val.accuracy;
    if (o.diagnostics && modalities.size() >= 2) {
      if (ratio_steps > 0) m.score_ratio = ratio_sum / static_cast<double>(ratio_steps);
      for (std::size_t k = 0; k < modalities.size(); ++k) {
        m.modalities.push_back({modalities[k], val.unimodal_accuracy[k],
                                probe_accuracy(train_features, val.features, k, o.seed),
                                val.contribution[k]});
      }
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.epochs.push_back(m);

    // Checkpoint: files of this epoch first, then state.json naming it, then old files go.
    const std::string tag = "epoch-" + std::to_string(epoch);
    model.save(o.out / (tag + ".pt"));
    const fs::path optim_temp = o.out / (tag + ".optim.tmp");
    torch::save(*optimizer, optim_temp.string());
    fs::rename(optim_temp, o.out / (tag + ".optim"));
    if (m.val_accuracy >= report.best_val_accuracy) {  // ties move to the later epoch
      report.best_val_accuracy = m.val_accuracy;
      report.best_epoch = epoch;
      model.save(o.out / "best.pt");
    }
    json metrics = json::array();
    std::string lines;
    for (const auto& e : report.epochs) {
      const json line = to_json(e);
      metrics.push_back(line);
      lines += line.dump() + "\n";
    }
    json hook_state = json::object();
    for (const auto& hook : hooks)
      hook_state[hook->name()] = hook->state();
    core::write_file_atomically(o.out / "metrics.jsonl", lines);
    core::write_file_atomically(state_file, json{{"epoch", epoch},
                                                 {"best_val_accuracy", report.best_val_accuracy},
                                                 {"best_epoch", report.best_epoch},
                                                 {"metrics", metrics},
                                                 {"hooks", hook_state}}
                                                    .dump(2) +
                                                "\n");
    if (epoch > 1) {
      std::error_code ec;
      fs::remove(o.out / ("epoch-" + std::to_string(epoch - 1) + ".pt"), ec);
      fs::remove(o.out / ("epoch-" + std::to_string(epoch - 1) + ".optim"), ec);
    }
    if (o.progress) std::fprintf(stderr, "%s\n", describe(m).c_str());
  }
  report.best_model = o.out / "best.pt";
  return report;
}

}  // namespace avqa::train
