#include "datasets/media/ffmpeg_error.h"

#include <mutex>
#include <stdexcept>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace avqa::media {

void limit_ffmpeg_logging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

std::string ffmpeg_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

void throw_if_error(int code, const std::string& context) {
  if (code < 0) throw std::runtime_error(context + ": " + ffmpeg_error_text(code));
}

}  // namespace avqa::media
