#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/train/gradient_modulation.h"
#include "core/train/modality_dropout.h"
#include "core/train/pareto_gradients.h"
#include "core/train/relearning.h"
#include "core/train/trainer.h"
#include "core/train/valuation.h"

// The balanced-learning methods by name (`avqa train --balance ...`), with every
// hyperparameter in one struct that run.json records.
namespace avqa::train {

enum class BalanceMethod {
  None,
  Ogm,
  OgmGe,
  Opm,
  TpamiOgm,
  MmPareto,
  Relearn,
  ValuationSample,
  ValuationModality
};

/// "none", "ogm", "ogm-ge", "opm", "tpami-ogm", "mmpareto", "relearn", "valuation-sample",
/// "valuation-modality"; throws std::invalid_argument listing them.
BalanceMethod parse_balance_method(const std::string& name);
const char* to_string(BalanceMethod method);
/// Every method, in the order above.
const std::vector<BalanceMethod>& balance_methods();

struct BalanceOptions {
  BalanceMethod method = BalanceMethod::None;
  /// OGM, OGM-GE and TPAMI OGM (the OGM-GE README: 0.1 for VGGSound, 0.8 for CREMA-D; the TPAMI
  /// code's default 1.0)
  double ogm_alpha = 0.1;
  int ogm_first_epoch = 1;  ///< modulation window, 1-based inclusive
  int ogm_last_epoch = 50;
  int warmup_epochs = 5;  ///< OPM, TPAMI OGM, valuation
  double opm_q_base = 0.5;
  double opm_lambda = 0.5;
  double opm_p_exe = 0.7;
  double pareto_scale = 1.5;
  double relearn_lambda = 3;
  int relearn_every = 20;
  int relearn_times = 3;
  double valuation_part_ratio = 0.2;
  double valuation_alpha = 1;
};

/// The hooks that run `options.method` (none for None).
std::vector<std::shared_ptr<Hook>> make_balance_hooks(const BalanceOptions& options);

}  // namespace avqa::train
