#include "avqa/robust_evaluation.h"

#include <stdexcept>

#include "avqa/run_folder.h"
#include "avqa/st_avqa_task.h"
#include "core/input_error.h"
#include "datasets/question_type.h"

namespace avqa::net {

RobustEvalRun robust_evaluate_run(const EvalOptions& o,
                                  const train::RobustEvalOptions& options,
                                  const std::function<void(const std::string&)>& progress) {
  if (o.batch <= 0) throw std::invalid_argument("--batch must be positive");
  const RunConfig config = load_run_config(o.run);
  if (config.question_only) {
    throw core::InputError({(o.run / "config.json").string(), std::nullopt, "question_only"},
                           "a question-only run sees no audio or video: nothing to attack or "
                           "take away");
  }
  const data::Vocabularies vocab = data::load_vocabularies(o.run / "vocab.json");
  StAvqaModel model(load_run_model(o.run, config), {});
  const data::AnnotationSet set = data::load_annotations(o.annotations, {o.duplicates});
  const auto cache = open_evaluation_cache(o.run, config, o.cache);
  const QaDataset dataset(set, vocab, cache, config.segments);
  if (dataset.size() == 0)
    throw core::InputError({o.annotations.string(), std::nullopt, ""}, "holds no questions");
  const QaTrainingData data(dataset, false);

  train::RobustEvalOptions r = options;
  r.batch = o.batch;
  RobustEvalRun out;
  out.report = train::robust_evaluate(model, data, r, progress);
  for (const data::AnnotationRecord& record : set.records)
    out.types.emplace_back(data::short_label(record.type));
  for (const data::QuestionType t : data::kAllQuestionTypes)
    out.type_order.emplace_back(data::short_label(t));
  return out;
}

}  // namespace avqa::net
