# sisp-view: the SDL2 desktop viewer, its SDL-free parts as libraries, and their tests.
#   sispview_base  viewport math, the FILE.info sidecar parser, capped file reads, the
#                  preview's box filter (pure)
#   sispview       gallery (directory scan and sort), inotify watcher, decode worker
#   sispview_sdl   textures and tiling, overlay text, the application core (SDL)
#   sisp-view      the command line and SDL start-up
find_package(Threads REQUIRED)
pkg_check_modules(SISPVIEW_SDL2 REQUIRED IMPORTED_TARGET sdl2)
# SDL2's own 8x8 font (SDLTest_DrawString) comes from libSDL2_test.a in libsdl2-dev, so the
# overlay needs neither a font file nor another package.
find_library(SISPVIEW_SDL2_TEST NAMES SDL2_test REQUIRED)

add_library(sispview_base STATIC src/viewport.c src/info.c src/readfile.c src/downscale.c)
target_include_directories(sispview_base PUBLIC include)
target_link_libraries(sispview_base PUBLIC sisp PRIVATE sisp_warnings m)

add_library(sispview STATIC src/gallery.c src/watch.c src/loader.c)
target_link_libraries(sispview PUBLIC sispview_base sispdecode Threads::Threads
                      PRIVATE sisp_warnings)

add_library(sispview_sdl STATIC src/font.c src/tiles.c src/view.c)
target_include_directories(sispview_sdl PRIVATE src)
target_link_libraries(sispview_sdl PUBLIC sispview PkgConfig::SISPVIEW_SDL2
                      PRIVATE ${SISPVIEW_SDL2_TEST} sisp_warnings m)

add_executable(sisp-view src/main.c)
target_link_libraries(sisp-view PRIVATE sispview_sdl sisp_warnings)

# ---- tests (ctest -R 'viewport|view') ----
# Test images are written with libpng at run time (testsupport/), so no binary fixtures.
pkg_check_modules(SISPVIEW_PNG REQUIRED IMPORTED_TARGET libpng)
add_library(sispview_testsupport STATIC testsupport/view_fixture.c)
target_include_directories(sispview_testsupport PUBLIC testsupport)
target_link_libraries(sispview_testsupport PUBLIC PkgConfig::SISPVIEW_PNG PRIVATE sisp_warnings)

function(sispview_test name)
  add_executable(${name} ${PROJECT_SOURCE_DIR}/tests/${name}.c)
  target_link_libraries(${name} PRIVATE sisp_testutil sisp_warnings ${ARGN})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endfunction()

sispview_test(test_viewport sispview_base)
sispview_test(test_view_downscale sispview_base)
sispview_test(test_view_info sispview_base sispview_testsupport)
sispview_test(test_view_gallery sispview sispview_testsupport)
# Offscreen: SDL's dummy video driver and a software renderer on a surface.
sispview_test(test_view_render sispview_sdl sispview_testsupport)
set_tests_properties(test_view_render PROPERTIES ENVIRONMENT "SDL_VIDEODRIVER=dummy")

# The real binary: without a display (must exit 1 with one clear line), and under Xvfb
# when it is installed (skipped otherwise: Debian packages xvfb).
add_executable(test_view_xvfb ${PROJECT_SOURCE_DIR}/tests/test_view_xvfb.c)
target_link_libraries(test_view_xvfb PRIVATE sisp_testutil sispview_testsupport
                      PkgConfig::SISPVIEW_SDL2 sisp_warnings)
add_test(NAME test_view_nodisplay COMMAND test_view_xvfb nodisplay $<TARGET_FILE:sisp-view>)
add_test(NAME test_view_xvfb COMMAND test_view_xvfb xvfb $<TARGET_FILE:sisp-view>)
add_test(NAME test_view_xvfb_watch COMMAND test_view_xvfb watch $<TARGET_FILE:sisp-view>)
# Under ASan, libdbus's one-time allocations (SDL's D-Bus connection) are suppressed.
set_tests_properties(test_view_nodisplay test_view_xvfb test_view_xvfb_watch PROPERTIES
  TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan_view.supp:print_suppressions=0")
