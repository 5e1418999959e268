#include "core/train/crmt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/atomic_file.h"
#include "core/progress_line.h"

namespace avqa::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// Per input n and class c, sum_m |a_{m,c}| Lip[m][n][c]: [N, C] in lip's dtype.
at::Tensor weighted_lipschitz(const at::Tensor& integration, const at::Tensor& lipschitz) {
  const at::Tensor a = integration.abs().to(lipschitz.scalar_type());  // [M, C]
  return (a.unsqueeze(1) * lipschitz).sum(0);
}

void check_lipschitz(const CrmtHeadImpl& head, const at::Tensor& lipschitz, std::int64_t classes) {
  const auto m = static_cast<std::int64_t>(head.modalities());
  if (lipschitz.dim() != 3 || lipschitz.size(0) != m || lipschitz.size(1) != m ||
      lipschitz.size(2) != classes) {
    throw std::invalid_argument("CRMT: Lipschitz constants must be [" + std::to_string(m) + ", " +
                                std::to_string(m) + ", " + std::to_string(classes) + "]");
  }
}

}  // namespace

CrmtHeadImpl::CrmtHeadImpl(const CrmtHeadOptions& o) {
  if (o.widths.empty() || o.classes < 2)
    throw std::invalid_argument("CRMT head: needs at least one modality and two classes");
  const std::int64_t fan_in = std::accumulate(o.widths.begin(), o.widths.end(), std::int64_t{0});
  const double bound = 1 / std::sqrt(static_cast<double>(fan_in));  // nn.Linear(sum d_m, C)
  for (std::size_t m = 0; m < o.widths.size(); ++m) {
    weights_.push_back(
        register_parameter("weight_" + std::to_string(m),
                           torch::empty({o.classes, o.widths[m]}).uniform_(-bound, bound)));
  }
  integration_ = register_parameter(
      "integration",
      torch::full({static_cast<std::int64_t>(o.widths.size()), o.classes}, o.integration_init));
  bias_ = register_parameter("bias", torch::empty({o.classes}).uniform_(-bound, bound));
}

at::Tensor CrmtHeadImpl::normalised_weight(std::size_t m) const {
  const at::Tensor centred = weights_.at(m) - weights_.at(m).mean(1, true);
  return centred / centred.norm(2, {1}, true).clamp_min(1e-12);
}

std::vector<at::Tensor> CrmtHeadImpl::modality_logits(
    const std::vector<at::Tensor>& features) const {
  if (features.size() != weights_.size())
    throw std::invalid_argument("CRMT head: " + std::to_string(features.size()) +
                                " feature tensors for " + std::to_string(weights_.size()) +
                                " modalities");
  std::vector<at::Tensor> out;
  for (std::size_t m = 0; m < features.size(); ++m)
    out.push_back(features[m].matmul(normalised_weight(m).t()));
  return out;
}

at::Tensor CrmtHeadImpl::combine(const std::vector<at::Tensor>& o,
                                 const at::Tensor& context) const {
  at::Tensor h = bias_.unsqueeze(0);
  for (std::size_t m = 0; m < o.size(); ++m)
    h = h + integration_[static_cast<std::int64_t>(m)].unsqueeze(0) * o[m];
  if (context.defined()) h = h + context;
  return h;
}

CertifiableModel* as_certifiable(ModalityModel& model) {
  auto* certifiable = dynamic_cast<CertifiableModel*>(&model);
  return certifiable != nullptr && certifiable->crmt_head() != nullptr ? certifiable : nullptr;
}

CertifiableModel& require_certifiable(ModalityModel& model, const std::string& what) {
  CertifiableModel* certifiable = as_certifiable(model);
  if (certifiable == nullptr)
    throw std::invalid_argument(what +
                                " needs a model with a CRMT head (train with --robust crmt)");
  return *certifiable;
}

at::Tensor crmt_margin_loss(const std::vector<at::Tensor>& modality_logits,
                            const at::Tensor& labels) {
  const at::Tensor index = labels.unsqueeze(1);
  std::vector<at::Tensor> differences;
  for (const auto& o : modality_logits)
    differences.push_back((o - o.gather(1, index)).scatter(1, index, -kInfinity));
  const at::Tensor all = torch::cat(differences, 1);  // [B, M*C], the labels' columns -inf
  return torch::logaddexp(torch::logsumexp(all, {1}),
                          torch::full({1}, std::log(1e-5), all.options()))
      .mean();
}

