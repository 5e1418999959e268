#include "core/train/balance.h"

#include <stdexcept>

namespace avqa::train {

const std::vector<BalanceMethod>& balance_methods() {
  static const std::vector<BalanceMethod> all = {BalanceMethod::None,
                                                 BalanceMethod::Ogm,
                                                 BalanceMethod::OgmGe,
                                                 BalanceMethod::Opm,
                                                 BalanceMethod::TpamiOgm,
                                                 BalanceMethod::MmPareto,
                                                 BalanceMethod::Relearn,
                                                 BalanceMethod::ValuationSample,
                                                 BalanceMethod::ValuationModality};
  return all;
}

const char* to_string(BalanceMethod method) {
  switch (method) {
    case BalanceMethod::None:
      return "none";
    case BalanceMethod::Ogm:
      return "ogm";
    case BalanceMethod::OgmGe:
      return "ogm-ge";
    case BalanceMethod::Opm:
      return "opm";
    case BalanceMethod::TpamiOgm:
      return "tpami-ogm";
    case BalanceMethod::MmPareto:
      return "mmpareto";
    case BalanceMethod::Relearn:
      return "relearn";
    case BalanceMethod::ValuationSample:
      return "valuation-sample";
    case BalanceMethod::ValuationModality:
      return "valuation-modality";
  }
  return "?";
}

BalanceMethod parse_balance_method(const std::string& name) {
  std::string known;
  for (const BalanceMethod m : balance_methods()) {
    if (name == to_string(m)) return m;
    known += std::string(known.empty() ? "" : ", ") + to_string(m);
  }
  throw std::invalid_argument("unknown balance method '" + name + "' (" + known + ")");
}

std::vector<std::shared_ptr<Hook>> make_balance_hooks(const BalanceOptions& o) {
  GradientModulationOptions modulation;
  modulation.alpha = o.ogm_alpha;
  modulation.first_epoch = o.ogm_first_epoch;
  modulation.last_epoch = o.ogm_last_epoch;
  switch (o.method) {
    case BalanceMethod::None:
      return {};
    case BalanceMethod::Ogm:
      modulation.noise = false;
      return {std::make_shared<GradientModulation>(modulation, "ogm")};
    case BalanceMethod::OgmGe:
      return {std::make_shared<GradientModulation>(modulation, "ogm-ge")};
    case BalanceMethod::TpamiOgm:
      modulation.warmup_epochs = o.warmup_epochs;
      return {std::make_shared<GradientModulation>(modulation, "tpami-ogm")};
    case BalanceMethod::Opm:
      return {std::make_shared<ModalityDropout>(
          ModalityDropoutOptions{o.opm_q_base, o.opm_lambda, o.opm_p_exe, o.warmup_epochs})};
    case BalanceMethod::MmPareto:
      return {std::make_shared<ParetoGradients>(ParetoGradientOptions{o.pareto_scale})};
    case BalanceMethod::Relearn:
      return {std::make_shared<Relearning>(
          RelearningOptions{o.relearn_lambda, o.relearn_every, o.relearn_times})};
    case BalanceMethod::ValuationSample:
    case BalanceMethod::ValuationModality:
      return {std::make_shared<Valuation>(
          ValuationOptions{o.method == BalanceMethod::ValuationSample ? ValuationLevel::Sample
                                                                      : ValuationLevel::Modality,
                           o.warmup_epochs, o.valuation_part_ratio, o.valuation_alpha})};
  }
  throw std::logic_error("unknown balance method");
}

}  // namespace avqa::train
