# CTest check: no library or command source calls std::filesystem's tree walkers. PyTorch wheels export their own
# copies of remove_all and the directory iterators from libtorch (pytorch/pytorch#133437); with the LibTorch 2.x
# world linked, a call can land there and crash (remove_all did, in pretrain/model.cpp). common/files.h has
# remove_tree, list_files_recursive and list_directory on POSIX calls instead.
#   cmake -DROOT=<source dir> -P cmake/check_fs_calls.cmake
cmake_minimum_required(VERSION 3.18)
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_fs_calls.cmake")
endif()
set(found "")
foreach(dir common tokenizer tasks metrics hub leaderboard corpus model heads architectures train dist pretrain cli)
  file(GLOB_RECURSE files "${ROOT}/${dir}/*.cpp" "${ROOT}/${dir}/*.h")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "(remove_all|recursive_directory_iterator|[^_]directory_iterator)[ ]*[({]")
    foreach(line IN LISTS lines)
      file(RELATIVE_PATH rel "${ROOT}" "${f}")
      string(REPLACE ";" "" line "${line}")
      string(STRIP "${line}" line)
      list(APPEND found "${rel}: ${line}")
    endforeach()
  endforeach()
endforeach()
if(found)
  list(JOIN found "\n  " text)
  message(FATAL_ERROR "std::filesystem tree walkers (use common/files.h: remove_tree, list_files_recursive, list_directory):\n  ${text}")
endif()
message(STATUS "fs_calls: no std::filesystem tree walker in the libraries or commands")
