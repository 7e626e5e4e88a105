# libFuzzer targets for every parser of outside input (docs/testing.md, fuzzing): cmake -S . -B build-fuzz -G Ninja
# -DELECTRA_FUZZ=ON with CC=clang CXX=clang++, then `make fuzz SECONDS=N`. Off by default; the normal build is
# unchanged. LibTorch itself is not instrumented, only our sources.
option(ELECTRA_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)
if(NOT ELECTRA_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "ELECTRA_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++")
endif()

set(ELECTRA_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
# The libraries get coverage instrumentation without libFuzzer's main; the targets link libFuzzer.
target_compile_options(electra_core PRIVATE -fsanitize=fuzzer-no-link ${ELECTRA_FUZZ_SANITIZERS})
target_link_options(electra_core INTERFACE -fsanitize=address,undefined)

# The torch-layer parsers, compiled on their own (the rest of the torch layer is not needed here).
add_library(electra_fuzz_text STATIC model/config.cpp model/family.cpp train/options.cpp)
target_link_libraries(electra_fuzz_text PUBLIC electra_core)
add_library(electra_fuzz_weights STATIC model/tensor_io.cpp model/tensor_io_file.cpp model/torch_bin.cpp
  model/torch_bin_pickle.cpp model/torch_bin_zip.cpp)
target_link_libraries(electra_fuzz_weights PUBLIC electra_core ${TORCH_LIBRARIES})
add_library(electra_fuzz_support STATIC fuzz/fuzz_support.cpp fuzz/task_target.cpp)
target_link_libraries(electra_fuzz_support PUBLIC electra_core)
foreach(lib electra_fuzz_text electra_fuzz_weights electra_fuzz_support)
  target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link ${ELECTRA_FUZZ_SANITIZERS})
endforeach()

# One executable per fuzz/<name>.cpp: fuzz_<name>.
set(ELECTRA_FUZZ_WEIGHT_TARGETS safetensors pytorch_bin pickle)
set(ELECTRA_FUZZ_TEXT_TARGETS config_json experiment_yaml)
file(GLOB FUZZ_SOURCES CONFIGURE_DEPENDS fuzz/*.cpp)
list(REMOVE_ITEM FUZZ_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_support.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/task_target.cpp)
set(ELECTRA_FUZZ_TARGETS "")
foreach(src ${FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(fuzz_${name} ${src})
  target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer ${ELECTRA_FUZZ_SANITIZERS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_${name} PRIVATE electra_fuzz_support)
  if(name IN_LIST ELECTRA_FUZZ_WEIGHT_TARGETS)
    target_link_libraries(fuzz_${name} PRIVATE electra_fuzz_weights)
  elseif(name IN_LIST ELECTRA_FUZZ_TEXT_TARGETS)
    target_link_libraries(fuzz_${name} PRIVATE electra_fuzz_text)
  else()
    target_link_libraries(fuzz_${name} PRIVATE electra_core)
  endif()
  list(APPEND ELECTRA_FUZZ_TARGETS fuzz_${name})
endforeach()
add_custom_target(fuzz_targets DEPENDS ${ELECTRA_FUZZ_TARGETS})
