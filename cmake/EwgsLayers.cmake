# One static library per layer (docs/ARCHITECTURE.md), each seeing only the headers of
# the layers it may use: a header that reaches upward is "file not found" at build time.
#
# ewgs_add_layer(<layer> SOURCES file... [DEPENDS lower-layer...] [NO_TORCH]
#                [PUBLIC_LIBS target...] [PRIVATE_LIBS target...])
# builds ewgs_<layer> (exported as ewgs::<layer>) from src/ewgs/<layer>/. Its include
# roots are folders of links made here: layers/<layer>/include holds ewgs/<l> ->
# include/ewgs/<l> for the layer and every layer below it that it may use (directly or
# through another), and layers/<layer>/internal the same links to src/ewgs/<l>, where
# headers that are not installed live.

set(EWGS_LAYER_ROOT ${PROJECT_BINARY_DIR}/layers)

# Links ewgs/<l> -> <from>/ewgs/<l> in <root> for each <l> of `layers` that has a folder.
function(_ewgs_link_layer_folders root from layers)
  foreach(l IN LISTS layers)
    if(IS_DIRECTORY ${from}/ewgs/${l})
      file(MAKE_DIRECTORY ${root}/ewgs)
      file(CREATE_LINK ${from}/ewgs/${l} ${root}/ewgs/${l} SYMBOLIC)
    endif()
  endforeach()
endfunction()

function(ewgs_add_layer layer)
  cmake_parse_arguments(ARG "NO_TORCH" "" "SOURCES;DEPENDS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  set(target ewgs_${layer})
  list(TRANSFORM ARG_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/src/ewgs/${layer}/)
  add_library(${target} STATIC ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer})
  # Public headers use C++17: programs that link a layer compile as C++17 at least.
  target_compile_features(${target} PUBLIC cxx_std_17)

  set(visible ${layer})
  foreach(dep IN LISTS ARG_DEPENDS)
    if(NOT TARGET ewgs_${dep})
      message(FATAL_ERROR "layer ${layer} depends on ${dep}, which is not defined before it")
    endif()
    get_property(dep_visible GLOBAL PROPERTY EWGS_LAYER_VISIBLE_${dep})
    list(APPEND visible ${dep_visible})
    target_link_libraries(${target} PUBLIC ewgs_${dep})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_property(GLOBAL PROPERTY EWGS_LAYER_VISIBLE_${layer} ${visible})

  set(root ${EWGS_LAYER_ROOT}/${layer})
  file(REMOVE_RECURSE ${root})
  _ewgs_link_layer_folders(${root}/include ${PROJECT_SOURCE_DIR}/include "${visible}")
  _ewgs_link_layer_folders(${root}/internal ${PROJECT_SOURCE_DIR}/src "${visible}")
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${root}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${root}/internal)

  if(NOT ARG_NO_TORCH)
    target_link_libraries(${target} PUBLIC $<BUILD_INTERFACE:ewgs_torch> $<INSTALL_INTERFACE:ewgs::torch>)
    # One precompiled LibTorch header, made by core, serves every layer.
    if(layer STREQUAL "core")
      target_precompile_headers(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src/ewgs/pch.h)
    else()
      target_precompile_headers(${target} REUSE_FROM ewgs_core)
    endif()
  endif()
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  ewgs_set_warnings(${target})
  set_property(GLOBAL APPEND PROPERTY EWGS_LAYERS ${layer})
endfunction()

# ewgs_internal_headers: every layer's headers, installed or not, for the programs and
# tests of this tree (the CLI, tests, fuzz targets, benchmarks). Not exported.
function(ewgs_add_internal_headers_target)
  get_property(layers GLOBAL PROPERTY EWGS_LAYERS)
  set(root ${EWGS_LAYER_ROOT}/all)
  file(REMOVE_RECURSE ${root})
  _ewgs_link_layer_folders(${root}/include ${PROJECT_SOURCE_DIR}/include "${layers}")
  _ewgs_link_layer_folders(${root}/internal ${PROJECT_SOURCE_DIR}/src "${layers}")
  add_library(ewgs_internal_headers INTERFACE)
  target_include_directories(ewgs_internal_headers INTERFACE ${root}/include ${root}/internal)
endfunction()
