#include "core/input_error.h"

#include <gtest/gtest.h>

namespace avqa::core {
namespace {

TEST(InputError, MessageNamesFileRecordAndField) {
  const InputError e({"a.json", 7, "anser"}, "is missing");
  EXPECT_STREQ(e.what(), "a.json: record 7: field 'anser': is missing");
  EXPECT_EQ(e.reason(), "is missing");
  EXPECT_EQ(e.where().record, 7u);
}

TEST(InputError, OmitsWhatIsNotKnown) {
  EXPECT_STREQ(InputError({"a.json", std::nullopt, ""}, "truncated").what(), "a.json: truncated");
  EXPECT_STREQ(InputError({"", std::nullopt, "x"}, "bad").what(), "<input>: field 'x': bad");
}

}  // namespace
}  // namespace avqa::core
