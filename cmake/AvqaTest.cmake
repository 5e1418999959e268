# avqa_add_test(NAME <name> SOURCES <files...> LIBS <targets...> [LABELS <labels...>] [TENSORS]
#               [MAIN <file>])
# One GoogleTest executable per unit; each test case becomes a ctest test carrying LABELS
# (default "unit") so CI can run `ctest -L unit` first and slow suites separately. TENSORS: the
# program runs LibTorch, so its main() tunes BLAS kernels and OpenMP waiting as avqa does. MAIN:
# a main() of its own (the studio's tests start a QApplication).
function(avqa_add_test)
  cmake_parse_arguments(ARG "TENSORS" "NAME;MAIN" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(ARG_MAIN)
    add_executable(${ARG_NAME} ${ARG_SOURCES} ${ARG_MAIN})
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} avqa_runtime avqa_warnings GTest::gtest)
  elseif(ARG_TENSORS)
    add_executable(${ARG_NAME} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/tuned_main.cpp)
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} avqa_runtime avqa_warnings GTest::gtest)
  else()
    add_executable(${ARG_NAME} ${ARG_SOURCES})
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} avqa_warnings GTest::gtest_main)
  endif()
  target_compile_definitions(${ARG_NAME} PRIVATE
    AVQA_TEST_FIXTURES="${PROJECT_SOURCE_DIR}/tests/fixtures"
    AVQA_SHARED_DIR="${AVQA_SHARED_DIR}"
    AVQA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    AVQA_TEST_OUTPUT_DIR="${PROJECT_BINARY_DIR}/test-output"
    AVQA_SPM_HELPER="$<TARGET_FILE:avqa-spm>")
  # Tests that tokenize with SentencePiece run the built helper, never a stale one.
  add_dependencies(${ARG_NAME} avqa-spm)
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/test-output)
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
