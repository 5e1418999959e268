#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace avqa::core {

/// Bad input from a user's file: names the file, the record (when the file has records) and
/// the field, so a user can go straight to the offending line. Tools exit with code 2 on it.
class InputError : public std::runtime_error {
 public:
  struct Location {
    std::string file;                   ///< path as the user gave it
    std::optional<std::size_t> record;  ///< 0-based record index inside the file
    std::string field;                  ///< field or key name; empty when not applicable
  };

  InputError(Location where, const std::string& what);

  const Location& where() const noexcept { return where_; }
  /// The message without the location prefix.
  const std::string& reason() const noexcept { return reason_; }

 private:
  Location where_;
  std::string reason_;
};

}  // namespace avqa::core
