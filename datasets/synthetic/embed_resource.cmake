# Writes OUTPUT: a C++ file defining `const char* const NAME` holding the bytes of INPUT, so the
# binary carries its default data and works from any folder.
file(READ "${INPUT}" content)
set(delimiter "avqa_resource")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT_NAME} at build time; edit that file, not this one.\n"
  "namespace ${NAMESPACE} {\nextern const char* const ${NAME};\n"
  "const char* const ${NAME} = R\"${delimiter}(${content})${delimiter}\";\n}\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
