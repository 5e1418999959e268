#include "core/progress_line.h"

#include <unistd.h>

namespace avqa::core {

ProgressLine::ProgressLine(std::string label, std::size_t total, std::string unit, std::FILE* out)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      out_(out),
      terminal_(::isatty(::fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

double ProgressLine::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressLine::update(std::size_t done, const std::string& note) {
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (now - last_print_ < std::chrono::milliseconds(200)) return;
  } else {
    const std::size_t decile = total_ > 0 ? done * 10 / total_ : 0;
    if (decile <= last_decile_) return;
    last_decile_ = decile;
  }
  last_print_ = now;
  print(done, note, false);
}

void ProgressLine::finish(const std::string& note) {
  print(total_, note, true);
}

void ProgressLine::print(std::size_t done, const std::string& note, bool final_line) {
  const double seconds = elapsed_seconds();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  char line[256];
  if (final_line) {
    std::snprintf(line, sizeof line, "%s: %zu %s in %.1f s (%.2f %s/s)", label_.c_str(), done,
                  unit_.c_str(), seconds, rate, unit_.c_str());
  } else {
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
    std::snprintf(line, sizeof line, "%s: %zu/%zu %s, %.2f %s/s, ETA %.0f s", label_.c_str(), done,
                  total_, unit_.c_str(), rate, unit_.c_str(), eta);
  }
  std::string text = line;
  if (!note.empty()) text += " " + note;
  if (terminal_) {
    std::fprintf(out_, "\r%-100s%s", text.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

}  // namespace avqa::core
