# `cmake --install`: the public headers (include/ and the generated version.h), the
# libraries, and a relocatable CMake package (ewgsConfig.cmake, ewgsConfigVersion.cmake,
# ewgsTargets.cmake) that find_package(ewgs) reads. The package's dependencies are found
# again on the consumer's side (cmake/ewgsConfig.cmake.in), LibTorch first.
include(CMakePackageConfigHelpers)

set(EWGS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ewgs)
get_property(_ewgs_layers GLOBAL PROPERTY EWGS_LAYERS)
list(TRANSFORM _ewgs_layers PREPEND ewgs_ OUTPUT_VARIABLE _ewgs_layer_targets)

install(TARGETS ewgs ${_ewgs_layer_targets} EXPORT ewgsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ewgs DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/ewgs/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ewgs)
install(EXPORT ewgsTargets NAMESPACE ewgs:: DESTINATION ${EWGS_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ewgsConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ewgsConfig.cmake INSTALL_DESTINATION ${EWGS_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ewgsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ewgsConfig.cmake ${PROJECT_BINARY_DIR}/ewgsConfigVersion.cmake
  DESTINATION ${EWGS_INSTALL_CMAKEDIR})
if(EWGS_BUILD_CLI)
  install(TARGETS ewgs_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
