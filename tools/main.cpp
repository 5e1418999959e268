// The `avqa` command line: parses arguments and reports errors; the work lives in the libraries.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "core/input_error.h"
#include "tools/commands.h"

namespace {

// Exit codes: 0 success, 1 an internal failure, 2 bad input or usage (the file, record and
// field are in the message).
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

}  // namespace

int main(int argc, char** argv) {
  // LibTorch's OpenMP workers spin between parallel regions by default, taking the CPU from the
  // decoding threads and the serial parts of every command: `avqa extract` ran 30 % faster with
  // passive waiting (2 vCPU: 7.2 s -> 5.5 s for 20 videos). The runtime reads the setting once,
  // before main, so the tool restarts itself with it unless the user chose a policy.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0) {
    ::execv("/proc/self/exe", argv);  // only returns on failure: then go on as we are
  }
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
