# ELECTRA_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer over every target of this project, and the
# tests run with the options and suppressions of tools/sanitizers/ (docs/testing.md). LibTorch and the other
# Debian libraries are not instrumented; their heap is still checked, since ASan replaces malloc for the process.
# `make test-sanitize` configures build-asan with it and runs ctest there. Included last from CMakeLists.txt, so it
# sees every target and test.
option(ELECTRA_SANITIZE "Instrument every target with ASan + UBSan (make test-sanitize)" OFF)
if(NOT ELECTRA_SANITIZE)
  return()
endif()

# -O1: the instrumented code is ours (the compute is LibTorch's), and -O1 compiles the torch layer in about half
# the time of -O3. Every UBSan report is fatal, as an ASan report is.
set(ELECTRA_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g1)
get_property(electra_targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
foreach(target IN LISTS electra_targets)
  get_target_property(type ${target} TYPE)
  if(type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
    target_compile_options(${target} PRIVATE ${ELECTRA_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endforeach()

set(dir ${CMAKE_CURRENT_SOURCE_DIR}/tools/sanitizers)
set(ELECTRA_SANITIZE_ENV
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:check_initialization_order=1"
  "LSAN_OPTIONS=suppressions=${dir}/lsan.supp:print_suppressions=0"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=${dir}/ubsan.supp")
get_property(electra_tests DIRECTORY PROPERTY TESTS)
foreach(test IN LISTS electra_tests)
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT ${ELECTRA_SANITIZE_ENV})
endforeach()
message(STATUS "electra: ASan + UBSan build (tests run with ${dir}/*.supp)")
