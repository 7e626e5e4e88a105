# CTest check: no file of the core layer includes a LibTorch header or a torch-layer header.
#   cmake -DROOT=<source dir> -P cmake/check_layers.cmake
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_layers.cmake")
endif()
get_filename_component(ROOT "${ROOT}" ABSOLUTE)
include("${CMAKE_CURRENT_LIST_DIR}/layers.cmake")
electra_layer_violations("${ROOT}" violations)
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "the core layer (${ELECTRA_CORE_DIRS}) must not reach into the torch layer:\n  ${text}")
endif()
message(STATUS "layering: the core layer includes no LibTorch or torch-layer header")
