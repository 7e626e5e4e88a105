# CTest check: no file of the core layer includes a LibTorch header or a torch-layer header, and no torch-layer file
# includes a header of a folder above its own (cmake/layers.cmake's ELECTRA_TORCH_ORDER).
#   cmake -DROOT=<source dir> -P cmake/check_layers.cmake
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_layers.cmake")
endif()
get_filename_component(ROOT "${ROOT}" ABSOLUTE)
include("${CMAKE_CURRENT_LIST_DIR}/layers.cmake")
electra_check_layers("${ROOT}")
list(JOIN ELECTRA_TORCH_ORDER " < " chain)
message(STATUS "layering: the core layer includes no LibTorch or torch-layer header; the torch layer keeps ${chain}")
