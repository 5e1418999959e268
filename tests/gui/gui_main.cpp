// main() of the studio's test programs: a QApplication on the offscreen platform (no display
// needed), dialogs replaced by the window's lastError(), and the tuned process of the tools.
#include <QApplication>
#include <cstdlib>

#include <gtest/gtest.h>

#include "core/runtime/process_tuning.h"
#include "gui/studio_window.h"

int main(int argc, char** argv) {
  avqa::runtime::tune_process(argv, avqa::runtime::Workload::Compute);
  ::setenv("QT_QPA_PLATFORM", "offscreen", 0);
  ::setenv("AVQA_STUDIO_NO_DIALOGS", "1", 1);
  avqa::gui::choose_media_backend();
  QApplication app(argc, argv);
  QApplication::setOrganizationName("avqa-tests");
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