at::Tensor crmt_mix_margin_loss(const std::vector<at::Tensor>& modality_logits,
                                const at::Tensor& labels_a,
                                const at::Tensor& labels_b,
                                double lambda) {
  const at::Tensor ia = labels_a.unsqueeze(1), ib = labels_b.unsqueeze(1);
  const at::Tensor differ = (labels_a != labels_b).to(torch::kDouble);
  std::vector<at::Tensor> terms;  // log of each modality's term, [B]
  for (const auto& logits : modality_logits) {
    // double: exp of the raw logits; the sum stays positive since exp(x) > x.
    const at::Tensor o = logits.to(torch::kDouble);
    const at::Tensor oa = o.gather(1, ia).squeeze(1), ob = o.gather(1, ib).squeeze(1);
    const at::Tensor sum = o.exp().sum(1) - oa - ob * differ;
    terms.push_back(sum.log() - (lambda * oa + (1 - lambda) * ob));
  }
  return torch::logsumexp(torch::stack(terms, 1), {1})
      .mean()
      .to(modality_logits.at(0).scalar_type());
}

at::Tensor estimate_lipschitz(ModalityModel& model,
                              const TrainingData& data,
                              int batch,
                              std::size_t max_samples,
                              bool progress) {
  CertifiableModel& certifiable = require_certifiable(model, "the Lipschitz estimate");
  if (batch < 1) throw std::invalid_argument("the Lipschitz estimate: batch must be at least 1");
  const std::size_t n = std::min(data.size(), max_samples);
  if (n == 0) throw std::invalid_argument("the Lipschitz estimate: no samples");
  model.set_training(false);
  core::ProgressLine line("CRMT Lipschitz estimate", n, "samples");
  at::Tensor lipschitz;  // [M, M, C] double
  for (std::size_t start = 0; start < n; start += static_cast<std::size_t>(batch)) {
    std::vector<std::size_t> indices(std::min(n - start, static_cast<std::size_t>(batch)));
    std::iota(indices.begin(), indices.end(), start);
    Batch b = data.load(indices, false, 0);
    for (auto& input : b.inputs)
      input = input.detach().requires_grad_(true);
    const CertifiedLogits logits = certifiable.certified_logits(model.encode(b));
    const auto modalities = static_cast<std::int64_t>(logits.modality.size());
    const std::int64_t classes = logits.modality.at(0).size(1);
    if (!lipschitz.defined())
      lipschitz = torch::zeros({modalities, modalities, classes}, torch::kDouble);
    auto lip = lipschitz.accessor<double, 3>();
    for (std::int64_t m = 0; m < modalities; ++m) {
      for (std::int64_t c = 0; c < classes; ++c) {
        // Samples are independent in evaluation mode: the gradient of the batch's sum holds each
        // sample's own gradient in its row.
        const auto grads = torch::autograd::grad({logits.modality[m].select(1, c).sum()}, b.inputs,
                                                 {}, /*retain_graph=*/true,
                                                 /*create_graph=*/false, /*allow_unused=*/true);
        for (std::int64_t k = 0; k < modalities; ++k) {
          if (!grads[k].defined()) continue;
          const double largest =
              grads[k].flatten(1).to(torch::kDouble).norm(2, {1}).max().item<double>();
          lip[m][k][c] = std::max(lip[m][k][c], largest);
        }
      }
    }
    if (progress) line.update(start + indices.size());
  }
  if (progress) line.finish();
  return lipschitz;
}

CertifiedRadii certified_radii(const CrmtHeadImpl& head,
                               const CertifiedLogits& logits,
                               const at::Tensor& lipschitz,
                               const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const at::Tensor h = head.combine(logits.modality, logits.context).to(torch::kDouble);  // [B, C]
  check_lipschitz(head, lipschitz, h.size(1));
  const at::Tensor index = labels.unsqueeze(1);
  const at::Tensor weighted = weighted_lipschitz(head.integration(), lipschitz.to(torch::kDouble));
  // L_n(y, k) for every sample and class: [B, N, C].
  const at::Tensor to_label = weighted.index_select(1, labels).t();  // [B, N]
  const at::Tensor pair = to_label.unsqueeze(2) + weighted.unsqueeze(0);
  const at::Tensor margin = h.gather(1, index) - h;  // [B, C], 0 at the label
  const at::Tensor is_label = torch::zeros_like(h, torch::kBool).scatter(1, index, true);
  const auto smallest = [&](const at::Tensor& denominator) {
    at::Tensor r = margin / denominator;
    // 0 / 0 (a tie with nothing that could move it) certifies nothing; the label is no rival.
    r = torch::where(torch::isnan(r), torch::full_like(r, -kInfinity), r);
    r = torch::where(is_label, torch::full_like(r, kInfinity), r);
    return std::get<0>(r.min(1));
  };
  CertifiedRadii out;
  out.joint = smallest(pair.pow(2).sum(1).sqrt());
  for (std::int64_t n = 0; n < pair.size(1); ++n)
    out.modality.push_back(smallest(pair.select(1, n)));
  out.correct = h.argmax(1) == labels;
  return out;
}

