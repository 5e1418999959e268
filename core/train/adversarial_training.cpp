#include "core/train/adversarial_training.h"

#include <stdexcept>

namespace avqa::train {

void validate_robust_training(const RobustTrainingOptions& o) {
  if (o.robust != "none" && o.robust != "adv")
    throw std::invalid_argument("--robust: unknown method '" + o.robust + "' (none, adv)");
  parse_attack_norm(o.robust_norm);
  if (!(o.robust_radius >= 0)) throw std::invalid_argument("--robust-radius must be >= 0");
  if (o.robust_steps < 1) throw std::invalid_argument("--robust-steps must be at least 1");
}

void AdversarialTraining::on_fit_start(FitContext& fit) {
  options_.modalities.clear();
  for (std::size_t m = 0; m < fit.model.modalities().size(); ++m)
    options_.modalities.push_back(m);
}

void AdversarialTraining::on_batch(StepContext& step) {
  step.batch = attack(step.fit.model, step.batch, options_);
}

std::vector<std::shared_ptr<Hook>> make_robust_hooks(const RobustTrainingOptions& o) {
  validate_robust_training(o);
  if (o.robust == "none") return {};
  AttackOptions a;
  a.norm = parse_attack_norm(o.robust_norm);
  a.radius = o.robust_radius;
  a.steps = o.robust_steps;
  a.relative = true;
  a.joint = true;
  return {std::make_shared<AdversarialTraining>(a)};
}

}  // namespace avqa::train
