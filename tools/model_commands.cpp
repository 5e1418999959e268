// `avqa import-checkpoint` and `avqa export-checkpoint`: the original ST-AVQA checkpoints.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "avqa/original_checkpoint.h"
#include "avqa/torch_checkpoint.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

struct CheckpointArgs {
  std::string input;
  std::string out;
  std::string format = "original";
};

void run_import(const CheckpointArgs& a) {
  const net::NamedTensors tensors = net::read_torch_state_dict(a.input);
  net::StAvqaNet model(net::infer_options(tensors, a.input));
  const net::CheckpointImport report = net::load_original_checkpoint(model, a.input);
  net::NamedTensors weights;
  for (const auto& p : model->named_parameters())
    weights.emplace_back(p.key(), p.value());
  net::write_torch_state_dict(a.out, weights);
  const auto& o = model->options();
  std::printf("imported %zu tensors (vocabulary %lld, answers %lld, hidden %lld) -> %s\n",
              report.loaded.size(), static_cast<long long>(o.vocab_size),
              static_cast<long long>(o.answers), static_cast<long long>(o.hidden), a.out.c_str());
  std::printf("%zu tensors in the file are not used by the forward pass and were left out",
              report.unused.size());
  std::size_t shown = 0;
  for (const auto& name : report.unused) {
    if (name.rfind("visual_net.", 0) == 0 && name != "visual_net.conv1.weight")
      continue;  // one line for the ResNet
    std::printf("%s%s", shown++ ? ", " : ": ",
                name == "visual_net.conv1.weight" ? "visual_net.*" : name.c_str());
  }
  std::printf("\n");
}

void run_export(const CheckpointArgs& a) {
  if (a.format != "original") throw std::invalid_argument("--format: only 'original' is supported");
  const net::NamedTensors tensors = net::read_torch_state_dict(a.input);
  net::StAvqaNet model(net::infer_options(tensors, a.input));
  net::load_original_checkpoint(model, a.input);
  const net::NamedTensors original = net::to_original_layout(model);
  net::write_torch_state_dict(a.out, original);
  std::printf(
      "wrote %s: %zu tensors in the original layout (module. prefixes; unused layers zero-filled), "
      "for\n"
      "model.load_state_dict(torch.load(path)) in net_grd_avst\n",
      a.out.c_str(), original.size());
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto imp = std::make_shared<CheckpointArgs>();
  CLI::App* import_cmd = app.add_subcommand("import-checkpoint",
                                            "Read an original ST-AVQA checkpoint (torch.save of a "
                                            "DataParallel state-dict) into avqa's format");
  import_cmd->add_option("checkpoint", imp->input, "The original avst.pt")->required();
  import_cmd->add_option("--out", imp->out, "avqa model file to write")->required();
  import_cmd->callback([imp] { run_import(*imp); });

  auto exp = std::make_shared<CheckpointArgs>();
  CLI::App* export_cmd = app.add_subcommand(
      "export-checkpoint", "Write an avqa model as a checkpoint the original code loads");
  export_cmd->add_option("model", exp->input, "avqa model file")->required();
  export_cmd->add_option("--format", exp->format, "Layout: original")
      ->check(CLI::IsMember({"original"}))
      ->capture_default_str();
  export_cmd->add_option("--out", exp->out, "Checkpoint to write")->required();
  export_cmd->callback([exp] { run_export(*exp); });
}

}  // namespace avqa::tools
