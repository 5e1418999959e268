#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace avqa::synthetic {

enum class Articulation { Sustained, Plucked, Struck, Percussive };

/// One drawing step of an instrument sprite, in fractions of the instrument's box.
struct SpritePrimitive {
  enum class Shape { Rect, Circle, Ellipse, Line, Poly };
  Shape shape = Shape::Rect;
  std::vector<std::array<double, 2>>
      points;         ///< rect/line: 2 corners or ends; circle/ellipse: centre; poly: vertices
  double radius = 0;  ///< circle
  std::array<double, 2> axes{};  ///< ellipse half-axes
  double angle = 0;              ///< ellipse rotation in degrees
  double width = 0;              ///< line width as a fraction of the box width
  std::array<unsigned char, 3> rgb{};
};

/// One MUSIC-AVQA instrument class as the generator draws and plays it.
struct InstrumentSpec {
  std::string name;  ///< the MUSIC-AVQA class, e.g. "acoustic_guitar"
  int bank = 0;      ///< General MIDI bank (128 = percussion kit)
  int program = 0;   ///< General MIDI program, 0-based
  int pitch_low = 60;
  int pitch_high = 72;
  std::vector<int> keys;  ///< percussion: the keys to play
  Articulation articulation = Articulation::Sustained;
  std::string stand_in;  ///< the preset standing in for a class General MIDI lacks, else empty
  std::vector<SpritePrimitive> sprite;

  bool percussion() const { return bank == 128; }
};

/// The instrument table (resources/instruments.json): data, not code.
class InstrumentTable {
 public:
  /// The table compiled into the binary from resources/instruments.json.
  static InstrumentTable builtin();
  /// A user's table; throws core::InputError naming the file and field.
  static InstrumentTable load(const std::filesystem::path& path);
  static InstrumentTable parse(std::string_view json_text, const std::string& source);

  const std::vector<InstrumentSpec>& instruments() const { return instruments_; }
  std::size_t size() const { return instruments_.size(); }
  const InstrumentSpec& at(std::size_t i) const { return instruments_.at(i); }
  std::optional<std::size_t> find(std::string_view name) const;

 private:
  std::vector<InstrumentSpec> instruments_;
};

}  // namespace avqa::synthetic
