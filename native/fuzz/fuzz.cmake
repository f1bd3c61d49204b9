# Fuzz targets (native/fuzz/fuzz_*.cpp, libFuzzer entry points) and their replay tests. Included from
# native/CMakeLists.txt after the core library and the tests are defined.
#
# Always (with HYBRID_TESTS): one ctest per target, `fuzz_replay_<name>`, which runs the target's entry
# point (built with the regular compiler, no libFuzzer) on every input in test/fuzz-regressions/<name>/:
# each crash the fuzzers found stays a test, in the plain and in the ASan+UBSan build.
#
# HYBRID_FUZZ=ON (clang only; scripts/fuzz.mjs configures native/build-fuzz this way): the libFuzzer
# binaries `fuzz_<name>`, over a copy of the core built with coverage instrumentation, ASan and UBSan. Build only those targets: cmake --build … --target fuzz_gguf …
option(HYBRID_FUZZ "Build the libFuzzer targets of native/fuzz (needs clang)" OFF)

set(HYBRID_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
file(GLOB HYBRID_FUZZ_TARGET_SOURCES CONFIGURE_DEPENDS ${HYBRID_FUZZ_DIR}/fuzz_*.cpp)

if(HYBRID_TESTS)
  foreach(src ${HYBRID_FUZZ_TARGET_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" short ${name})
    add_executable(fuzz_replay_${short} ${src} ${HYBRID_FUZZ_DIR}/replay_main.cpp)
    target_link_libraries(fuzz_replay_${short} PRIVATE hybrid_core)
    target_include_directories(fuzz_replay_${short} PRIVATE ${HYBRID_FUZZ_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/tests)
    add_test(NAME fuzz_replay_${short}
             COMMAND fuzz_replay_${short} ${CMAKE_CURRENT_SOURCE_DIR}/../test/fuzz-regressions/${short}
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/..)
  endforeach()
endif()

if(HYBRID_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "HYBRID_FUZZ=ON needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++ "
                        "-DCMAKE_C_COMPILER=clang, or run `npm run fuzz`, which installs Debian's clang")
  endif()
  set(HYBRID_FUZZ_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
  # The whole core but core/system_info.cpp (clang 14 rejects its CPU feature names; the stub reads them
  # from /proc/cpuinfo) and the CUDA backend.
  file(GLOB_RECURSE HYBRID_FUZZ_CORE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  list(FILTER HYBRID_FUZZ_CORE_SOURCES EXCLUDE REGEX "/src/core/system_info\\.cpp$|/src/backend/cuda/")
  list(APPEND HYBRID_FUZZ_CORE_SOURCES ${HYBRID_FUZZ_DIR}/system_info_stub.cpp)
  add_library(hybrid_fuzz_core STATIC ${HYBRID_FUZZ_CORE_SOURCES})
  target_include_directories(hybrid_fuzz_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src ${CMAKE_CURRENT_BINARY_DIR}/generated)
  target_compile_options(hybrid_fuzz_core PRIVATE ${HYBRID_FUZZ_FLAGS} -fsanitize=fuzzer-no-link)
  # The numeric kernels keep ASan and edge coverage but not comparison tracing: in their inner loops it
  # took three quarters of the session target's time, and no branch there depends on input bytes.
  set(HYBRID_FUZZ_KERNELS ${HYBRID_FUZZ_CORE_SOURCES})
  list(FILTER HYBRID_FUZZ_KERNELS INCLUDE REGEX "/src/ops/|/src/formats/(dot_|quantize)|/src/backend/cpu/")
  set_source_files_properties(${HYBRID_FUZZ_KERNELS} TARGET_DIRECTORY hybrid_fuzz_core PROPERTIES
                              COMPILE_OPTIONS "-fno-sanitize-coverage=trace-cmp")
  target_link_libraries(hybrid_fuzz_core PUBLIC Threads::Threads)
  foreach(src ${HYBRID_FUZZ_TARGET_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_include_directories(${name} PRIVATE ${HYBRID_FUZZ_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/tests)
    target_compile_options(${name} PRIVATE ${HYBRID_FUZZ_FLAGS} -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE hybrid_fuzz_core)
  endforeach()
endif()
