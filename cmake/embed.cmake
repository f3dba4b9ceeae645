# Writes OUTPUT, a C++ file defining `const std::string_view sluice::http::SYMBOL`
# with the bytes of INPUT, so that the binary serves the file itself.
#   cmake -DINPUT=… -DOUTPUT=… -DSYMBOL=… -P embed.cmake
file(READ "${INPUT}" content)
string(FIND "${content}" ")sluice_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string's delimiter")
endif()
get_filename_component(name "${INPUT}" NAME)
file(WRITE "${OUTPUT}.tmp"
  "// Generated at build time from ${name} (cmake/embed.cmake): do not edit.\n"
  "#include <string_view>\n\nnamespace sluice::http {\n"
  "extern const std::string_view ${SYMBOL};\n"
  "const std::string_view ${SYMBOL} = R\"sluice_embed(${content})sluice_embed\";\n"
  "} // namespace sluice::http\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