at::Tensor runner_up_radius(const CrmtHeadImpl& head,
                            const CertifiedLogits& logits,
                            const at::Tensor& lipschitz,
                            const at::Tensor& labels) {
  std::vector<at::Tensor> o;
  for (const auto& t : logits.modality)
    o.push_back(t.detach());
  at::Tensor h = head.bias().detach().unsqueeze(0);
  for (std::size_t m = 0; m < o.size(); ++m)
    h = h + head.integration()[static_cast<std::int64_t>(m)].unsqueeze(0) * o[m];
  if (logits.context.defined()) h = h + logits.context.detach();
  check_lipschitz(head, lipschitz, h.size(1));
  const at::Tensor index = labels.unsqueeze(1);
  const at::Tensor runner_up = h.detach().scatter(1, index, -kInfinity).argmax(1, true);
  const at::Tensor margin = (h.gather(1, index) - h.gather(1, runner_up)).squeeze(1);
  const at::Tensor weighted = weighted_lipschitz(head.integration(), lipschitz.to(h.scalar_type()));
  const at::Tensor bound = weighted.index_select(1, labels).t() +
                           weighted.index_select(1, runner_up.squeeze(1)).t();  // [B, N]
  return margin / bound.pow(2).sum(1).sqrt().clamp_min(1e-12);
}

void CrmtTraining::on_fit_start(FitContext& fit) {
  require_certifiable(fit.model, mix_ ? "--robust crmt-mix" : "--robust crmt");
}

void CrmtTraining::on_batch(StepContext& step) {
  if (!mix_) return;
  Batch& b = step.batch;
  if (!b.context.empty()) {
    throw std::invalid_argument(
        "--robust crmt-mix mixes whole samples; this task's samples carry more than their "
        "modality inputs (ST-AVQA: the question's words), which do not mix");
  }
  // The trainer seeds torch per epoch: the draws repeat on a resumed run.
  lambda_ = torch::rand({1}, torch::kDouble).item<double>();  // Beta(1, 1)
  const at::Tensor permutation = torch::randperm(b.size(), torch::kLong);
  for (auto& input : b.inputs)
    input = lambda_ * input + (1 - lambda_) * input.index_select(0, permutation);
  labels_b_ = b.labels.index_select(0, permutation);
}

void CrmtTraining::on_loss(StepContext& step) {
  CertifiableModel& certifiable = require_certifiable(step.fit.model, name());
  CertifiedLogits logits = certifiable.certified_logits(step.encoded);
  if (step.keep.defined()) {
    if (mix_) throw std::invalid_argument("--robust crmt-mix needs every sample of a batch kept");
    for (auto& o : logits.modality)
      o = o.index_select(0, step.keep);
  }
  if (!mix_) {
    step.losses.emplace_back("crmt_margin", rho_ * crmt_margin_loss(logits.modality, step.labels));
    return;
  }
  step.losses.front().second = lambda_ * torch::cross_entropy_loss(step.logits, step.labels) +
                               (1 - lambda_) * torch::cross_entropy_loss(step.logits, labels_b_);
  step.losses.emplace_back(
      "crmt_margin", rho_ * crmt_mix_margin_loss(logits.modality, step.labels, labels_b_, lambda_));
}

CertifiedTrainingReport enlarge_certified_radius(
    ModalityModel& model,
    const TrainingData& train_data,
    const CrmtOptions& crmt,
    const TrainerOptions& run,
    const std::function<void(int, double)>& epoch_done) {
  CertifiableModel& certifiable = require_certifiable(model, "phase 2 of CRMT");
  CertifiedTrainingReport report;
  report.lipschitz =
      estimate_lipschitz(model, train_data, run.batch,
                         static_cast<std::size_t>(crmt.crmt_lipschitz_samples), run.progress);
  report.lipschitz_samples =
      std::min(train_data.size(), static_cast<std::size_t>(crmt.crmt_lipschitz_samples));
  const at::Tensor lipschitz = report.lipschitz.to(torch::kFloat);
  const int epochs = crmt.crmt_epochs > 0 ? crmt.crmt_epochs : std::max(1, run.epochs / 3 - 1);

  CrmtHeadImpl& head = *certifiable.crmt_head();
  torch::optim::SGD optimizer(std::vector<at::Tensor>{head.integration()},
                              torch::optim::SGDOptions(crmt.crmt_lr_scale * run.learning_rate)
                                  .momentum(crmt.crmt_momentum)
                                  .weight_decay(crmt.crmt_weight_decay));
  model.set_training(false);
  std::vector<std::size_t> order(train_data.size());
  std::iota(order.begin(), order.end(), 0);
  const auto batch = static_cast<std::size_t>(run.batch);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    std::mt19937_64 random(run.seed * 2654435761u + static_cast<std::uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), random);
    double radius_sum = 0;
    for (std::size_t start = 0; start < order.size(); start += batch) {
      const std::vector<std::size_t> indices(
          order.begin() + static_cast<std::ptrdiff_t>(start),
          order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + batch)));
      const Batch b = train_data.load(indices, false, run.seed);
      CertifiedLogits logits;
      {
        torch::NoGradGuard no_grad;  // only a trains: the features are constants
        logits = certifiable.certified_logits(model.encode(b));
      }
      const at::Tensor radius = runner_up_radius(head, logits, lipschitz, b.labels);
      optimizer.zero_grad();
      (-radius.mean()).backward();
      optimizer.step();
      radius_sum += radius.sum().item<double>();
    }
    report.mean_radius.push_back(radius_sum / static_cast<double>(order.size()));
    if (epoch_done) epoch_done(epoch, report.mean_radius.back());
  }
  return report;
}

