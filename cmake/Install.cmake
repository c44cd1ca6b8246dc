# Installation: public headers, the module libraries, a CMake package
# (find_package(corodb) gives corodb::corodb) and a pkg-config file corodb.pc.
include(CMakePackageConfigHelpers)

get_property(corodb_modules GLOBAL PROPERTY CORODB_MODULES)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/corodb DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS corodb ${corodb_modules} corodb_snappy
        EXPORT corodbTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT corodbTargets NAMESPACE corodb:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/corodb)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/corodbConfig.cmake.in
  ${PROJECT_BINARY_DIR}/corodbConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/corodb)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/corodbConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/corodbConfig.cmake ${PROJECT_BINARY_DIR}/corodbConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/corodb)

# pkg-config: static module libraries, dependents before dependencies.
set(CORODB_PC_LIBS "")
foreach(m IN LISTS corodb_modules)
  string(REPLACE "corodb_" "" short ${m})
  set(CORODB_PC_LIBS "-lcorodb_${short} ${CORODB_PC_LIBS}")
endforeach()
# Relocatable: the prefix is found from the .pc file's own location, so
# `cmake --install --prefix X` yields a correct file for any X.
file(RELATIVE_PATH CORODB_PC_PREFIX_FROM_PCDIR "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
configure_file(${PROJECT_SOURCE_DIR}/cmake/corodb.pc.in ${PROJECT_BINARY_DIR}/corodb.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/corodb.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
