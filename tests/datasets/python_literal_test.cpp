#include "datasets/python_literal.h"

#include <gtest/gtest.h>

namespace avqa::data {
namespace {

using Strings = std::vector<std::string>;

TEST(ParseStringList, ReadsJsonAndPythonQuoting) {
  EXPECT_EQ(parse_string_list("[\"Audio-Visual\", \"Temporal\"]"),
            (Strings{"Audio-Visual", "Temporal"}));
  EXPECT_EQ(parse_string_list("['violin', 'left']"), (Strings{"violin", "left"}));
  EXPECT_EQ(parse_string_list("[\"a\", 'b']"), (Strings{"a", "b"}));
  EXPECT_EQ(parse_string_list("  [ ]  "), Strings{});
  EXPECT_EQ(parse_string_list("['x',]"), Strings{"x"});
}

TEST(ParseStringList, DecodesEscapes) {
  EXPECT_EQ(parse_string_list(R"(['it\'s', "say \"hi\"", 'a\\b'])"),
            (Strings{"it's", "say \"hi\"", "a\\b"}));
  EXPECT_EQ(parse_string_list(R"(["\uff1f", '\xe9', "\U0001F3BB"])"),
            (Strings{"\xEF\xBC\x9F", "\xC3\xA9", "\xF0\x9F\x8E\xBB"}));
  EXPECT_EQ(parse_string_list(R"(["it's"])"), Strings{"it's"});
}

TEST(ParseStringList, RejectsWhatIsNotAListOfStrings) {
  for (const char* bad : {"", "violin", "[violin]", "[1, 2]", "['a' 'b']", "['a'", "['a'] x",
                          "[['a']]", "['unterminated]", R"(['\q'])", R"(['\ud800'])", "{'a': 1}"}) {
    EXPECT_THROW(parse_string_list(bad), std::invalid_argument) << bad;
  }
}

TEST(ParseStringList, ErrorNamesThePosition) {
  try {
    parse_string_list("['a', 3]");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("character 7"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace avqa::data