json to_json(const CertifiedTrainingReport& report) {
  json lip = json::array();
  const at::Tensor l = report.lipschitz.to(torch::kDouble).contiguous();
  for (std::int64_t m = 0; m < l.size(0); ++m) {
    json rows = json::array();
    for (std::int64_t n = 0; n < l.size(1); ++n) {
      const at::Tensor row = l[m][n];
      rows.push_back(
          std::vector<double>(row.data_ptr<double>(), row.data_ptr<double>() + row.numel()));
    }
    lip.push_back(rows);
  }
  return {{"lipschitz", lip},
          {"lipschitz_samples", report.lipschitz_samples},
          {"mean_radius", report.mean_radius}};
}

namespace {

CertifiedTrainingReport report_from_json(const json& j, const fs::path& file) {
  CertifiedTrainingReport report;
  try {
    const json& lip = j.at("lipschitz");
    const auto m = static_cast<std::int64_t>(lip.size());
    if (m == 0) throw std::invalid_argument("empty");
    const auto c = static_cast<std::int64_t>(lip.at(0).at(0).size());
    report.lipschitz = torch::zeros({m, m, c}, torch::kDouble);
    auto a = report.lipschitz.accessor<double, 3>();
    for (std::int64_t i = 0; i < m; ++i) {
      if (static_cast<std::int64_t>(lip[i].size()) != m) throw std::invalid_argument("not square");
      for (std::int64_t k = 0; k < m; ++k) {
        const auto row = lip[i][k].get<std::vector<double>>();
        if (static_cast<std::int64_t>(row.size()) != c)
          throw std::invalid_argument("rows of different lengths");
        for (std::int64_t x = 0; x < c; ++x) {
          if (!(row[x] >= 0)) throw std::invalid_argument("a negative or missing constant");
          a[i][k][x] = row[x];
        }
      }
    }
    report.lipschitz_samples = j.value("lipschitz_samples", std::size_t{0});
    report.mean_radius = j.value("mean_radius", std::vector<double>{});
  } catch (const std::exception& e) {
    throw std::runtime_error(file.string() +
                             ": field \"lipschitz\" must be [M][M][C] constants: " + e.what());
  }
  return report;
}

}  // namespace

at::Tensor read_lipschitz(const fs::path& crmt_json) {
  json j;
  try {
    j = json::parse(core::read_text_file(crmt_json));
  } catch (const json::exception& e) {
    throw std::runtime_error(crmt_json.string() + ": not JSON: " + e.what());
  }
  return report_from_json(j, crmt_json).lipschitz;
}

at::Tensor run_lipschitz(const fs::path& run) {
  const fs::path file = run / "crmt.json";
  return fs::exists(file) ? read_lipschitz(file) : at::Tensor();
}

CertifiedTrainingReport certify_run(ModalityModel& model,
                                    const TrainingData& train_data,
                                    const CrmtOptions& crmt,
                                    const TrainerOptions& run,
                                    const std::function<void(int, double)>& epoch_done) {
  const fs::path done = run.out / "crmt.json";
  if (fs::exists(done)) return report_from_json(json::parse(core::read_text_file(done)), done);
  const fs::path best = run.out / "best.pt", phase_one = run.out / "best-phase1.pt";
  if (!fs::exists(phase_one)) {
    const fs::path temp = run.out / "best-phase1.pt.tmp";
    fs::copy_file(best, temp, fs::copy_options::overwrite_existing);
    fs::rename(temp, phase_one);
  }
  model.load(phase_one);
  CertifiedTrainingReport report =
      enlarge_certified_radius(model, train_data, crmt, run, epoch_done);
  model.save(best);
  core::write_file_atomically(done, to_json(report).dump(1));
  return report;
}

}  // namespace avqa::train
