# The two layers of electra and the rule between them.
#   core  (common, tokenizer, tasks, metrics, hub, leaderboard, corpus): text, files and numbers; no LibTorch header.
#   torch (model, heads, train, dist, pretrain): tensors; may include everything below it.
# A file's layer is what it includes, itself or through the project headers it includes: a LibTorch header
# (<torch/...>, <ATen/...>, <c10/...>, <caffe2/...>) or a header of a torch-layer folder makes it a torch-layer file.
# Used at configure time (tests and benchmarks sorted by the library they link, the layering check) and by
# check_layers.cmake (the CTest check).

set(ELECTRA_CORE_DIRS common tokenizer tasks metrics hub leaderboard corpus)
set(ELECTRA_TORCH_DIRS model heads train dist pretrain)

# Sets `out` to the first include of `file` (recursively through project headers under `root`) that needs the torch
# layer (a LibTorch header or a header of a torch-layer folder), as 'header (via "a.h")', or to "" when there is
# none.
function(electra_torch_include root file out)
  get_property(known GLOBAL PROPERTY "electra_layer:${file}" SET)
  if(known)
    get_property(value GLOBAL PROPERTY "electra_layer:${file}")
    set(${out} "${value}" PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "electra_layer:${file}" "")  # guards include cycles
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include")
  set(found "")
  foreach(line IN LISTS lines)
    if(line MATCHES "<((torch|ATen|c10|caffe2)/[^>]*)>")
      set(found "<${CMAKE_MATCH_1}>")
    elseif(line MATCHES "\"((model|heads|train|dist|pretrain|cli)/[^\"]*)\"")
      set(found "\"${CMAKE_MATCH_1}\"")
    elseif(line MATCHES "\"([^\"]+)\"" AND EXISTS "${root}/${CMAKE_MATCH_1}")
      set(header "${CMAKE_MATCH_1}")
      electra_torch_include("${root}" "${root}/${header}" below)
      if(below)
        set(found "${below} (via \"${header}\")")
      endif()
    endif()
    if(found)
      break()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "electra_layer:${file}" "${found}")
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

# Every file of a core folder that reaches into the torch layer, one "file: include" line each, into `out`.
function(electra_layer_violations root out)
  set(violations "")
  foreach(dir IN LISTS ELECTRA_CORE_DIRS)
    file(GLOB files "${root}/${dir}/*.cpp" "${root}/${dir}/*.h" "${root}/${dir}/*.inc")
    foreach(f IN LISTS files)
      electra_torch_include("${root}" "${f}" inc)
      if(inc)
        file(RELATIVE_PATH rel "${root}" "${f}")
        list(APPEND violations "${rel}: ${inc}")
      endif()
    endforeach()
  endforeach()
  set(${out} "${violations}" PARENT_SCOPE)
endfunction()
