# The two layers of electra and the rules between and inside them.
#   core  (common, tokenizer, tasks, metrics, hub, leaderboard, corpus): text, files and numbers; no LibTorch header.
#   torch (model, heads, architectures, dist, train, pretrain): tensors; may include everything below it.
# Inside the torch layer the folders are ordered, each on top of the ones before it (ELECTRA_TORCH_ORDER):
#   model (config, encoder, weight files) < heads < architectures (the ElectraFor* classes, Predictor) < dist
#   < train < pretrain < cli; a file includes headers of its own folder and of folders before it, never after.
# A file's layer is what it includes, itself or through the project headers it includes: a LibTorch header
# (<torch/...>, <ATen/...>, <c10/...>, <caffe2/...>) or a header of a torch-layer folder makes it a torch-layer file.
# Used at configure time (tests and benchmarks sorted by the library they link, the layering check) and by
# check_layers.cmake (the CTest check).

set(ELECTRA_CORE_DIRS common tokenizer tasks metrics hub leaderboard corpus)
set(ELECTRA_TORCH_DIRS model heads architectures train dist pretrain)
set(ELECTRA_TORCH_ORDER model heads architectures dist train pretrain cli)

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
    elseif(line MATCHES "\"((model|heads|architectures|train|dist|pretrain|cli)/[^\"]*)\"")
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

# Every file of a torch-layer folder (or cli/) that includes a header of a folder after its own in
# ELECTRA_TORCH_ORDER, one "file: include" line each, into `out`.
function(electra_order_violations root out)
  set(violations "")
  list(JOIN ELECTRA_TORCH_ORDER "|" alternatives)
  foreach(dir IN LISTS ELECTRA_TORCH_ORDER)
    list(FIND ELECTRA_TORCH_ORDER ${dir} rank)
    file(GLOB files "${root}/${dir}/*.cpp" "${root}/${dir}/*.h" "${root}/${dir}/*.inc")
    foreach(f IN LISTS files)
      file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
      foreach(line IN LISTS lines)
        if(line MATCHES "\"((${alternatives})/[^\"]*)\"")
          set(header "${CMAKE_MATCH_1}")
          list(FIND ELECTRA_TORCH_ORDER ${CMAKE_MATCH_2} header_rank)
          if(header_rank GREATER rank)
            file(RELATIVE_PATH rel "${root}" "${f}")
            list(APPEND violations "${rel}: \"${header}\"")
          endif()
        endif()
      endforeach()
    endforeach()
  endforeach()
  set(${out} "${violations}" PARENT_SCOPE)
endfunction()

# Fails (FATAL_ERROR) naming every file of the tree at `root` that breaks a rule above: a core file reaching into
# the torch layer, a torch-layer file including a folder after its own.
function(electra_check_layers root)
  electra_layer_violations("${root}" core)
  electra_order_violations("${root}" order)
  set(text "")
  if(core)
    list(JOIN core "\n  " lines)
    string(APPEND text "the core layer (${ELECTRA_CORE_DIRS}) must not reach into the torch layer:\n  ${lines}\n")
  endif()
  if(order)
    list(JOIN order "\n  " lines)
    list(JOIN ELECTRA_TORCH_ORDER " < " chain)
    string(APPEND text "a torch-layer file must not include a folder above its own (${chain}):\n  ${lines}\n")
  endif()
  if(text)
    message(FATAL_ERROR "${text}")
  endif()
endfunction()
