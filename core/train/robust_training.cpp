#include "core/train/robust_training.h"

#include <algorithm>
#include <stdexcept>

#include <torch/torch.h>

#include "core/train/crmt.h"

namespace avqa::train {

std::vector<std::string> parse_robust_modalities(const std::string& list) {
  std::vector<std::string> names;
  if (list.empty()) return names;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    const std::string name =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name.empty())
      throw std::invalid_argument("--robust-modalities: empty name in '" + list + "'");
    if (std::find(names.begin(), names.end(), name) != names.end())
      throw std::invalid_argument("--robust-modalities: '" + name + "' given twice");
    names.push_back(name);
    if (comma == std::string::npos) return names;
    start = comma + 1;
  }
}

void validate_robust_training(const RobustTrainingOptions& o) {
  static const std::vector<std::string> methods{"none", "adv", "crmt", "crmt-at", "crmt-mix"};
  if (std::find(methods.begin(), methods.end(), o.robust) == methods.end()) {
    throw std::invalid_argument("--robust: unknown method '" + o.robust +
                                "' (none, adv, crmt, crmt-at, crmt-mix)");
  }
  if (!(o.crmt_rho >= 0)) throw std::invalid_argument("--crmt-rho must be >= 0");
  if (o.crmt_epochs < 0) throw std::invalid_argument("--crmt-epochs must be >= 0");
  if (o.crmt_lipschitz_samples < 1)
    throw std::invalid_argument("--crmt-lipschitz-samples must be at least 1");
  parse_attack_norm(o.robust_norm);
  if (!(o.robust_radius >= 0)) throw std::invalid_argument("--robust-radius must be >= 0");
  if (o.robust_steps < 1) throw std::invalid_argument("--robust-steps must be at least 1");
  if (!(o.robust_share > 0 && o.robust_share <= 1))
    throw std::invalid_argument("--robust-share must be in (0, 1]");
  if (!(o.robust_clean_weight >= 0))
    throw std::invalid_argument("--robust-clean-weight must be >= 0");
  if (o.robust_ball != "joint" && o.robust_ball != "per-modality")
    throw std::invalid_argument("--robust-ball: unknown ball '" + o.robust_ball +
                                "' (joint, per-modality)");
  parse_robust_modalities(o.robust_modalities);
}

void AdversarialTraining::on_fit_start(FitContext& fit) {
  const std::vector<std::string> names = fit.model.modalities();
  options_.modalities.clear();
  for (std::size_t m = 0; m < names.size(); ++m) {
    if (modality_names_.empty() || std::find(modality_names_.begin(), modality_names_.end(),
                                             names[m]) != modality_names_.end())
      options_.modalities.push_back(m);
  }
  for (const std::string& name : modality_names_) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known;
      for (const std::string& n : names)
        known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("--robust-modalities: the model has no modality '" + name +
                                  "' (" + known + ")");
    }
  }
}

void AdversarialTraining::on_batch(StepContext& step) {
  Batch attacked = attack(step.fit.model, step.batch, options_);
  if (share_ < 1) {
    const std::int64_t n = step.batch.size();
    auto g = at::detail::createCPUGenerator(step.fit.options.seed * 1000003 +
                                            static_cast<std::uint64_t>(step.fit.epoch) * 100003 +
                                            step.step);
    const at::Tensor chosen = torch::rand({n}, g) < share_;
    for (const std::size_t m : options_.modalities) {
      std::vector<std::int64_t> shape(attacked.inputs[m].dim(), 1);
      shape[0] = n;
      attacked.inputs[m] =
          torch::where(chosen.view(shape), attacked.inputs[m], step.batch.inputs[m]);
    }
  }
  if (clean_weight_ > 0) clean_ = std::move(step.batch);
  step.batch = std::move(attacked);
}

void AdversarialTraining::on_loss(StepContext& step) {
  if (clean_weight_ <= 0) return;
  ModalityModel& model = step.fit.model;
  Encoded encoded = model.encode(clean_);
  apply_zeroed(clean_, encoded);
  at::Tensor logits = model.fuse(encoded);
  at::Tensor labels = clean_.labels;
  if (step.keep.defined()) {  // the rows another method kept of the attacked batch
    logits = logits.index_select(0, step.keep);
    labels = labels.index_select(0, step.keep);
  }
  step.losses.emplace_back("clean", clean_weight_ * model.loss(logits, labels, encoded, clean_));
  clean_ = Batch();
}

std::vector<std::shared_ptr<Hook>> make_robust_hooks(const RobustTrainingOptions& o) {
  validate_robust_training(o);
  std::vector<std::shared_ptr<Hook>> hooks;
  if (o.certified())
    hooks.push_back(std::make_shared<CrmtTraining>(o.crmt_rho, o.robust == "crmt-mix"));
  if (o.robust != "adv" && o.robust != "crmt-at") return hooks;
  AttackOptions a;
  a.norm = parse_attack_norm(o.robust_norm);
  a.radius = o.robust_radius;
  a.steps = o.robust_steps;
  a.relative = true;
  a.joint = o.robust_ball == "joint";
  // Before the CRMT hook: it reads the batch the attack made.
  hooks.insert(hooks.begin(),
               std::make_shared<AdversarialTraining>(a, o.robust_share, o.robust_clean_weight,
                                                     parse_robust_modalities(o.robust_modalities)));
  return hooks;
}

}  // namespace avqa::train
