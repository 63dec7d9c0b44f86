# libsispdecode: PNG (libpng) and JPEG (TurboJPEG) to RGBA8 from memory, under limits. No SDL,
# so it is tested headless and fuzzed (fuzz/fuzz_png.c, fuzz/fuzz_jpeg.c link it by name).
# TurboJPEG's pkg-config file comes with Debian's libturbojpeg0-dev (libjpeg62-turbo-dev has
# only the libjpeg API).
pkg_check_modules(SISP_PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(SISP_TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(SISP_ZLIB REQUIRED IMPORTED_TARGET zlib)

add_library(sispdecode STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/src/decode.c
  ${CMAKE_CURRENT_SOURCE_DIR}/src/decode_png.c
  ${CMAKE_CURRENT_SOURCE_DIR}/src/decode_jpeg.c
  ${CMAKE_CURRENT_SOURCE_DIR}/src/exif.c)
target_include_directories(sispdecode PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(sispdecode
  PUBLIC sisp
  PRIVATE PkgConfig::SISP_PNG PkgConfig::SISP_TURBOJPEG PkgConfig::SISP_ZLIB sisp_warnings)

# The hostile-image generator: writes the corpus test_decode_hostile refuses (tests/).
add_executable(sisp-gen-hostile ${PROJECT_SOURCE_DIR}/tests/gen_hostile.c)
target_link_libraries(sisp-gen-hostile
  PRIVATE PkgConfig::SISP_TURBOJPEG PkgConfig::SISP_ZLIB sisp_warnings)

# sisp_testutil is defined in tests/, configured after viewer/; linking it by name works.
add_executable(test_decode ${PROJECT_SOURCE_DIR}/tests/test_decode.c)
target_link_libraries(test_decode
  PRIVATE sispdecode sisp_testutil PkgConfig::SISP_PNG PkgConfig::SISP_TURBOJPEG sisp_warnings)
add_dependencies(test_decode sisp-gen-hostile) # building the test builds what it runs
add_test(NAME test_decode COMMAND test_decode)
add_test(NAME test_decode_hostile COMMAND test_decode --hostile $<TARGET_FILE:sisp-gen-hostile>)
set_tests_properties(test_decode test_decode_hostile PROPERTIES TIMEOUT 300)
