#include "datasets/synthetic/instrument_table.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/vocabulary.h"

namespace avqa::synthetic {

extern const char* const kBuiltinInstrumentTable;  // generated from resources/instruments.json

namespace {

using json = nlohmann::json;

class TableReader {
 public:
  explicit TableReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(std::optional<std::size_t> record,
                         const std::string& field,
                         const std::string& what) const {
    throw core::InputError({source_, record, field}, what);
  }

  std::array<unsigned char, 3> color(const json& value,
                                     std::size_t i,
                                     const std::string& field) const {
    if (!value.is_string()) fail(i, field, "must be a colour string #RRGGBB");
    const std::string text = value.get<std::string>();
    if (text.size() != 7 || text[0] != '#')
      fail(i, field, "must be a colour string #RRGGBB, got '" + text + "'");
    std::array<unsigned char, 3> rgb{};
    for (int c = 0; c < 3; ++c) {
      try {
        rgb[static_cast<std::size_t>(c)] =
            static_cast<unsigned char>(std::stoi(text.substr(1 + 2 * c, 2), nullptr, 16));
      } catch (const std::exception&) {
        fail(i, field, "must be a colour string #RRGGBB, got '" + text + "'");
      }
    }
    return rgb;
  }

  std::array<double, 2> point(const json& value, std::size_t i, const std::string& field) const {
    if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number()) {
      fail(i, field, "must be a pair of numbers [x, y]");
    }
    return {value[0].get<double>(), value[1].get<double>()};
  }

  double number(const json& object,
                const char* key,
                std::size_t i,
                const std::string& prefix) const {
    if (!object.contains(key) || !object[key].is_number())
      fail(i, prefix + key, "must be a number");
    return object[key].get<double>();
  }

  SpritePrimitive primitive(const json& p, std::size_t i, std::size_t k) const {
    const std::string prefix = "sprite[" + std::to_string(k) + "].";
    if (!p.is_object() || !p.contains("shape") || !p["shape"].is_string())
      fail(i, prefix + "shape", "is missing");
    SpritePrimitive out;
    const std::string shape = p["shape"].get<std::string>();
    out.rgb = color(p.value("color", json()), i, prefix + "color");
    if (shape == "rect" || shape == "line") {
      out.shape = shape == "rect" ? SpritePrimitive::Shape::Rect : SpritePrimitive::Shape::Line;
      out.points = {point(p.value("from", json()), i, prefix + "from"),
                    point(p.value("to", json()), i, prefix + "to")};
      if (shape == "line") out.width = number(p, "width", i, prefix);
    } else if (shape == "circle") {
      out.shape = SpritePrimitive::Shape::Circle;
      out.points = {point(p.value("center", json()), i, prefix + "center")};
      out.radius = number(p, "radius", i, prefix);
    } else if (shape == "ellipse") {
      out.shape = SpritePrimitive::Shape::Ellipse;
      out.points = {point(p.value("center", json()), i, prefix + "center")};
      out.axes = point(p.value("axes", json()), i, prefix + "axes");
      out.angle = p.contains("angle") ? number(p, "angle", i, prefix) : 0.0;
    } else if (shape == "poly") {
      out.shape = SpritePrimitive::Shape::Poly;
      if (!p.contains("points") || !p["points"].is_array() || p["points"].size() < 3) {
        fail(i, prefix + "points", "must list at least 3 points");
      }
      for (const json& q : p["points"])
        out.points.push_back(point(q, i, prefix + "points"));
    } else {
      fail(i, prefix + "shape",
           "unknown shape '" + shape + "' (rect, circle, ellipse, line, poly)");
    }
    return out;
  }

  InstrumentSpec instrument(const json& item, std::size_t i) const {
    if (!item.is_object()) fail(i, "", "must be an object");
    InstrumentSpec spec;
    if (!item.contains("class") || !item["class"].is_string()) fail(i, "class", "is missing");
    spec.name = item["class"].get<std::string>();
    const auto& known = data::music_avqa_instruments();
    if (std::find(known.begin(), known.end(), spec.name) ==
        known.end()) {  // it could never be an answer
      fail(i, "class", "'" + spec.name + "' is not one of the 22 MUSIC-AVQA instrument classes");
    }
    for (const char* key : {"bank", "program"}) {
      if (!item.contains(key) || !item[key].is_number_integer()) fail(i, key, "must be an integer");
    }
    spec.bank = item["bank"].get<int>();
    spec.program = item["program"].get<int>();
    if (spec.program < 0 || spec.program > 127) fail(i, "program", "must be in 0..127");
    const std::string articulation = item.value("articulation", std::string("sustained"));
    if (articulation == "sustained") {
      spec.articulation = Articulation::Sustained;
    } else if (articulation == "plucked") {
      spec.articulation = Articulation::Plucked;
    } else if (articulation == "struck") {
      spec.articulation = Articulation::Struck;
    } else if (articulation == "percussive") {
      spec.articulation = Articulation::Percussive;
    } else {
      fail(i, "articulation", "unknown articulation '" + articulation + "'");
    }
    if (spec.percussion()) {
      if (!item.contains("keys") || !item["keys"].is_array() || item["keys"].empty()) {
        fail(i, "keys", "a percussion instrument (bank 128) must list its keys");
      }
      for (const json& k : item["keys"]) {
        if (!k.is_number_integer() || k.get<int>() < 0 || k.get<int>() > 127)
          fail(i, "keys", "must be MIDI keys 0..127");
        spec.keys.push_back(k.get<int>());
      }
    } else {
      const auto range = point(item.value("pitch", json()), i, "pitch");
      spec.pitch_low = static_cast<int>(range[0]);
      spec.pitch_high = static_cast<int>(range[1]);
      if (spec.pitch_low < 0 || spec.pitch_high > 127 || spec.pitch_low + 4 > spec.pitch_high) {
        fail(i, "pitch", "must be a MIDI range [low, high] spanning at least 4 semitones");
      }
    }
    spec.stand_in = item.value("stand_in", std::string());
    if (!item.contains("sprite") || !item["sprite"].is_array() || item["sprite"].empty()) {
      fail(i, "sprite", "must list the drawing primitives");
    }
    for (std::size_t k = 0; k < item["sprite"].size(); ++k)
      spec.sprite.push_back(primitive(item["sprite"][k], i, k));
    return spec;
  }

 private:
  std::string source_;
};

}  // namespace

InstrumentTable InstrumentTable::parse(std::string_view json_text, const std::string& source) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw core::InputError({source, std::nullopt, ""}, std::string("invalid JSON: ") + e.what());
  }
  TableReader reader(source);
  if (!document.is_object() || !document.contains("instruments") ||
      !document["instruments"].is_array()) {
    reader.fail(std::nullopt, "instruments", "an instrument table needs an \"instruments\" array");
  }
  InstrumentTable table;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < document["instruments"].size(); ++i) {
    InstrumentSpec spec = reader.instrument(document["instruments"][i], i);
    if (!seen.insert(spec.name).second)
      reader.fail(i, "class", "'" + spec.name + "' is listed twice");
    table.instruments_.push_back(std::move(spec));
  }
  if (table.instruments_.size() < 4)
    reader.fail(std::nullopt, "instruments", "needs at least 4 instruments");
  return table;
}

InstrumentTable InstrumentTable::load(const std::filesystem::path& path) {
  return parse(data::read_text_file(path), path.string());
}

InstrumentTable InstrumentTable::builtin() {
  return parse(kBuiltinInstrumentTable, "resources/instruments.json");
}

std::optional<std::size_t> InstrumentTable::find(std::string_view name) const {
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    if (instruments_[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace avqa::synthetic
