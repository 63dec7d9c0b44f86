# wolfSSL for every sisp binary, as the target `sisp_wolfssl`.
#
# SISP_WOLFSSL=accelerated (the default on x86-64): scripts/wolfssl-build.sh builds Debian's own
# source package of the installed libwolfssl-dev version, with Debian's patches and options plus
# the x86-64 assembly (AES-NI, AVX2, SP math), once into SISP_WOLFSSL_PREFIX; it is linked
# statically, so it never meets the system's libwolfssl.so at run time (same SONAME, different
# ABI). Where that cannot be done, one line says why and the system library is used.
# SISP_WOLFSSL=system: Debian's libwolfssl (no assembly), through pkg-config.
set(SISP_WOLFSSL "accelerated" CACHE STRING "wolfSSL build: accelerated or system")
set_property(CACHE SISP_WOLFSSL PROPERTY STRINGS accelerated system)
set(SISP_WOLFSSL_PREFIX "${CMAKE_BINARY_DIR}/wolfssl" CACHE PATH
    "Where the accelerated wolfSSL is built and kept (shared by build trees that name it)")
if(NOT SISP_WOLFSSL MATCHES "^(accelerated|system)$")
  message(FATAL_ERROR "SISP_WOLFSSL must be accelerated or system, not '${SISP_WOLFSSL}'")
endif()

find_package(Threads REQUIRED)
add_library(sisp_wolfssl INTERFACE)
set(SISP_WOLFSSL_IN_USE system)

if(SISP_WOLFSSL STREQUAL "accelerated")
  if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(_why "the CPU is ${CMAKE_SYSTEM_PROCESSOR}, not x86-64")
  else()
    execute_process(
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/wolfssl-build.sh ${SISP_WOLFSSL_PREFIX}
      RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err
      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_STRIP_TRAILING_WHITESPACE)
    if(_rc EQUAL 0)
      set(SISP_WOLFSSL_IN_USE accelerated)
      message(STATUS "${_out}")
    else()
      string(REGEX REPLACE ".*\n" "" _why "${_err}")
      string(REGEX REPLACE "^wolfssl-build: " "" _why "${_why}")
      if(_why STREQUAL "")
        set(_why "scripts/wolfssl-build.sh exited with ${_rc}")
      endif()
    endif()
  endif()
  if(NOT SISP_WOLFSSL_IN_USE STREQUAL "accelerated")
    message(NOTICE "sisp: wolfSSL with assembly not available (${_why}); "
                   "using the system libwolfssl, without assembly")
  endif()
endif()

if(SISP_WOLFSSL_IN_USE STREQUAL "accelerated")
  add_library(sisp_wolfssl_static STATIC IMPORTED)
  set_target_properties(sisp_wolfssl_static PROPERTIES
    IMPORTED_LOCATION ${SISP_WOLFSSL_PREFIX}/lib/libwolfssl.a
    INTERFACE_INCLUDE_DIRECTORIES ${SISP_WOLFSSL_PREFIX}/include)
  target_link_libraries(sisp_wolfssl INTERFACE sisp_wolfssl_static m Threads::Threads
                        ${CMAKE_DL_LIBS})
  # The sources check this against the options.h they compile with (protocol/src/crypto.c).
  target_compile_definitions(sisp_wolfssl INTERFACE SISP_WOLFSSL_ACCELERATED=1)
else()
  pkg_check_modules(WOLFSSL REQUIRED IMPORTED_TARGET wolfssl)
  target_link_libraries(sisp_wolfssl INTERFACE PkgConfig::WOLFSSL)
endif()
message(STATUS "sisp: wolfSSL: ${SISP_WOLFSSL_IN_USE}")
