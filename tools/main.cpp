// The `avqa` command line: parses arguments and reports errors; the work lives in the libraries.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "core/input_error.h"
#include "core/runtime/process_tuning.h"
#include "tools/commands.h"

namespace {

// Exit codes: 0 success, 1 an internal failure, 2 bad input or usage (the file, record and
// field are in the message).
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

// Extraction runs decoding threads beside the backbones; everything else is tensor work.
avqa::runtime::Workload workload_of(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads") {
      ++i;  // its value
    } else if (arg.empty() || arg[0] != '-') {
      const bool bench = arg == "bench";
      const std::string command = bench && i + 1 < argc ? argv[i + 1] : arg;
      return command == "extract" ? avqa::runtime::Workload::Extraction
                                  : avqa::runtime::Workload::Compute;
    }
  }
  return avqa::runtime::Workload::Compute;
}

}  // namespace

int main(int argc, char** argv) {
  avqa::runtime::tune_process(argv, workload_of(argc, argv));
  CLI::App app{
      "avqa: audio-visual question answering (MUSIC-AVQA, ST-AVQA).\n"
      "Run 'avqa <command> --help' for the options of a command."};
  app.set_version_flag("--version", AVQA_VERSION_STRING);
  app.require_subcommand(1);
  app.fallthrough();

  avqa::tools::GlobalOptions global;
  app.add_option("--threads", global.threads, "LibTorch intra-op threads (0 = all CPUs)")
      ->envname("AVQA_THREADS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  avqa::tools::add_data_commands(app);
  avqa::tools::add_generate_command(app);
  avqa::tools::add_feature_commands(app, global);
  avqa::tools::add_model_commands(app, global);
  avqa::tools::add_runtime_commands(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  } catch (const avqa::tools::ExitStatus& e) {
    return e.code();
  } catch (const avqa::core::InputError& e) {
    std::cerr << "avqa: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::invalid_argument& e) {
    std::cerr << "avqa: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "avqa: failed: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}
