#include "core/input_error.h"

namespace avqa::core {
namespace {

std::string format_message(const InputError::Location& where, const std::string& what) {
  std::string message = where.file.empty() ? std::string("<input>") : where.file;
  if (where.record) message += ": record " + std::to_string(*where.record);
  if (!where.field.empty()) message += ": field '" + where.field + "'";
  return message + ": " + what;
}

}  // namespace

InputError::InputError(Location where, const std::string& what)
    : std::runtime_error(format_message(where, what)), where_(std::move(where)), reason_(what) {}

}  // namespace avqa::core
