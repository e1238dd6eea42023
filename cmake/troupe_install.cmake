include_guard(GLOBAL)

# What `cmake --install <build> [--prefix <dir>]` puts in place, for other
# CMake projects to use with find_package(troupe):
#
#   lib/libtroupe_<component>.a          every component (core, sim, codec,
#                                        net, cluster, cluster_testing)
#   include/troupe/...                   the public headers (no internal/;
#                                        of the testing/ folders, only the
#                                        simulated-cluster kit)
#   lib/cmake/troupe/troupeConfig.cmake  the package config: imported targets
#                                        troupe::<component>, and troupe::troupe
#                                        (all of them)
#   bin/troupe                           the command-line program
#
# Call troupe_install() once every component is defined.

include(CMakePackageConfigHelpers)

function(troupe_install)
  get_property(targets GLOBAL PROPERTY TROUPE_INSTALLED_TARGETS)

  # troupe::troupe: every component, the simulated-cluster kit included.
  add_library(troupe_everything INTERFACE)
  add_library(troupe::troupe ALIAS troupe_everything)
  set_target_properties(troupe_everything PROPERTIES EXPORT_NAME troupe)
  target_link_libraries(troupe_everything INTERFACE ${targets})

  set(extra)
  set(troupe_config_protobuf OFF)
  if(TARGET troupe_codec_protobuf)
    set_target_properties(troupe_codec_protobuf PROPERTIES EXPORT_NAME codec_protobuf)
    list(APPEND extra troupe_codec_protobuf)
    set(troupe_config_protobuf ON)
  endif()

  install(TARGETS ${targets} troupe_everything ${extra}
    EXPORT troupeTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

  install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/troupe
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.hpp"
    PATTERN "internal" EXCLUDE
    PATTERN "testing" EXCLUDE)
  install(FILES ${PROJECT_SOURCE_DIR}/src/troupe/cluster/testing/sim_cluster.hpp
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/troupe/cluster/testing)

  set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
  install(EXPORT troupeTargets NAMESPACE troupe:: DESTINATION ${cmake_dir})
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/troupeConfig.cmake.in
    ${PROJECT_BINARY_DIR}/troupeConfig.cmake
    INSTALL_DESTINATION ${cmake_dir})
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/troupeConfig.cmake
                ${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake
    DESTINATION ${cmake_dir})
endfunction()
