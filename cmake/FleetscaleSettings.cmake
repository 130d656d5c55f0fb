# One INTERFACE target carries the language standard, warnings and sanitizer flags.
# Every fleetscale target links it; nothing edits the global CMAKE_CXX_FLAGS.
add_library(fleetscale_settings INTERFACE)
add_library(fleetscale::settings ALIAS fleetscale_settings)

target_compile_features(fleetscale_settings INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)

target_compile_options(fleetscale_settings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(FLEETSCALE_WERROR)
  target_compile_options(fleetscale_settings INTERFACE -Werror)
endif()

if(FLEETSCALE_SANITIZE)
  target_compile_options(fleetscale_settings INTERFACE -fsanitize=address,undefined
    -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(fleetscale_settings INTERFACE -fsanitize=address,undefined)
endif()

# libFuzzer: every target gets its coverage instrumentation, so the fuzz targets (tests/fuzz,
# linked with -fsanitize=fuzzer) are real fuzzers; the rest links as usual (the sanitizer runtime
# has no-op coverage callbacks). The asan preset turns this on with FLEETSCALE_SANITIZE: one build
# for the unit tests and the fuzzers.
if(FLEETSCALE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FLEETSCALE_FUZZ needs clang (CXX=clang++)")
  endif()
  target_compile_options(fleetscale_settings INTERFACE -fsanitize=fuzzer-no-link)
endif()
